# The smallest useful fleet: 1 master and 2 workers in the default VPC.
#   terraform init && terraform apply -var run_id=try-1 -var ami_id=ami-...
# (or -var ami_manifest_path=../../../packer/manifest.json)

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
    tags = { Project = "surge", Example = "minimal" }
  }
}

variable "region" {
  type        = string
  description = "AWS region of the fleet and bucket."
  default     = "us-east-1"
}

variable "run_id" {
  type        = string
  description = "Identifier of this run (results under runs/<run_id>/)."
}

variable "ami_id" {
  type        = string
  description = "The surge AMI; null = the newest image named surge-* in this account."
  default     = null
}

variable "schedule_file" {
  type        = string
  description = "Local schedule to upload before the instances boot; null = push it yourself."
  default     = null
}

module "fleet" {
  source = "../.."

  run_id               = var.run_id
  schedule_key         = "schedules/minimal.yaml"
  schedule_file        = var.schedule_file
  ami_id               = var.ami_id
  worker_count         = 2
  bucket_force_destroy = true
  tags                 = { Owner = "load-testing" }
}

output "fleet" {
  description = "Everything the module reports: addresses, commands, bucket, run prefix."
  value       = module.fleet
}
