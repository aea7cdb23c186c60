# The module declares what it needs; the caller (an example or your own root module)
# configures the provider. Terraform >= 1.9: variable validations that
# refer to other variables (1.9) and mock_provider in the tests (1.7).
terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 6.0.0"
    }
  }
}
