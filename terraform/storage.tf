# The bucket for schedules (schedules/<name>.yaml) and results (runs/<run_id>/...).
# Created by default; with create_bucket = false the module only uses it by name.

locals {
  default_bucket_name = "${var.name_prefix}-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_18:Access logging needs a second bucket; results are test artefacts and CloudTrail data events cover auditing where required.
  # checkov:skip=CKV_AWS_144:Cross-region replication doubles cost for reproducible load-test results.
  # checkov:skip=CKV2_AWS_62:No consumer for event notifications; the master reads the run prefix directly.
  count = var.create_bucket ? 1 : 0

  bucket        = coalesce(var.bucket_name, local.default_bucket_name)
  force_destroy = var.bucket_force_destroy
  tags          = merge(local.common_tags, { Name = coalesce(var.bucket_name, local.default_bucket_name) })
}

resource "aws_s3_bucket_public_access_block" "this" {
  count = var.create_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.this[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  # checkov:skip=CKV_AWS_145:SSE-S3 by default (no KMS cost or key policy to manage); set kms_key_arn for SSE-KMS.
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_versioning" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    id     = "expire-old-runs"
    status = "Enabled"
    filter {
      prefix = "runs/"
    }
    expiration {
      days = var.results_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.results_expiration_days
    }
  }

  # Parts of an upload cut short (a dying instance, a killed push) are not kept, or billed, for long.
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# TLS only: any request over plain HTTP is denied, whoever makes it.
resource "aws_s3_bucket_policy" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# Optional one-apply path: upload the schedule before any agent boots and reads it.
resource "aws_s3_object" "schedule" {
  # checkov:skip=CKV_AWS_186:Encrypted by the bucket's default encryption (SSE-S3 or the kms_key_arn key).
  count = var.schedule_file == null ? 0 : 1

  bucket       = local.bucket_name
  key          = var.schedule_key
  source       = var.schedule_file
  source_hash  = filemd5(var.schedule_file)
  content_type = "application/yaml"
  tags         = local.common_tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.this, aws_s3_bucket_policy.this]
}
