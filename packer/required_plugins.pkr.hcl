# Plugin requirements for Packer >= 1.7 (`packer init packer/` installs them).
# Kept in a file of its own: Packer 1.6 (Debian's, amazon builder built in) rejects
# this block, so scripts/lint-packer.sh validates surge.pkr.hcl alone with it.
packer {
  required_version = ">= 1.6.6"
  required_plugins {
    amazon = {
      version = ">= 1.2.0, < 2.0.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}
