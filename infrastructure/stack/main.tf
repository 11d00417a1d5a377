# ShopFlow: the root stack of every environment. An environment is this directory with its own
# state (backend-<env>.hcl) and its own values (<env>.tfvars, which sets exactly what differs
# between environments):
#   terraform init -reconfigure -backend-config=backend-dev.hcl
#   terraform apply -var-file=dev.tfvars

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(
      {
        Project     = "shopflow"
        Environment = var.environment
        ManagedBy   = "terraform"
      },
      var.tags,
    )
  }
}

data "aws_caller_identity" "current" {}

locals {
  name_prefix = "${var.name_prefix}-${var.environment}"
  account_id  = data.aws_caller_identity.current.account_id

  # Zips from `cargo lambda build --release --output-format zip`: <dir>/<crate>/bootstrap.zip.
  artifact_dir = var.artifact_dir != "" ? var.artifact_dir : "${path.root}/../../target/lambda"

  # One dataset per default contract (the functions embed contracts/*.toml).
  datasets = sort([for f in fileset("${path.root}/../../contracts", "*.toml") : trimsuffix(f, ".toml")])

  lake_bucket_name = "${local.name_prefix}-lake-${local.account_id}-${var.region}"
  log_bucket_name  = "${local.name_prefix}-access-logs-${local.account_id}-${var.region}"
  glue_database    = replace(local.name_prefix, "-", "_")

  metrics_namespace = var.metrics_namespace != "" ? var.metrics_namespace : "ShopFlow/${var.environment}"
}

module "kms" {
  source = "../modules/kms"

  alias                   = local.name_prefix
  description             = "ShopFlow ${var.environment}: lake, tables, stream, queues, topic, logs, function environment"
  deletion_window_in_days = var.kms_deletion_window_days
}

module "lake" {
  source = "../modules/lake"

  bucket_name                    = local.lake_bucket_name
  log_bucket_name                = local.log_bucket_name
  kms_key_arn                    = module.kms.key_arn
  force_destroy                  = var.force_destroy
  landing_ia_days                = var.landing_ia_days
  landing_glacier_days           = var.landing_glacier_days
  bronze_ia_days                 = var.bronze_ia_days
  bronze_glacier_days            = var.bronze_glacier_days
  quarantine_expiry_days         = var.quarantine_expiry_days
  noncurrent_version_expiry_days = var.noncurrent_version_expiry_days
  athena_results_expiry_days     = var.athena_results_expiry_days
  access_log_expiry_days         = var.access_log_expiry_days
  transformer_function_name      = module.functions.transformer_name
  transformer_function_arn       = module.functions.transformer_arn
}

module "tables" {
  source = "../modules/tables"

  name_prefix         = local.name_prefix
  kms_key_arn         = module.kms.key_arn
  deletion_protection = var.dynamodb_deletion_protection
}

module "notifications" {
  source = "../modules/notifications"

  topic_name  = "${local.name_prefix}-notifications"
  kms_key_arn = module.kms.key_arn
  alert_email = var.alert_email
}

module "ingestion" {
  source = "../modules/ingestion"

  name_prefix                  = local.name_prefix
  kms_key_arn                  = module.kms.key_arn
  on_demand                    = var.kinesis_on_demand
  shard_count                  = var.kinesis_shard_count
  retention_hours              = var.kinesis_retention_hours
  product_fetch_function_arn   = module.functions.product_fetch_arn
  batch_size                   = var.fetch_batch_size
  batching_window_seconds      = var.fetch_batching_window_seconds
  parallelization_factor       = var.fetch_parallelization_factor
  maximum_retry_attempts       = var.fetch_maximum_retry_attempts
  maximum_record_age_seconds   = var.fetch_maximum_record_age_seconds
  ingest_trigger_function_name = module.functions.ingest_trigger_name
  ingest_trigger_invoke_arn    = module.functions.ingest_trigger_invoke_arn
  throttling_burst_limit       = var.api_throttling_burst_limit
  throttling_rate_limit        = var.api_throttling_rate_limit
  log_retention_days           = var.log_retention_days
}

module "functions" {
  source = "../modules/functions"

  name_prefix                      = local.name_prefix
  artifact_dir                     = local.artifact_dir
  lambda_architecture              = var.lambda_architecture
  memory_mb                        = var.lambda_memory_mb
  timeout_seconds                  = var.lambda_timeout_seconds
  reserved_concurrency             = var.lambda_reserved_concurrency
  transformer_ephemeral_storage_mb = var.transformer_ephemeral_storage_mb
  log_retention_days               = var.log_retention_days
  log_level                        = var.log_level
  kms_key_arn                      = module.kms.key_arn
  lake_bucket_name                 = module.lake.bucket_name
  lake_bucket_arn                  = module.lake.bucket_arn
  stream_name                      = module.ingestion.stream_name
  stream_arn                       = module.ingestion.stream_arn
  fetch_dlq_arn                    = module.ingestion.fetch_dlq_arn
  products_table_name              = module.tables.products_table_name
  products_table_arn               = module.tables.products_table_arn
  ledger_table_name                = module.tables.ledger_table_name
  ledger_table_arn                 = module.tables.ledger_table_arn
  runs_table_name                  = module.tables.runs_table_name
  runs_table_arn                   = module.tables.runs_table_arn
  topic_arn                        = module.notifications.topic_arn
  product_sources                  = var.product_sources
  default_source                   = var.default_source
  default_page_size                = var.default_page_size
  default_max_items                = var.default_max_items
  http_timeout_ms                  = var.http_timeout_ms
  max_attempts                     = var.max_attempts
  base_backoff_ms                  = var.base_backoff_ms
  max_backoff_ms                   = var.max_backoff_ms
  metrics_namespace                = local.metrics_namespace
  batch_rows                       = var.batch_rows
  transformer_lease_minutes        = var.transformer_lease_minutes
  alert_rejected_pct               = var.alert_rejected_pct
  anomaly_threshold_pct            = var.anomaly_threshold_pct
  lookback_days                    = var.lookback_days
  async_max_retry_attempts         = var.async_max_retry_attempts
  async_max_event_age_seconds      = var.async_max_event_age_seconds
}

module "orchestration" {
  source = "../modules/orchestration"

  name_prefix                   = local.name_prefix
  kms_key_arn                   = module.kms.key_arn
  log_retention_days            = var.log_retention_days
  transformer_arn               = module.functions.transformer_arn
  report_generator_arn          = module.functions.report_generator_arn
  ingest_trigger_arn            = module.functions.ingest_trigger_arn
  topic_arn                     = module.notifications.topic_arn
  lake_bucket_name              = module.lake.bucket_name
  schedule_dlq_arn              = module.functions.async_dlq_arn
  ingestion_schedule_expression = var.ingestion_schedule_expression
  pipeline_schedule_expression  = var.pipeline_schedule_expression
  schedule_timezone             = var.schedule_timezone
}

module "monitoring" {
  source = "../modules/monitoring"

  name_prefix    = local.name_prefix
  topic_arn      = module.notifications.topic_arn
  function_names = module.functions.function_names
  stream_name    = module.ingestion.stream_name
  dlq_names = {
    fetch = module.ingestion.fetch_dlq_name
    async = module.functions.async_dlq_name
  }
  state_machine_arn         = module.orchestration.state_machine_arn
  api_id                    = module.ingestion.api_id
  api_stage                 = module.ingestion.api_stage
  metrics_namespace         = local.metrics_namespace
  datasets                  = local.datasets
  landing_check_datasets    = var.landing_check_datasets
  rejected_pct_threshold    = var.alert_rejected_pct
  iterator_age_threshold_ms = var.iterator_age_alarm_ms
  landing_cutoff_hour_utc   = var.landing_cutoff_hour_utc
}

module "catalog" {
  source = "../modules/catalog"

  database_name                  = local.glue_database
  workgroup_name                 = local.name_prefix
  lake_bucket_name               = module.lake.bucket_name
  results_prefix                 = module.lake.athena_results_prefix
  kms_key_arn                    = module.kms.key_arn
  bytes_scanned_cutoff_per_query = var.athena_bytes_scanned_cutoff
  force_destroy                  = var.force_destroy
}
