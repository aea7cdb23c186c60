# Least privilege, written as readable policy documents (jsonencode, so that the
# tests can parse them without a provider).
#
#   every agent  : read schedules/*, read the stop object, write under runs/<run_id>/,
#                  list the bucket (key names only, see below)
#   the master   : additionally read runs/<run_id>/ to build the report
#   workers      : cannot read other workers' results, nor any object outside the run
#
# s3:ListBucket is granted on the bucket without a prefix condition, on purpose:
# - the agent polls the stop object with HEAD; without ListBucket a *missing* key
#   answers 403 instead of 404, so "no stop yet" would look like a permission error
#   (and be retried with backoff, slowing the kill switch);
# - the agent's clock check uses HeadBucket, which is authorised by s3:ListBucket and
#   carries no s3:prefix, so a prefix condition would deny it.
# It reveals key names (schedule names, other run ids), never object contents.

locals {
  agent_statements = [
    {
      Sid      = "ReadSchedules"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${local.bucket_arn}/${local.schedules_prefix}*"]
    },
    {
      Sid      = "ReadStopObject"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${local.bucket_arn}/${local.stop_key}"]
    },
    {
      Sid      = "WriteRunResults"
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
      Resource = ["${local.bucket_arn}/${local.run_prefix}*"]
    },
    {
      Sid      = "ListKeysForNotFoundAndClock"
      Effect   = "Allow"
      Action   = ["s3:ListBucket"]
      Resource = [local.bucket_arn]
    },
  ]

  worker_statements = local.agent_statements

  master_statements = concat(local.agent_statements, [
    {
      Sid      = "ReadRunResults"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${local.bucket_arn}/${local.run_prefix}*"]
    },
  ])

  kms_statements = var.kms_key_arn == null ? [] : [
    {
      Sid      = "UseBucketKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.kms_key_arn]
    },
  ]

  role_policies = {
    master = { Version = "2012-10-17", Statement = concat(local.master_statements, local.kms_statements) }
    worker = { Version = "2012-10-17", Statement = concat(local.worker_statements, local.kms_statements) }
  }

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role" "agent" {
  for_each = local.role_policies

  name               = "${local.base_name}-${each.key}"
  description        = "surge ${each.key} agent of run ${var.run_id}"
  assume_role_policy = local.assume_role_policy
  tags               = merge(local.common_tags, { "surge:role" = each.key })
}

resource "aws_iam_role_policy" "agent" {
  for_each = local.role_policies

  name   = "surge-${each.key}-s3"
  role   = aws_iam_role.agent[each.key].id
  policy = jsonencode(each.value)
}

resource "aws_iam_role_policy_attachment" "ssm" {
  for_each = toset(var.enable_ssm ? keys(local.role_policies) : [])

  role       = aws_iam_role.agent[each.value].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

# scenario.secrets: each agent reads its secrets from SSM Parameter Store at start
# (surge/secrets.py), only under secret_parameter_paths. AmazonSSMManagedInstanceCore
# (enable_ssm) allows ssm:GetParameter* on every parameter, so an explicit deny of
# everything else keeps the fleet to the paths it was given. A separate policy, so
# the S3 one above stays S3-only. SecureString parameters under the AWS managed key
# (alias/aws/ssm) need no KMS statement.
locals {
  secret_parameter_arns = [
    for path in var.secret_parameter_paths :
    "arn:${local.partition}:ssm:${local.region}:${data.aws_caller_identity.current.account_id}:parameter${path}"
  ]
  parameter_actions = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
  # the master alone also reads its web UI's login password (ui_password_parameter)
  ui_parameter_arns = var.ui_password_parameter == null ? [] : [
    "arn:${local.partition}:ssm:${local.region}:${data.aws_caller_identity.current.account_id}:parameter${var.ui_password_parameter}"
  ]
  parameter_arns = {
    master = concat(local.secret_parameter_arns, local.ui_parameter_arns)
    worker = local.secret_parameter_arns
  }
  # one JSON per case: the two statement lists differ in shape
  secrets_policy = { for role, arns in local.parameter_arns : role => length(arns) == 0 ? jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Sid = "NoParameters", Effect = "Deny", Action = local.parameter_actions, Resource = ["*"] }]
    }) : jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadScenarioSecrets"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter", "ssm:GetParameters"]
        Resource = arns
      },
      {
        Sid         = "NoOtherParameters"
        Effect      = "Deny"
        Action      = local.parameter_actions
        NotResource = arns
      },
    ]
  }) }
}

resource "aws_iam_role_policy" "secrets" {
  for_each = local.role_policies

  name   = "surge-${each.key}-ssm-parameters"
  role   = aws_iam_role.agent[each.key].id
  policy = local.secrets_policy[each.key]
}

resource "aws_iam_instance_profile" "agent" {
  for_each = local.role_policies

  name = "${local.base_name}-${each.key}"
  role = aws_iam_role.agent[each.key].name
  tags = merge(local.common_tags, { "surge:role" = each.key })
}
