# Sizing rule, AMI selection, bucket options and outputs, against a mocked provider.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_vpc" {
    defaults = { id = "vpc-0default" }
  }
  mock_data "aws_subnets" {
    defaults = { ids = ["subnet-0a"] }
  }
  mock_data "aws_ami" {
    defaults = { id = "ami-0123456789abcdef0" }
  }
  mock_data "aws_ec2_instance_type" {
    defaults = { default_vcpus = 2 }
  }
  mock_resource "aws_instance" {
    defaults = { private_ip = "10.0.1.10", public_ip = "198.51.100.20" }
  }
}

variables {
  run_id       = "bf-2"
  schedule_key = "schedules/black-friday.yaml"
}

# 50,000 req/s x 1.5 headroom = 75,000 req/s; 2 vCPUs x 5,000 = 10,000 per worker -> 8.
run "sized_from_target_rps" {
  command = plan
  variables {
    target_rps = 50000
  }
  assert {
    condition     = length(aws_instance.worker) == 8 && output.sizing.planned_capacity_rps == 75000
    error_message = "50,000 req/s with 50 % headroom on 2-vCPU workers at 5,000 req/s/vCPU needs 8 workers"
  }
}

run "sizing_rounds_up" {
  command = plan
  variables {
    target_rps   = 20001
    rps_per_vcpu = 5000
  }
  assert {
    condition     = length(aws_instance.worker) == 4
    error_message = "a fraction of a worker rounds up"
  }
}

run "explicit_worker_count_wins" {
  command = plan
  variables {
    target_rps   = 1000000
    worker_count = 2
  }
  assert {
    condition     = length(aws_instance.worker) == 2 && length(data.aws_ec2_instance_type.worker) == 0
    error_message = "worker_count overrides the sizing rule"
  }
}

run "ami_from_packer_manifest" {
  command = plan
  variables {
    worker_count      = 1
    ami_manifest_path = "tests/fixtures/manifest.json"
  }
  assert {
    condition     = aws_instance.master.ami == "ami-0aaaaaaaaaaaaaaa2" && aws_instance.worker[0].ami == "ami-0aaaaaaaaaaaaaaa2"
    error_message = "the last Packer build's AMI for this region must be used"
  }
  assert {
    condition     = length(data.aws_ami.surge) == 0
    error_message = "no AMI lookup when the manifest names the AMI"
  }
}

# Explicit AMI and spot workers.
run "ami_id_wins_and_spot_workers" {
  command = plan
  variables {
    worker_count      = 2
    ami_id            = "ami-0fedcba9876543210"
    ami_manifest_path = "tests/fixtures/manifest.json"
    worker_spot       = true
  }
  assert {
    condition     = aws_instance.master.ami == "ami-0fedcba9876543210"
    error_message = "ami_id takes precedence"
  }
  assert {
    condition     = alltrue([for w in aws_instance.worker : w.instance_market_options[0].market_type == "spot" && w.instance_initiated_shutdown_behavior == "terminate"])
    error_message = "worker_spot must launch one-time spot workers that terminate on poweroff"
  }
  assert {
    condition     = length(aws_instance.master.instance_market_options) == 0
    error_message = "the master stays on-demand"
  }
}

run "created_bucket_is_private_encrypted_versioned_tls_only" {
  command = plan
  variables {
    worker_count            = 1
    results_expiration_days = 14
  }
  assert {
    condition     = aws_s3_bucket.this[0].bucket == "surge-123456789012-eu-west-1"
    error_message = "default bucket name is <prefix>-<account>-<region>"
  }
  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this[0].block_public_acls,
      aws_s3_bucket_public_access_block.this[0].block_public_policy,
      aws_s3_bucket_public_access_block.this[0].ignore_public_acls,
      aws_s3_bucket_public_access_block.this[0].restrict_public_buckets,
    ])
    error_message = "public access must be blocked"
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "the bucket must be encrypted (SSE-S3 by default)"
  }
  assert {
    condition     = aws_s3_bucket_versioning.this[0].versioning_configuration[0].status == "Enabled"
    error_message = "versioning must be on"
  }
  assert {
    condition     = [for r in aws_s3_bucket_lifecycle_configuration.this[0].rule : r.expiration[0].days if r.id == "expire-old-runs"] == [14]
    error_message = "old runs must expire after results_expiration_days"
  }
  assert {
    condition = anytrue([
      for s in jsondecode(aws_s3_bucket_policy.this[0].policy).Statement :
      s.Effect == "Deny" && s.Condition.Bool["aws:SecureTransport"] == "false"
    ])
    error_message = "the bucket policy must deny plain HTTP"
  }
}

run "existing_bucket_needs_a_name" {
  command = plan
  variables {
    worker_count  = 1
    create_bucket = false
  }
  expect_failures = [var.bucket_name]
}

# An existing bucket, the UI open to one network, and the commands the outputs print.
run "existing_bucket_and_outputs" {
  command = plan
  variables {
    worker_count          = 2
    create_bucket         = false
    bucket_name           = "shop-results"
    operator_cidrs        = ["203.0.113.7/32"]
    ui_password_parameter = "/surge/ui-password"
  }
  assert {
    condition     = length(aws_s3_bucket.this) == 0 && length(aws_s3_bucket_policy.this) == 0
    error_message = "no bucket resources when using an existing bucket"
  }
  assert {
    condition     = strcontains(aws_instance.worker[0].user_data, "SURGE_BUCKET=shop-results\n")
    error_message = "agents must use the existing bucket"
  }
  assert {
    condition     = output.schedule_push_command == "surge schedule push SCHEDULE.yaml s3://shop-results/schedules/black-friday.yaml"
    error_message = "push command must target the schedule key"
  }
  assert {
    condition     = output.fetch_command == "surge fetch s3://shop-results/runs/bf-2 runs/bf-2"
    error_message = "fetch command must target the run prefix"
  }
  assert {
    condition     = output.run_prefix == "s3://shop-results/runs/bf-2/" && output.master_private_ip == "10.0.1.10"
    error_message = "run prefix and master address"
  }
  assert {
    condition     = output.ui_url == "http://198.51.100.20:8089" && strcontains(output.ui_port_forward_command, "AWS-StartPortForwardingSession")
    error_message = "UI URL when operator_cidrs is set, SSM port forwarding always"
  }
  assert {
    condition     = length(output.worker_instance_ids) == 2
    error_message = "one id per worker"
  }
}
