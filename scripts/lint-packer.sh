#!/usr/bin/env bash
# make lint: `packer fmt -check` and `packer validate` for packer/, offline.
# Packer 1.6 (Debian's) has the amazon builder built in but rejects the
# required_plugins block, so it validates surge.pkr.hcl alone; Packer >= 1.7 validates
# the whole directory (after `packer init packer/` installed the amazon plugin).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CHECKPOINT_DISABLE=1 # no version check against checkpoint.hashicorp.com

command -v packer >/dev/null || {
  echo "lint-packer: packer not installed (scripts/system-deps.sh installs it)" >&2
  exit 1
}
packer fmt -check -diff packer/

version="$(packer version | head -n 1 | sed -E 's/^Packer v([0-9]+)\.([0-9]+).*/\1 \2/')"
read -r major minor <<<"$version"
if [ "$major" -eq 1 ] && [ "$minor" -lt 7 ]; then
  packer validate packer/surge.pkr.hcl
else
  packer validate packer/
fi
echo "packer: fmt and validate ok"
