# One master and N workers as counted aws_instance resources (README explains why
# not an auto scaling group: a replaced instance must not join a running test).

# --- AMI: ami_id, else Packer's manifest, else the newest image matching the name/tags.

locals {
  manifest = var.ami_id == null && var.ami_manifest_path != null ? jsondecode(file(var.ami_manifest_path)) : null
  # Packer appends one entry per build; the last run's entry holds "region:ami-id[,region:ami-id...]".
  manifest_builds = local.manifest == null ? [] : [
    for build in local.manifest.builds : build if build.packer_run_uuid == local.manifest.last_run_uuid
  ]
  manifest_amis = length(local.manifest_builds) == 0 ? {} : {
    for artifact in split(",", local.manifest_builds[length(local.manifest_builds) - 1].artifact_id) :
    split(":", artifact)[0] => split(":", artifact)[1]
  }
  ami_id = coalesce(
    var.ami_id,
    lookup(local.manifest_amis, local.region, null),
    try(data.aws_ami.surge[0].id, null),
    "none",
  )
}

data "aws_ami" "surge" {
  count = var.ami_id == null && var.ami_manifest_path == null ? 1 : 0

  most_recent = true
  owners      = var.ami_owners

  filter {
    name   = "name"
    values = [var.ami_name_filter]
  }

  dynamic "filter" {
    for_each = var.ami_tags
    content {
      name   = "tag:${filter.key}"
      values = [filter.value]
    }
  }
}

# --- Sizing: workers = ceil(target_rps x (1 + headroom) / (rps_per_vcpu x vCPUs per worker)).

data "aws_ec2_instance_type" "worker" {
  count         = var.worker_count == null ? 1 : 0
  instance_type = var.worker_instance_type
}

locals {
  worker_vcpus          = var.worker_count == null ? data.aws_ec2_instance_type.worker[0].default_vcpus : null
  worker_capacity_rps   = var.worker_count == null ? var.rps_per_vcpu * local.worker_vcpus : null
  planned_capacity_rps  = var.target_rps == null ? null : var.target_rps * (1 + var.sizing_headroom)
  sized_worker_count    = var.worker_count == null ? max(1, ceil(coalesce(local.planned_capacity_rps, 0) / local.worker_capacity_rps)) : null
  worker_count          = coalesce(var.worker_count, local.sized_worker_count)
  worker_shutdown       = var.worker_spot ? "terminate" : "stop"
  instance_subnet_count = length(local.subnet_ids)
}

# --- User data: the agent's settings, then the boot script baked into the AMI.

locals {
  agent_settings = {
    bucket           = local.bucket_name
    schedule_key     = var.schedule_key
    run_id           = var.run_id
    region           = local.region
    worker_processes = var.worker_processes
    poweroff         = var.poweroff_when_done
  }
  # The master's UI and /metrics listen on loopback (SSM port forward) unless a network
  # was named; only the password's parameter NAME goes into user data, never the password.
  master_user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", merge(local.agent_settings, {
    role                  = "master"
    master_host           = ""
    instance_type         = var.master_instance_type # in the manifest, so the report prices the fleet
    web_host              = length(var.operator_cidrs) > 0 ? "0.0.0.0" : "127.0.0.1"
    metrics_host          = length(var.metrics_cidrs) > 0 ? "0.0.0.0" : "127.0.0.1"
    ui_password_parameter = coalesce(var.ui_password_parameter, "none")
  }))
}

resource "aws_instance" "master" {
  # checkov:skip=CKV_AWS_88:Public IPv4 only for egress from public subnets (default VPC); no ingress from anywhere is opened. Set associate_public_ip = false in private subnets.
  ami                                  = local.ami_id
  instance_type                        = var.master_instance_type
  subnet_id                            = local.subnet_ids[0]
  vpc_security_group_ids               = [aws_security_group.master.id]
  iam_instance_profile                 = aws_iam_instance_profile.agent["master"].name
  associate_public_ip_address          = var.associate_public_ip
  ebs_optimized                        = true
  monitoring                           = var.detailed_monitoring
  instance_initiated_shutdown_behavior = "stop"
  user_data                            = local.master_user_data
  user_data_replace_on_change          = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    encrypted             = true
    delete_on_termination = true
    tags                  = merge(local.common_tags, { Name = "${local.base_name}-master", "surge:role" = "master" })
  }

  tags = merge(local.common_tags, { Name = "${local.base_name}-master", "surge:role" = "master" })

  # The schedule must be in S3 before any agent boots and reads it.
  depends_on = [aws_s3_object.schedule, aws_iam_role_policy.agent]

  lifecycle {
    precondition {
      condition     = local.ami_id != "none"
      error_message = "No surge AMI: set ami_id, point ami_manifest_path at packer/manifest.json (with a build for this region), or build one matching ami_name_filter."
    }
  }
}

resource "aws_instance" "worker" {
  # checkov:skip=CKV_AWS_88:Public IPv4 only for egress to the target from public subnets (default VPC); workers have no ingress rules at all.
  count = local.worker_count

  ami                                  = local.ami_id
  instance_type                        = var.worker_instance_type
  subnet_id                            = local.subnet_ids[count.index % local.instance_subnet_count]
  vpc_security_group_ids               = [aws_security_group.worker.id]
  iam_instance_profile                 = aws_iam_instance_profile.agent["worker"].name
  associate_public_ip_address          = var.associate_public_ip
  ebs_optimized                        = true
  monitoring                           = var.detailed_monitoring
  instance_initiated_shutdown_behavior = local.worker_shutdown
  user_data_replace_on_change          = true
  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", merge(local.agent_settings, {
    role                  = "worker"
    master_host           = aws_instance.master.private_ip
    instance_type         = var.worker_instance_type
    web_host              = ""
    metrics_host          = ""
    ui_password_parameter = "none"
  }))

  dynamic "instance_market_options" {
    for_each = var.worker_spot ? [true] : []
    content {
      market_type = "spot"
      spot_options {
        spot_instance_type             = "one-time"
        instance_interruption_behavior = "terminate"
        max_price                      = var.spot_max_price
      }
    }
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    encrypted             = true
    delete_on_termination = true
    tags                  = merge(local.common_tags, { Name = "${local.base_name}-worker-${count.index}", "surge:role" = "worker" })
  }

  tags = merge(local.common_tags, { Name = "${local.base_name}-worker-${count.index}", "surge:role" = "worker" })

  depends_on = [aws_s3_object.schedule, aws_iam_role_policy.agent]
}
