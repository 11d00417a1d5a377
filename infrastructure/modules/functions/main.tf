# The four Lambda functions. Each is one call of modules/lambda_function (log group, role with one
# inline policy, function, and for the asynchronously invoked ones the asynchronous-invocation
# settings); what differs per function stays here, beside its call, so that every function's
# environment and permissions can be read at a glance (and by the consistency tests):
#   - its policy document lists only the AWS actions the function's code calls, on only the
#     resources it touches (statement ids "Code*"). The module adds the platform statements
#     every function needs ("Platform*": logs on its own log group, X-Ray, KMS on the stack's
#     key, and the on-failure destination of an asynchronously invoked function); a platform
#     action only one function needs stays in its document here (product-fetch's Kinesis event
#     source mapping and its failure destination);
#   - its environment is exactly the variables its code reads: each function's Config::VARIABLES
#     (crates/core/src/functions/*.rs) whose `set_by` is the deployment, written out to
#     infrastructure/functions.json. The log format and level reach every function from the
#     module's logging_config (AWS_LAMBDA_LOG_FORMAT/LEVEL); RUST_LOG and
#     SHOPFLOW_S3_FORCE_PATH_STYLE are overrides for emulators and debugging, not set here;
#   - its checkov skips, each with the reason that holds for that function.
#
# Statement ids: "Code*" statements are AWS API calls the function's own code makes; "Platform*"
# statements are calls Lambda makes with the function's role (logs, X-Ray, KMS, the Kinesis
# event source mapping, failure destinations).

locals {
  lake = var.lake_bucket_arn

  product_sources = join(",", [for name, url in var.product_sources : "${name}=${url}"])

  async_invocation = {
    max_retry_attempts         = var.async_max_retry_attempts
    max_event_age_seconds      = var.async_max_event_age_seconds
    on_failure_destination_arn = module.async_dlq.arn
  }
}

# --------------------------------------------------------------------------------------------
# Dead-letter queue for asynchronous invocations (S3 → transformer, EventBridge Scheduler →
# ingest-trigger): events that still fail after Lambda's retries, or that are too old, land
# here as on-failure destination records ({"requestContext", "requestPayload", "responsePayload"}).
# The schedules' own dead-letter config points here too.
# --------------------------------------------------------------------------------------------

module "async_dlq" {
  source = "../encrypted_queue"

  name        = "${var.name_prefix}-async-dlq"
  kms_key_arn = var.kms_key_arn
}

# --------------------------------------------------------------------------------------------
# ingest-trigger: API Gateway POST /ingestions and the daily schedule → fetch tasks on Kinesis
# Code calls: kinesis:PutRecords (stream); dynamodb:PutItem, GetItem, UpdateItem (runs table).
# --------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ingest_trigger" {
  statement {
    sid       = "CodeKinesisPutRecords"
    effect    = "Allow"
    actions   = ["kinesis:PutRecords"]
    resources = [var.stream_arn]
  }

  statement {
    sid       = "CodeRunsTable"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [var.runs_table_arn]
  }
}

module "ingest_trigger" {
  #checkov:skip=CKV_AWS_116:Asynchronous failures (the schedule) go to an on-failure destination (async_invocation below → async DLQ), the successor of dead_letter_config; configuring both would deliver each failed event twice.
  #checkov:skip=CKV_AWS_117:No VPC: the function calls only regional AWS APIs (Kinesis, DynamoDB) over TLS with IAM; a VPC would add NAT gateways or interface endpoints without protecting any private resource.
  #checkov:skip=CKV_AWS_272:Code signing needs signed artifacts in S3 (AWS Signer); the zips are built by cargo lambda in CI and deployed from the build directory. Recorded as a follow-up in infrastructure/README.md.
  source = "../lambda_function"

  name_prefix          = var.name_prefix
  crate                = "ingest-trigger"
  description          = "ShopFlow: POST /ingestions and the daily schedule -> fetch tasks on Kinesis"
  artifact_dir         = var.artifact_dir
  architecture         = var.lambda_architecture
  memory_mb            = var.memory_mb["ingest-trigger"]
  timeout_seconds      = var.timeout_seconds["ingest-trigger"]
  reserved_concurrency = var.reserved_concurrency["ingest-trigger"]
  log_retention_days   = var.log_retention_days
  kms_key_arn          = var.kms_key_arn
  log_level            = var.log_level
  policy_json          = data.aws_iam_policy_document.ingest_trigger.json
  async_invocation     = local.async_invocation

  environment = {
    STREAM_NAME       = var.stream_name
    RUNS_TABLE        = var.runs_table_name
    PRODUCT_SOURCES   = local.product_sources
    DEFAULT_SOURCE    = var.default_source
    DEFAULT_PAGE_SIZE = tostring(var.default_page_size)
    DEFAULT_MAX_ITEMS = tostring(var.default_max_items)
    PUT_ATTEMPTS      = tostring(var.put_attempts)
  }

  preconditions = [
    {
      condition     = contains(keys(var.product_sources), var.default_source)
      error_message = "default_source must be one of the product_sources names."
    },
  ]
}

# --------------------------------------------------------------------------------------------
# product-fetch: Kinesis fetch tasks → product API pages → landing/products/ and the products table
# Code calls: s3:PutObject (landing/products/*); dynamodb:GetItem, PutItem (products table).
# Platform: the event source mapping reads the stream and sends failed batches to the fetch DLQ.
# --------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "product_fetch" {
  statement {
    sid       = "CodeS3PutRawPages"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${local.lake}/landing/products/*"]
  }

  statement {
    sid       = "CodeProductsTable"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [var.products_table_arn]
  }

  statement {
    sid    = "PlatformKinesisEventSource"
    effect = "Allow"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [var.stream_arn]
  }

  statement {
    sid       = "PlatformEventSourceFailureDestination"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [var.fetch_dlq_arn]
  }
}

module "product_fetch" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the Kinesis event source mapping only; failed batches go to the mapping's on-failure destination (the fetch DLQ). A function DLQ applies to asynchronous invocations and would never receive anything.
  #checkov:skip=CKV_AWS_117:No VPC: the function calls the public product API and regional AWS APIs (S3, DynamoDB); a VPC would need a NAT gateway for the product API without protecting any private resource.
  #checkov:skip=CKV_AWS_272:Code signing needs signed artifacts in S3 (AWS Signer); the zips are built by cargo lambda in CI and deployed from the build directory. Recorded as a follow-up in infrastructure/README.md.
  source = "../lambda_function"

  name_prefix     = var.name_prefix
  crate           = "product-fetch"
  description     = "ShopFlow: Kinesis fetch tasks -> product API pages -> landing/products/ and the products table"
  artifact_dir    = var.artifact_dir
  architecture    = var.lambda_architecture
  memory_mb       = var.memory_mb["product-fetch"]
  timeout_seconds = var.timeout_seconds["product-fetch"]
  # Protects the product API: at most this many pages are fetched at once, whatever the shard
  # count and parallelization factor of the event source mapping.
  reserved_concurrency = var.reserved_concurrency["product-fetch"]
  log_retention_days   = var.log_retention_days
  kms_key_arn          = var.kms_key_arn
  log_level            = var.log_level
  policy_json          = data.aws_iam_policy_document.product_fetch.json

  environment = {
    LAKE_BUCKET     = var.lake_bucket_name
    PRODUCTS_TABLE  = var.products_table_name
    PRODUCT_SOURCES = local.product_sources
    HTTP_TIMEOUT_MS = tostring(var.http_timeout_ms)
    MAX_ATTEMPTS    = tostring(var.max_attempts)
    BASE_BACKOFF_MS = tostring(var.base_backoff_ms)
    MAX_BACKOFF_MS  = tostring(var.max_backoff_ms)
  }
}

# --------------------------------------------------------------------------------------------
# transformer: S3 notifications on landing/ and direct calls from the state machine
# (list_pending, {bucket, key}, summarize) → bronze, silver, quarantine, manifests
# Code calls: s3:GetObject (HeadObject and GetObject) on landing/*, silver/* (references),
# manifests/* (pending list and day summary); s3:ListBucket under those prefixes;
# s3:PutObject (single and multipart) on bronze/*, silver/*, quarantine/*, manifests/*;
# s3:AbortMultipartUpload on the multipart targets; dynamodb:GetItem, PutItem, DeleteItem on
# the ledger. EMF metrics go to stdout: no CloudWatch API call.
# --------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "transformer" {
  statement {
    sid     = "CodeS3Read"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    # silver/ and quarantine/: the Delta tables' logs and the data files a MERGE rewrites.
    resources = [
      "${local.lake}/landing/*",
      "${local.lake}/silver/*",
      "${local.lake}/quarantine/*",
      "${local.lake}/manifests/*",
    ]
  }

  statement {
    sid       = "CodeS3List"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.lake]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["landing/*", "silver/*", "quarantine/*", "manifests/*"]
    }
  }

  statement {
    sid     = "CodeS3Write"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    resources = [
      "${local.lake}/bronze/*",
      "${local.lake}/silver/*",
      "${local.lake}/quarantine/*",
      "${local.lake}/manifests/*",
    ]
  }

  statement {
    sid     = "CodeS3AbortMultipart"
    effect  = "Allow"
    actions = ["s3:AbortMultipartUpload"]
    resources = [
      "${local.lake}/bronze/*",
      "${local.lake}/silver/*",
      "${local.lake}/quarantine/*",
    ]
  }

  # The table code this function links can delete log entries older than the log retention
  # (delta-rs's expired-log clean-up). ShopFlow's commits turn it off and only `maintain` (the
  # report generator) runs it (ADR 0013); the grant stays, scoped to the logs, so that no
  # clean-up through this role can reach a data file.
  statement {
    sid     = "CodeS3ExpiredTableLogs"
    effect  = "Allow"
    actions = ["s3:DeleteObject"]
    resources = [
      "${local.lake}/silver/*/_delta_log/*",
      "${local.lake}/quarantine/*/_delta_log/*",
    ]
  }

  statement {
    sid       = "CodeLedgerTable"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [var.ledger_table_arn]
  }
}

module "transformer" {
  #checkov:skip=CKV_AWS_116:Asynchronous failures (S3 notifications) go to an on-failure destination (async_invocation below → async DLQ), the successor of dead_letter_config; configuring both would deliver each failed event twice.
  #checkov:skip=CKV_AWS_117:No VPC: the function calls only regional AWS APIs (S3, DynamoDB) over TLS with IAM; a VPC would add NAT gateways or gateway endpoints without protecting any private resource.
  #checkov:skip=CKV_AWS_272:Code signing needs signed artifacts in S3 (AWS Signer); the zips are built by cargo lambda in CI and deployed from the build directory. Recorded as a follow-up in infrastructure/README.md.
  source = "../lambda_function"

  name_prefix     = var.name_prefix
  crate           = "transformer"
  description     = "ShopFlow: landing/ objects -> bronze, silver, quarantine, manifests"
  artifact_dir    = var.artifact_dir
  architecture    = var.lambda_architecture
  memory_mb       = var.memory_mb["transformer"]
  timeout_seconds = var.timeout_seconds["transformer"]
  # Bounds the write rate on the ledger table and the lake (a burst of landed files, or the
  # state machine's Map, cannot fan out beyond this); throttled S3 events are retried by Lambda
  # for up to async_max_event_age_seconds before they reach the async DLQ.
  reserved_concurrency = var.reserved_concurrency["transformer"]
  # The landing object is staged in /tmp: ephemeral storage bounds the largest file.
  ephemeral_storage_mb = var.transformer_ephemeral_storage_mb
  log_retention_days   = var.log_retention_days
  kms_key_arn          = var.kms_key_arn
  log_level            = var.log_level
  policy_json          = data.aws_iam_policy_document.transformer.json
  async_invocation     = local.async_invocation

  environment = {
    LAKE_BUCKET       = var.lake_bucket_name
    LEDGER_TABLE      = var.ledger_table_name
    METRICS_NAMESPACE = var.metrics_namespace
    BATCH_ROWS        = tostring(var.batch_rows)
    LEASE_MINUTES     = tostring(var.transformer_lease_minutes)
  }

  preconditions = [
    {
      condition     = var.transformer_lease_minutes * 60 > var.timeout_seconds["transformer"]
      error_message = "transformer_lease_minutes must be longer than the transformer's timeout, or a running invocation could lose its ledger claim."
    },
  ]
}

# --------------------------------------------------------------------------------------------
# report-generator: Step Functions task {date} → gold, reports/, SNS summary and alerts
# Code calls: s3:GetObject on silver/*, manifests/*, gold/* (gold is read back to rebuild);
# s3:ListBucket under those prefixes; s3:PutObject on gold/*, reports/*; s3:DeleteObject on
# gold/* (a rebuilt day left without rows); sns:Publish on the topic.
# --------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "report_generator" {
  statement {
    sid     = "CodeS3Read"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${local.lake}/silver/*",
      "${local.lake}/quarantine/*",
      "${local.lake}/manifests/*",
      "${local.lake}/gold/*",
    ]
  }

  statement {
    sid       = "CodeS3List"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.lake]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["silver/*", "quarantine/*", "manifests/*", "gold/*"]
    }
  }

  # gold/: the daily build's commits. silver/ and quarantine/: maintenance (the compaction
  # rewrite writes the compacted files and a commit; checkpoints).
  statement {
    sid     = "CodeS3Write"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    resources = [
      "${local.lake}/silver/*",
      "${local.lake}/quarantine/*",
      "${local.lake}/gold/*",
      "${local.lake}/reports/*",
    ]
  }

  statement {
    sid     = "CodeS3AbortMultipart"
    effect  = "Allow"
    actions = ["s3:AbortMultipartUpload"]
    resources = [
      "${local.lake}/silver/*",
      "${local.lake}/quarantine/*",
      "${local.lake}/gold/*",
    ]
  }

  # VACUUM deletes the data files no version within the retention references. Never landing/,
  # bronze/ or manifests/.
  statement {
    sid     = "CodeS3VacuumTables"
    effect  = "Allow"
    actions = ["s3:DeleteObject"]
    resources = [
      "${local.lake}/silver/*",
      "${local.lake}/quarantine/*",
      "${local.lake}/gold/*",
    ]
  }

  statement {
    sid       = "CodeSnsPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [var.topic_arn]
  }
}

module "report_generator" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the state machine (lambda:invoke, RequestResponse), whose Retry/Catch and NotifyFailure state handle failures; a function DLQ applies to asynchronous invocations and would never receive anything.
  #checkov:skip=CKV_AWS_117:No VPC: the function calls only regional AWS APIs (S3, SNS) over TLS with IAM; a VPC would add NAT gateways or endpoints without protecting any private resource.
  #checkov:skip=CKV_AWS_272:Code signing needs signed artifacts in S3 (AWS Signer); the zips are built by cargo lambda in CI and deployed from the build directory. Recorded as a follow-up in infrastructure/README.md.
  source = "../lambda_function"

  name_prefix     = var.name_prefix
  crate           = "report-generator"
  description     = "ShopFlow: gold tables, the daily report and SNS summary/alerts for a date"
  artifact_dir    = var.artifact_dir
  architecture    = var.lambda_architecture
  memory_mb       = var.memory_mb["report-generator"]
  timeout_seconds = var.timeout_seconds["report-generator"]
  # One build at a time: two concurrent gold rebuilds would overwrite each other's partitions.
  reserved_concurrency = var.reserved_concurrency["report-generator"]
  log_retention_days   = var.log_retention_days
  kms_key_arn          = var.kms_key_arn
  log_level            = var.log_level
  policy_json          = data.aws_iam_policy_document.report_generator.json

  environment = {
    LAKE_BUCKET           = var.lake_bucket_name
    TOPIC_ARN             = var.topic_arn
    ALERT_REJECTED_PCT    = tostring(var.alert_rejected_pct)
    ANOMALY_THRESHOLD_PCT = tostring(var.anomaly_threshold_pct)
    LOOKBACK_DAYS         = tostring(var.lookback_days)
    METRICS_NAMESPACE     = var.metrics_namespace
  }
}
