# Security groups that open only what the fleet needs:
#   workers -> master  tcp/5557 (Locust's master port), by security group, not CIDR
#   operators -> master tcp/8089 (web UI) only from var.operator_cidrs (empty by default)
#   monitoring -> master tcp/9646 (/metrics) only from var.metrics_cidrs (empty by default)
#   workers -> target   var.target_ports to var.target_cidrs (the load)
#   all -> HTTPS        S3, STS and SSM endpoints
# Workers accept no inbound traffic at all: they connect out to the master.

locals {
  locust_master_port = 5557
  locust_ui_port     = 8089
  metrics_port       = 9646 # provisioning/agent_ui.py DEFAULT_METRICS_PORT
  https_port         = 443

  use_default_vpc = var.vpc_id == null
  vpc_id          = local.use_default_vpc ? data.aws_vpc.default[0].id : var.vpc_id
  subnet_ids      = length(var.subnet_ids) > 0 ? var.subnet_ids : sort(data.aws_subnets.fleet[0].ids)

  aws_api_egress = {
    "tcp-${local.https_port}-0.0.0.0/0" = {
      port        = local.https_port
      cidr        = "0.0.0.0/0"
      description = "HTTPS to the S3, STS and SSM endpoints"
    }
  }

  # Keyed by port and CIDR; merge() drops the duplicate when the load also goes to 443 anywhere.
  worker_egress = merge(
    {
      for pair in setproduct(var.target_ports, var.target_cidrs) : "tcp-${pair[0]}-${pair[1]}" => {
        port        = pair[0]
        cidr        = pair[1]
        description = "Load to the system under test"
      }
    },
    local.aws_api_egress,
  )
}

data "aws_vpc" "default" {
  count   = local.use_default_vpc ? 1 : 0
  default = true
}

data "aws_subnets" "fleet" {
  count = length(var.subnet_ids) > 0 ? 0 : 1

  filter {
    name   = "vpc-id"
    values = [local.vpc_id]
  }

  dynamic "filter" {
    for_each = local.use_default_vpc ? [true] : []
    content {
      name   = "default-for-az"
      values = ["true"]
    }
  }
}

resource "aws_security_group" "master" {
  name        = "${local.base_name}-master"
  description = "surge master of run ${var.run_id}: Locust port from workers, UI from operators only"
  vpc_id      = local.vpc_id
  tags        = merge(local.common_tags, { Name = "${local.base_name}-master", "surge:role" = "master" })

  lifecycle {
    precondition {
      condition     = length(local.subnet_ids) > 0
      error_message = "No subnets: pass subnet_ids, or give the VPC (or the default VPC) default subnets."
    }
  }
}

resource "aws_security_group" "worker" {
  name        = "${local.base_name}-worker"
  description = "surge workers of run ${var.run_id}: no ingress, egress to target, master and AWS APIs"
  vpc_id      = local.vpc_id
  tags        = merge(local.common_tags, { Name = "${local.base_name}-worker", "surge:role" = "worker" })
}

resource "aws_vpc_security_group_ingress_rule" "master_from_workers" {
  security_group_id            = aws_security_group.master.id
  description                  = "Locust workers to master"
  ip_protocol                  = "tcp"
  from_port                    = local.locust_master_port
  to_port                      = local.locust_master_port
  referenced_security_group_id = aws_security_group.worker.id
  tags                         = local.common_tags
}

resource "aws_vpc_security_group_ingress_rule" "master_ui" {
  for_each = toset(var.operator_cidrs)

  security_group_id = aws_security_group.master.id
  description       = "Locust web UI from an operator network"
  ip_protocol       = "tcp"
  from_port         = local.locust_ui_port
  to_port           = local.locust_ui_port
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
  tags              = local.common_tags
}

resource "aws_vpc_security_group_ingress_rule" "master_metrics" {
  for_each = toset(var.metrics_cidrs)

  security_group_id = aws_security_group.master.id
  description       = "Prometheus metrics from a monitoring network"
  ip_protocol       = "tcp"
  from_port         = local.metrics_port
  to_port           = local.metrics_port
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
  tags              = local.common_tags
}

resource "aws_vpc_security_group_egress_rule" "master" {
  for_each = local.aws_api_egress

  security_group_id = aws_security_group.master.id
  description       = each.value.description
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
  tags              = local.common_tags
}

resource "aws_vpc_security_group_egress_rule" "worker_to_master" {
  security_group_id            = aws_security_group.worker.id
  description                  = "Locust workers to master"
  ip_protocol                  = "tcp"
  from_port                    = local.locust_master_port
  to_port                      = local.locust_master_port
  referenced_security_group_id = aws_security_group.master.id
  tags                         = local.common_tags
}

resource "aws_vpc_security_group_egress_rule" "worker" {
  for_each = local.worker_egress

  security_group_id = aws_security_group.worker.id
  description       = each.value.description
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = strcontains(each.value.cidr, ":") ? null : each.value.cidr
  cidr_ipv6         = strcontains(each.value.cidr, ":") ? each.value.cidr : null
  tags              = local.common_tags
}
