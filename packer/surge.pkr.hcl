# The surge AMI: Debian 12 with surge in /opt/surge/venv, the agent's systemd unit, the
# boot script, load-generator tuning and Amazon Time Sync. Build with packer/build.sh
# (it builds the wheel and stages it); see packer/README.md. The plugin requirement lives
# in required_plugins.pkr.hcl so that Packer 1.6 (amazon builder built in) can validate
# this file alone.

variable "region" {
  type        = string
  description = "AWS region the AMI is built in (and registered in)."
  default     = "eu-central-1"
}

variable "ami_regions" {
  type        = list(string)
  description = "Further regions to copy the finished AMI to."
  default     = []
}

variable "instance_type" {
  type        = string
  description = "Instance type of the temporary build instance."
  default     = "c6i.large"
}

variable "subnet_id" {
  type        = string
  description = "Subnet for the build instance; empty uses the default VPC."
  default     = ""
}

variable "source_ami_name" {
  type        = string
  description = "Name filter of the base AMI (Debian 12 official images)."
  default     = "debian-12-amd64-*"
}

variable "source_ami_owner" {
  type        = string
  description = "Account that publishes the base AMI (136693071363: Debian's official account)."
  default     = "136693071363"
}

variable "surge_version" {
  type        = string
  description = "surge version baked in; build.sh sets it from the wheel."
  default     = "dev"
}

variable "stage_dir" {
  type        = string
  description = "Directory holding exactly one surge wheel and requirements.lock; empty means ../.cache/packer-stage."
  default     = ""
}

variable "apt_upgrade" {
  type        = bool
  description = "Apply Debian updates to the base image at bake time."
  default     = true
}

variable "volume_size_gb" {
  type        = number
  description = "Root volume size of the image in GiB."
  default     = 8
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for the AMI and its snapshots."
  default     = {}
}

locals {
  build_time = formatdate("YYYYMMDD-hhmmss", timestamp())
  # abspath: Packer 1.6's fileset() finds nothing under a relative "dir/../" path.
  repo_root    = abspath("${path.root}/..")
  instance_dir = "${local.repo_root}/provisioning/instance"
  stage_dir    = var.stage_dir != "" ? var.stage_dir : "${local.repo_root}/.cache/packer-stage"
  remote_stage = "/tmp/surge-stage"
  # One script per step, run in name order; validate.sh runs last.
  steps = [for name in sort(fileset(local.instance_dir, "[0-9][0-9]-*.sh")) : "${local.instance_dir}/${name}"]
  tags = merge(var.tags, {
    Name          = "surge-${var.surge_version}"
    surge_version = var.surge_version
    base_ami      = "{{ .SourceAMI }}"
    base_ami_name = "{{ .SourceAMIName }}"
  })
}

source "amazon-ebs" "surge" {
  region        = var.region
  ami_regions   = var.ami_regions
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  ssh_username  = "admin"

  source_ami_filter {
    filters = {
      name                = var.source_ami_name
      architecture        = "x86_64"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = [var.source_ami_owner]
    most_recent = true
  }

  ami_name        = "surge-${var.surge_version}-${local.build_time}"
  ami_description = "surge ${var.surge_version} load generator (Debian 12)"
  encrypt_boot    = true
  ena_support     = true
  imds_support    = "v2.0" # plugin >= 1.2: instances from this AMI get IMDSv2 (tokens) only
  tags            = local.tags
  snapshot_tags   = local.tags
  run_tags        = { Name = "packer-surge-build" }

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.volume_size_gb
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    delete_on_termination = true
  }
}

build {
  sources = ["source.amazon-ebs.surge"]

  provisioner "shell" {
    inline = ["mkdir -p ${local.remote_stage}/instance ${local.remote_stage}/dist"]
  }

  provisioner "file" {
    source      = "${local.instance_dir}/"
    destination = "${local.remote_stage}/instance"
  }

  # The wheel and its lock; generated = true: they exist only after build.sh ran.
  provisioner "file" {
    source      = "${local.stage_dir}/"
    destination = "${local.remote_stage}/dist"
    generated   = true
  }

  provisioner "shell" {
    scripts          = local.steps
    environment_vars = ["SURGE_STAGE=${local.remote_stage}", "SURGE_APT_UPGRADE=${var.apt_upgrade}"]
    execute_command  = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
  }

  provisioner "shell" {
    script           = "${local.instance_dir}/validate.sh"
    environment_vars = ["SURGE_STAGE=${local.remote_stage}"]
    execute_command  = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
  }

  post-processor "manifest" {
    output     = "${path.root}/manifest.json"
    strip_path = true
    custom_data = {
      surge_version = var.surge_version
      region        = var.region
    }
  }
}
