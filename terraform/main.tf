# Shared facts every other file uses: where we are, which bucket, which prefixes.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  base_name = "${var.name_prefix}-${var.run_id}"

  # Taken from the bucket resource when the module creates it, so that everything
  # reading the bucket (policies, instances) waits for it.
  bucket_name = var.create_bucket ? aws_s3_bucket.this[0].bucket : var.bucket_name
  bucket_arn  = "arn:${local.partition}:s3:::${local.bucket_name}"

  # The S3 layout surge agrees on (surge/results.py, surge agent).
  schedules_prefix = "schedules/"
  run_prefix       = "runs/${var.run_id}/"
  stop_key         = "runs/${var.run_id}/control/stop"

  common_tags = merge(var.tags, {
    "surge:run-id" = var.run_id
    "ManagedBy"    = "terraform"
  })
}
