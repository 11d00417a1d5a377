variable "name_prefix" {
  description = "Prefix of every name, e.g. shopflow-dev."
  type        = string
}

variable "artifact_dir" {
  description = "Directory holding <crate>/bootstrap.zip from `cargo lambda build --release --output-format zip` (target/lambda)."
  type        = string
}

variable "lambda_architecture" {
  description = "Instruction set of every function: arm64 (Graviton) or x86_64; must match the build."
  type        = string

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "memory_mb" {
  description = "Memory per function (MB), keyed by crate name."
  type        = map(number)

  validation {
    condition     = alltrue([for k in ["ingest-trigger", "product-fetch", "transformer", "report-generator"] : contains(keys(var.memory_mb), k)])
    error_message = "memory_mb needs ingest-trigger, product-fetch, transformer and report-generator."
  }
}

variable "timeout_seconds" {
  description = "Timeout per function (seconds), keyed by crate name."
  type        = map(number)

  validation {
    condition     = alltrue([for k in ["ingest-trigger", "product-fetch", "transformer", "report-generator"] : contains(keys(var.timeout_seconds), k)])
    error_message = "timeout_seconds needs ingest-trigger, product-fetch, transformer and report-generator."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function, keyed by crate name."
  type        = map(number)

  validation {
    condition     = alltrue([for k in ["ingest-trigger", "product-fetch", "transformer", "report-generator"] : contains(keys(var.reserved_concurrency), k)])
    error_message = "reserved_concurrency needs ingest-trigger, product-fetch, transformer and report-generator."
  }
}

variable "transformer_ephemeral_storage_mb" {
  description = "The transformer's /tmp size (MB, 512 to 10240): the largest landing file it can stage."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups."
  type        = number
}

variable "log_level" {
  description = "Application log level of every function (Lambda's logging_config): TRACE, DEBUG, INFO, WARN, ERROR or FATAL. The functions keep their dependencies one notch quieter; RUST_LOG is not set in AWS."
  type        = string
}

variable "kms_key_arn" {
  description = "The stack's customer-managed key."
  type        = string
}

variable "lake_bucket_name" {
  description = "Lake bucket name."
  type        = string
}

variable "lake_bucket_arn" {
  description = "Lake bucket ARN."
  type        = string
}

variable "stream_name" {
  description = "Kinesis stream of fetch tasks."
  type        = string
}

variable "stream_arn" {
  description = "ARN of the Kinesis stream of fetch tasks."
  type        = string
}

variable "fetch_dlq_arn" {
  description = "ARN of the SQS queue that receives failed Kinesis batches (product-fetch's event source mapping)."
  type        = string
}

variable "products_table_name" {
  description = "Products table name."
  type        = string
}

variable "products_table_arn" {
  description = "Products table ARN."
  type        = string
}

variable "ledger_table_name" {
  description = "Ledger table name."
  type        = string
}

variable "ledger_table_arn" {
  description = "Ledger table ARN."
  type        = string
}

variable "runs_table_name" {
  description = "Runs (idempotency keys) table name."
  type        = string
}

variable "runs_table_arn" {
  description = "Runs table ARN."
  type        = string
}

variable "topic_arn" {
  description = "SNS topic for summaries and alerts."
  type        = string
}

variable "product_sources" {
  description = "Product APIs by source name (PRODUCT_SOURCES); a source named fakestore is fetched as one page."
  type        = map(string)
}

variable "default_source" {
  description = "Source of the schedule and of requests naming none (DEFAULT_SOURCE)."
  type        = string
}

variable "default_page_size" {
  description = "DEFAULT_PAGE_SIZE (1..100)."
  type        = number
}

variable "default_max_items" {
  description = "DEFAULT_MAX_ITEMS (1..10000)."
  type        = number
}

variable "put_attempts" {
  description = "PUT_ATTEMPTS: attempts of a Kinesis PutRecords call whose records were throttled, first try included."
  type        = number
  default     = 5

  validation {
    condition     = var.put_attempts >= 1 && var.put_attempts <= 20
    error_message = "put_attempts must be between 1 and 20."
  }
}

variable "http_timeout_ms" {
  description = "HTTP_TIMEOUT_MS: per-request timeout of product-fetch."
  type        = number
}

variable "max_attempts" {
  description = "MAX_ATTEMPTS: tries per page."
  type        = number
}

variable "base_backoff_ms" {
  description = "BASE_BACKOFF_MS."
  type        = number
}

variable "max_backoff_ms" {
  description = "MAX_BACKOFF_MS (also caps Retry-After)."
  type        = number
}

variable "metrics_namespace" {
  description = "METRICS_NAMESPACE: the transformer's EMF namespace."
  type        = string
}

variable "batch_rows" {
  description = "BATCH_ROWS: records per batch in the transformer."
  type        = number
}

variable "transformer_lease_minutes" {
  description = "LEASE_MINUTES: ledger claim lease; must exceed the transformer's timeout."
  type        = number
}

variable "alert_rejected_pct" {
  description = "ALERT_REJECTED_PCT: report-generator's data-quality alert threshold (percent of rows)."
  type        = number
}

variable "anomaly_threshold_pct" {
  description = "ANOMALY_THRESHOLD_PCT: KPI move against the trailing 7-day average that raises an anomaly alert."
  type        = number
}

variable "lookback_days" {
  description = "LOOKBACK_DAYS: days before the report date whose gold partitions are rebuilt."
  type        = number
}

variable "async_max_retry_attempts" {
  description = "Lambda retries of a failed asynchronous invocation (0..2) before the async DLQ."
  type        = number
}

variable "async_max_event_age_seconds" {
  description = "Oldest asynchronous event Lambda still tries (60..21600 s) before the async DLQ."
  type        = number
}
