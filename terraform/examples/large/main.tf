# A large fleet: 1 master and 50 spot workers, in your own VPC and subnets,
# writing to a long-lived bucket that outlives the fleet.

terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 6.0.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = "surge", Example = "large" }
  }
}

variable "region" {
  type        = string
  description = "AWS region of the fleet."
  default     = "us-east-1"
}

variable "run_id" {
  type        = string
  description = "Identifier of this run (results under runs/<run_id>/)."
}

variable "bucket_name" {
  type        = string
  description = "Existing bucket for schedules and results."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the fleet."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets (several AZs) with a route to the target, S3 and SSM."
}

variable "operator_cidrs" {
  type        = list(string)
  description = "Networks allowed to open the web UI (never 0.0.0.0/0); empty = SSM only."
  default     = []
}

variable "ui_password_parameter" {
  type        = string
  description = "SSM SecureString parameter with the UI's login password (needed with operator_cidrs)."
  default     = null
}

module "fleet" {
  source = "../.."

  run_id                = var.run_id
  schedule_key          = "schedules/black-friday.yaml"
  create_bucket         = false
  bucket_name           = var.bucket_name
  vpc_id                = var.vpc_id
  subnet_ids            = var.subnet_ids
  operator_cidrs        = var.operator_cidrs
  ui_password_parameter = var.ui_password_parameter
  ami_manifest_path     = "${path.root}/../../../packer/manifest.json"
  master_instance_type  = "c6i.xlarge"
  worker_instance_type  = "c6i.large"
  worker_count          = 50
  worker_spot           = true
  tags                  = { Owner = "load-testing" }
}

output "fleet" {
  description = "Everything the module reports: addresses, commands, bucket, run prefix."
  value       = module.fleet
}
