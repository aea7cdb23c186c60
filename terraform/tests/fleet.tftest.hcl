# What the fleet must guarantee, checked against a mocked AWS provider:
# worker count, IMDSv2, encrypted volumes, user data, no open ingress, scoped IAM.
# Run: terraform init && terraform test   (from terraform/; Terraform >= 1.11 for
# override_during = plan, which lets every run stay a plan: no mocked apply needed).

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
    defaults = { ids = ["subnet-0b", "subnet-0a"] }
  }
  mock_data "aws_ami" {
    defaults = { id = "ami-0123456789abcdef0" }
  }
  mock_data "aws_ec2_instance_type" {
    defaults = { default_vcpus = 2 }
  }
  mock_resource "aws_instance" {
    defaults = { private_ip = "10.0.1.10", public_ip = "" }
  }
}

override_resource {
  target          = aws_security_group.worker
  override_during = plan
  values          = { id = "sg-0worker" }
}

variables {
  run_id       = "bf-1"
  schedule_key = "schedules/black-friday.yaml"
  worker_count = 3
}

# Default inputs: one plan/apply, every guarantee that holds without options.
run "defaults" {
  command = plan
  # --- worker count is honoured
  assert {
    condition     = length(aws_instance.worker) == 3
    error_message = "worker_count = 3 must launch 3 workers"
  }
  assert {
    condition     = output.worker_count == 3
    error_message = "output worker_count must report 3"
  }
  assert {
    condition     = aws_instance.master.ami == "ami-0123456789abcdef0" && alltrue([for w in aws_instance.worker : w.ami == aws_instance.master.ami])
    error_message = "master and workers must run the looked-up surge AMI"
  }
  assert {
    condition     = [for w in aws_instance.worker : w.subnet_id] == ["subnet-0a", "subnet-0b", "subnet-0a"]
    error_message = "workers must spread round-robin over the (sorted) default subnets"
  }

  # --- imdsv2 required everywhere
  assert {
    condition = alltrue([
      for instance in concat([aws_instance.master], aws_instance.worker) :
      instance.metadata_options[0].http_tokens == "required" && instance.metadata_options[0].http_put_response_hop_limit == 1 && instance.metadata_options[0].http_endpoint == "enabled"
    ])
    error_message = "every instance must require IMDSv2 tokens with hop limit 1"
  }

  # --- root volumes encrypted
  assert {
    condition = alltrue([
      for instance in concat([aws_instance.master], aws_instance.worker) :
      instance.root_block_device[0].encrypted && instance.root_block_device[0].volume_type == "gp3"
    ])
    error_message = "every root volume must be encrypted gp3"
  }

  # --- user data carries agent settings
  assert {
    condition = alltrue([for line in [
      "SURGE_ROLE=master",
      "SURGE_BUCKET=surge-123456789012-eu-west-1",
      "SURGE_SCHEDULE_KEY=schedules/black-friday.yaml",
      "SURGE_RUN_ID=bf-1",
      "SURGE_REGION=eu-west-1",
      "SURGE_WORKER_PROCESSES=auto",
      "SURGE_POWEROFF=true",
      "SURGE_INSTANCE_TYPE=c6i.large\n",
      "exec /usr/local/sbin/surge-boot",
    ] : strcontains(aws_instance.master.user_data, line)])
    error_message = "master user data must carry its settings and start the baked boot script"
  }
  assert {
    condition     = !strcontains(aws_instance.master.user_data, "SURGE_MASTER_HOST")
    error_message = "the master has no master host setting"
  }
  assert {
    condition = alltrue([
      for w in aws_instance.worker :
      strcontains(w.user_data, "SURGE_ROLE=worker\n") && strcontains(w.user_data, "SURGE_MASTER_HOST=10.0.1.10\n") && strcontains(w.user_data, "SURGE_RUN_ID=bf-1\n") && strcontains(w.user_data, "SURGE_INSTANCE_TYPE=c6i.large\n")
    ])
    error_message = "worker user data must name the worker role, the master's private address and the instance type (priced in the report)"
  }
  assert {
    condition     = startswith(aws_instance.master.user_data, "#!/bin/bash\n") && strcontains(aws_instance.master.user_data, "set -euo pipefail")
    error_message = "user data must be a strict bash script"
  }

  # --- no open ingress by default
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.master_ui) == 0
    error_message = "the UI must be closed unless operator_cidrs is set"
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.master_from_workers.from_port == 5557 &&
      aws_vpc_security_group_ingress_rule.master_from_workers.to_port == 5557 &&
      aws_vpc_security_group_ingress_rule.master_from_workers.referenced_security_group_id == "sg-0worker" &&
      aws_vpc_security_group_ingress_rule.master_from_workers.cidr_ipv4 == null &&
      aws_vpc_security_group_ingress_rule.master_from_workers.cidr_ipv6 == null
    )
    error_message = "only the workers' security group may reach the master's port 5557"
  }
}

# Operator access: the UI opened to given networks only; SSM behind its variable.
run "ui_only_from_operator_cidrs_and_ssm_off" {
  command = plan
  variables {
    operator_cidrs        = ["203.0.113.7/32", "2001:db8::/64"]
    ui_password_parameter = "/surge/ui-password"
    enable_ssm            = false
  }
  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.master_ui : coalesce(r.cidr_ipv4, r.cidr_ipv6)]) == toset(["203.0.113.7/32", "2001:db8::/64"])
    error_message = "UI ingress must come exactly from operator_cidrs"
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.master_ui : r.from_port == 8089 && r.to_port == 8089])
    error_message = "operator rules must open only the UI port"
  }
  assert {
    condition     = length(aws_iam_role_policy_attachment.ssm) == 0 && output.ui_port_forward_command == null
    error_message = "enable_ssm = false must not attach the SSM policy"
  }
}

run "world_open_ui_is_refused" {
  command = plan
  variables {
    operator_cidrs        = ["198.51.100.0/24", "0.0.0.0/0", "::/0"]
    ui_password_parameter = "/surge/ui-password"
  }
  expect_failures = [var.operator_cidrs]
}

run "iam_scoped_to_bucket_prefixes" {
  command = plan
  variables {
    bucket_name = "shop-loadtest"
  }

  # Every statement allows, names only s3 actions without wildcards, and targets the
  # schedules prefix, this run's prefix, or the bucket itself for ListBucket only
  # (key names: needed for 404 on a missing stop object and for HeadBucket).
  assert {
    condition = alltrue(flatten([
      for role in ["master", "worker"] : [
        for s in jsondecode(aws_iam_role_policy.agent[role].policy).Statement : [
          s.Effect == "Allow",
          alltrue([for a in s.Action : startswith(a, "s3:") && !strcontains(a, "*")]),
          alltrue([for r in s.Resource :
            startswith(r, "arn:aws:s3:::shop-loadtest/schedules/") ||
            startswith(r, "arn:aws:s3:::shop-loadtest/runs/bf-1/") ||
            (r == "arn:aws:s3:::shop-loadtest" && s.Action == ["s3:ListBucket"])
          ]),
        ]
      ]
    ]))
    error_message = "IAM statements must be s3-only and scoped to schedules/ and runs/bf-1/"
  }

  # Workers write results but read nothing of the run except the stop object.
  assert {
    condition = (
      toset(flatten([for s in jsondecode(aws_iam_role_policy.agent["worker"].policy).Statement : s.Resource if contains(s.Action, "s3:GetObject")])) ==
      toset(["arn:aws:s3:::shop-loadtest/schedules/*", "arn:aws:s3:::shop-loadtest/runs/bf-1/control/stop"])
    )
    error_message = "workers may read only schedules/* and the stop object"
  }
  assert {
    condition = (
      toset(flatten([for s in jsondecode(aws_iam_role_policy.agent["worker"].policy).Statement : s.Resource if contains(s.Action, "s3:PutObject")])) ==
      toset(["arn:aws:s3:::shop-loadtest/runs/bf-1/*"])
    )
    error_message = "workers may write only under runs/bf-1/"
  }

  # The master additionally reads the run to build the report.
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.agent["master"].policy).Statement : s.Resource if contains(s.Action, "s3:GetObject")]), "arn:aws:s3:::shop-loadtest/runs/bf-1/*")
    error_message = "the master must read runs/bf-1/ to build the report"
  }
  assert {
    condition     = aws_iam_role.agent["worker"].name == "surge-bf-1-worker" && aws_iam_instance_profile.agent["worker"].role == aws_iam_role.agent["worker"].name
    error_message = "workers get their own role through their own instance profile"
  }
}

# scenario.secrets: the fleet reads SSM parameters only under the paths it is given;
# everything else is denied explicitly (AmazonSSMManagedInstanceCore would allow it).
run "secrets_only_from_the_given_parameter_paths" {
  command = plan
  variables {
    secret_parameter_paths = ["/shop/loadtest/*"]
  }

  assert {
    condition = alltrue([
      for role in ["master", "worker"] : jsondecode(aws_iam_role_policy.secrets[role].policy).Statement == [
        {
          Sid      = "ReadScenarioSecrets"
          Effect   = "Allow"
          Action   = ["ssm:GetParameter", "ssm:GetParameters"]
          Resource = ["arn:aws:ssm:eu-west-1:123456789012:parameter/shop/loadtest/*"]
        },
        {
          Sid         = "NoOtherParameters"
          Effect      = "Deny"
          Action      = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
          NotResource = ["arn:aws:ssm:eu-west-1:123456789012:parameter/shop/loadtest/*"]
        },
      ]
    ])
    error_message = "both roles may read only /shop/loadtest/* and are denied every other parameter"
  }
}

run "no_parameter_paths_no_parameters" {
  command = plan

  assert {
    condition = alltrue([
      for role in ["master", "worker"] : [
        for s in jsondecode(aws_iam_role_policy.secrets[role].policy).Statement : s.Effect
      ] == ["Deny"]
    ])
    error_message = "without secret_parameter_paths the fleet reads no SSM parameter"
  }
}

run "relative_parameter_paths_are_refused" {
  command = plan
  variables {
    secret_parameter_paths = ["shop/token"]
  }
  expect_failures = [var.secret_parameter_paths]
}

# The master's web UI and Prometheus metrics: loopback (SSM port forward) by default;
# opened only to the networks named, the UI then with a login whose password stays in
# SSM Parameter Store (its name in user data, never its value).
run "metrics_and_ui_closed_by_default" {
  command = plan

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.master_metrics) == 0
    error_message = "the metrics port must be closed unless metrics_cidrs is set"
  }
  assert {
    condition     = strcontains(aws_instance.master.user_data, "SURGE_WEB_HOST=127.0.0.1\n") && strcontains(aws_instance.master.user_data, "SURGE_METRICS_HOST=127.0.0.1\n")
    error_message = "the master's UI and metrics must listen on loopback (what SSM port forwarding reaches)"
  }
  assert {
    condition     = !strcontains(aws_instance.master.user_data, "SURGE_UI_PASSWORD_PARAMETER")
    error_message = "no login parameter without operator_cidrs"
  }
  assert {
    condition     = alltrue([for w in aws_instance.worker : !strcontains(w.user_data, "SURGE_WEB_HOST") && !strcontains(w.user_data, "SURGE_METRICS_HOST")])
    error_message = "workers serve no UI and no metrics"
  }
  assert {
    condition     = output.metrics_url == null && strcontains(output.metrics_port_forward_command, "\"9646\"")
    error_message = "metrics through the SSM port forward only"
  }
}

run "metrics_only_from_metrics_cidrs" {
  command = plan
  variables {
    metrics_cidrs = ["10.20.0.0/16", "2001:db8::/64"]
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.master_metrics) == 2
    error_message = "one metrics rule per metrics_cidrs entry"
  }
  assert {
    condition = alltrue([
      for rule in aws_vpc_security_group_ingress_rule.master_metrics :
      rule.from_port == 9646 && rule.to_port == 9646 && rule.ip_protocol == "tcp"
    ])
    error_message = "metrics rules open tcp/9646 on the master only"
  }
  assert {
    condition     = toset([for rule in aws_vpc_security_group_ingress_rule.master_metrics : coalesce(rule.cidr_ipv4, rule.cidr_ipv6)]) == toset(["10.20.0.0/16", "2001:db8::/64"])
    error_message = "metrics ingress must come exactly from metrics_cidrs"
  }
  assert {
    condition     = strcontains(aws_instance.master.user_data, "SURGE_METRICS_HOST=0.0.0.0\n") && strcontains(aws_instance.master.user_data, "SURGE_WEB_HOST=127.0.0.1\n")
    error_message = "metrics_cidrs binds metrics off loopback, and only metrics"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.master_ui) == 0
    error_message = "metrics_cidrs must not open the UI"
  }
  assert {
    condition     = output.metrics_url == "http://10.0.1.10:9646/metrics"
    error_message = "metrics_url names the master's private address"
  }
}

run "open_metrics_are_refused" {
  command = plan
  variables {
    metrics_cidrs = ["0.0.0.0/0"]
  }
  expect_failures = [var.metrics_cidrs]
}

run "ui_from_operators_needs_a_password_parameter" {
  command = plan
  variables {
    operator_cidrs = ["203.0.113.7/32"]
  }
  expect_failures = [var.ui_password_parameter]
}

run "ui_login_password_from_ssm_only" {
  command = plan
  variables {
    operator_cidrs        = ["203.0.113.7/32"]
    ui_password_parameter = "/surge/ui-password"
  }

  assert {
    condition     = strcontains(aws_instance.master.user_data, "SURGE_WEB_HOST=0.0.0.0\n") && strcontains(aws_instance.master.user_data, "SURGE_UI_PASSWORD_PARAMETER=/surge/ui-password\n")
    error_message = "the master binds the UI off loopback and learns where its password is"
  }
  assert {
    condition     = alltrue([for w in aws_instance.worker : !strcontains(w.user_data, "ui-password")])
    error_message = "workers know nothing of the UI's login"
  }
  assert {
    condition = contains(
      jsondecode(aws_iam_role_policy.secrets["master"].policy).Statement[0].Resource,
      "arn:aws:ssm:eu-west-1:123456789012:parameter/surge/ui-password"
    ) && jsondecode(aws_iam_role_policy.secrets["master"].policy).Statement[0].Effect == "Allow"
    error_message = "the master may read the UI password parameter"
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.secrets["worker"].policy).Statement : s.Effect] == ["Deny"]
    error_message = "workers may not read the UI password parameter"
  }
}

run "relative_password_parameter_is_refused" {
  command = plan
  variables {
    operator_cidrs        = ["203.0.113.7/32"]
    ui_password_parameter = "surge/ui-password"
  }
  expect_failures = [var.ui_password_parameter]
}
