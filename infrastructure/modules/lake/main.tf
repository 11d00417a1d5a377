# The data lake bucket and the bucket that receives its S3 server access logs.
#
# Layer prefixes (S3 has no folders: a prefix exists once an object is written under it, and
# no placeholder object is created because a "landing/" object would itself fire the
# notification below):
#   landing/     files as they arrived (never modified by the pipeline)
#   bronze/      raw records + lineage (Parquet)
#   silver/      typed, validated, de-duplicated (Parquet, date=YYYY-MM-DD)
#   quarantine/  rejected rows and whole files (+ reason.json); expires
#   gold/        star schema and aggregates
#   reports/     the daily report (JSON, CSV, HTML)
#   manifests/   counts per processed file
#   athena-results/  Athena query results of the workgroup (expire)

data "aws_caller_identity" "current" {}

locals {
  layer_prefixes = {
    landing    = "landing/"
    bronze     = "bronze/"
    silver     = "silver/"
    quarantine = "quarantine/"
    gold       = "gold/"
    reports    = "reports/"
    manifests  = "manifests/"
  }
  athena_results_prefix = "athena-results/"
  access_log_prefix     = "s3-access/${var.bucket_name}/"
}

# --------------------------------------------------------------------------------------------
# The two buckets, and what they share: owner-enforced objects (no ACLs), no public access,
# versioning, and a policy statement that refuses requests without TLS. Each shared setting is
# one resource over both buckets; the map names the buckets directly (not through a local) so
# that checkov's graph checks still see each bucket's public access block and versioning.
# --------------------------------------------------------------------------------------------

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This bucket is the target of the lake's server access logs; logging it to itself would loop and logging it elsewhere needs a third bucket with the same problem.
  #checkov:skip=CKV_AWS_144:Access logs are operational data with a retention limit; cross-region replication would double their cost without a recovery need.
  #checkov:skip=CKV_AWS_145:S3 server access log delivery supports only SSE-S3 (AES256) default encryption on the target bucket, not SSE-KMS.
  #checkov:skip=CKV2_AWS_62:Nothing consumes access-log arrivals; event notifications would have no target.
  bucket        = var.log_bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket" "lake" {
  #checkov:skip=CKV_AWS_144:Cross-region replication needs a second region, bucket, key and role; versioning, PITR-style noncurrent versions and the immutable landing layer (everything downstream is rebuilt from it) cover recovery. Add replication per account policy.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = { logs = aws_s3_bucket.logs.id, lake = aws_s3_bucket.lake.id }

  bucket = each.value

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = { logs = aws_s3_bucket.logs.id, lake = aws_s3_bucket.lake.id }

  bucket                  = each.value
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = { logs = aws_s3_bucket.logs.id, lake = aws_s3_bucket.lake.id }

  bucket = each.value

  versioning_configuration {
    status = "Enabled"
  }
}

module "deny_insecure_transport" {
  source   = "../deny_insecure_transport"
  for_each = { logs = aws_s3_bucket.logs.arn, lake = aws_s3_bucket.lake.arn }

  actions   = ["s3:*"]
  resources = [each.value, "${each.value}/*"]
}

# --------------------------------------------------------------------------------------------
# Access-log bucket
# --------------------------------------------------------------------------------------------

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_expiry_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "logs" {
  # After the statement below: requests without TLS are refused.
  override_policy_documents = [module.deny_insecure_transport["logs"].json]

  statement {
    sid       = "S3ServerAccessLogDelivery"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/${local.access_log_prefix}*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.lake.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# --------------------------------------------------------------------------------------------
# Lake bucket
# --------------------------------------------------------------------------------------------

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "lake" {
  bucket        = aws_s3_bucket.lake.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = local.access_log_prefix

  target_object_key_format {
    partitioned_prefix {
      partition_date_source = "EventTime"
    }
  }

  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  # Every object: abort incomplete multipart uploads (the transformer uploads large outputs in
  # parts), expire noncurrent versions, clean up expired delete markers.
  rule {
    id     = "all-objects"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiry_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  # landing/: read when processed and on replays; Glacier Instant Retrieval keeps replays instant.
  rule {
    id     = "landing-tiering"
    status = "Enabled"

    filter {
      prefix = local.layer_prefixes.landing
    }

    transition {
      days          = var.landing_ia_days
      storage_class = "STANDARD_IA"
    }

    transition {
      days          = var.landing_glacier_days
      storage_class = "GLACIER_IR"
    }
  }

  # bronze/: kept for audits and reprocessing, rarely read.
  rule {
    id     = "bronze-tiering"
    status = "Enabled"

    filter {
      prefix = local.layer_prefixes.bronze
    }

    transition {
      days          = var.bronze_ia_days
      storage_class = "STANDARD_IA"
    }

    transition {
      days          = var.bronze_glacier_days
      storage_class = "GLACIER_IR"
    }
  }

  # quarantine/: rejected rows and files are kept long enough to investigate and replay.
  rule {
    id     = "quarantine-expiry"
    status = "Enabled"

    filter {
      prefix = local.layer_prefixes.quarantine
    }

    expiration {
      days = var.quarantine_expiry_days
    }
  }

  rule {
    id     = "athena-results-expiry"
    status = "Enabled"

    filter {
      prefix = local.athena_results_prefix
    }

    expiration {
      days = var.athena_results_expiry_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]

  lifecycle {
    precondition {
      condition     = var.landing_glacier_days >= var.landing_ia_days + 30 && var.bronze_glacier_days >= var.bronze_ia_days + 30
      error_message = "GLACIER_IR transitions must come at least 30 days after the STANDARD_IA transitions (S3's minimum stay in STANDARD_IA)."
    }
  }
}

data "aws_iam_policy_document" "lake" {
  # First: requests without TLS are refused.
  source_policy_documents = [module.deny_insecure_transport["lake"].json]

  # Objects are encrypted with the bucket's KMS default; refuse a request that asks for SSE-S3.
  statement {
    sid       = "DenyNonKmsEncryptionHeader"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.lake.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }
}

resource "aws_s3_bucket_policy" "lake" {
  bucket = aws_s3_bucket.lake.id
  policy = data.aws_iam_policy_document.lake.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# --------------------------------------------------------------------------------------------
# landing/ → transformer
# --------------------------------------------------------------------------------------------

resource "aws_lambda_permission" "s3_invokes_transformer" {
  statement_id   = "AllowLakeBucketNotifications"
  action         = "lambda:InvokeFunction"
  function_name  = var.transformer_function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.lake.arn
  source_account = data.aws_caller_identity.current.account_id
}

resource "aws_s3_bucket_notification" "lake" {
  bucket = aws_s3_bucket.lake.id

  lambda_function {
    id                  = "landing-to-transformer"
    lambda_function_arn = var.transformer_function_arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.layer_prefixes.landing
  }

  depends_on = [aws_lambda_permission.s3_invokes_transformer]
}
