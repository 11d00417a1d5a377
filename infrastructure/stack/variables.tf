# Every variable of the stack. A variable whose value differs between environments has no
# default: each <env>.tfvars sets it, so that no environment can be applied with another's values
# (tests/infra checks that the files set every such variable and nothing undeclared). Every other
# variable has one default for all environments.

# ---------------------------------------------------------------------------------------------
# Where and what
# ---------------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "First part of every resource name; the environment is appended (shopflow-dev-..., shopflow-prod-...)."
  type        = string
  default     = "shopflow"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix: lower-case letters, digits and hyphens, 2 to 21 characters, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, appended to name_prefix; set by <env>.tfvars."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{2,10}$", var.environment))
    error_message = "environment: 2 to 10 lower-case letters or digits."
  }
}

variable "tags" {
  description = "Extra tags on every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

variable "alert_email" {
  description = "E-mail address subscribed to the summaries-and-alerts topic (confirm the subscription mail); empty for none."
  type        = string
  default     = ""

  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be empty or an e-mail address."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets and the Athena workgroup's queries; set by <env>.tfvars."
  type        = bool
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the stack's KMS key is deleted after a destroy (7 to 30 days); set by <env>.tfvars."
  type        = number

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group (functions, API access logs, state machine)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, ...)."
  }
}

# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------

variable "artifact_dir" {
  description = "Directory of the Lambda zips (<crate>/bootstrap.zip from `cargo lambda build --release --output-format zip`); empty for the repository's target/lambda."
  type        = string
  default     = ""
}

variable "lambda_architecture" {
  description = "Instruction set of the functions; must match the build (`./scripts/build-lambdas.sh --arm64` for arm64)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_memory_mb" {
  description = "Memory per function (MB), by crate; set by <env>.tfvars."
  type        = map(number)
}

variable "lambda_timeout_seconds" {
  description = "Timeout per function (s), by crate. ingest-trigger answers the HTTP API (29 s integration limit); the state machine's task timeouts are 900 s for transformer and report-generator."
  type        = map(number)
  default = {
    "ingest-trigger"   = 25
    "product-fetch"    = 300
    "transformer"      = 900
    "report-generator" = 900
  }
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency per function, by crate: product-fetch protects the product API, transformer the ledger table and the lake, report-generator allows one gold build at a time. The account must keep 100 unreserved."
  type        = map(number)
  default = {
    "ingest-trigger"   = 5
    "product-fetch"    = 2
    "transformer"      = 10
    "report-generator" = 1
  }
}

variable "transformer_ephemeral_storage_mb" {
  description = "The transformer's /tmp (MB, 512 to 10240): bounds the largest landing file it can stage; set by <env>.tfvars."
  type        = number

  validation {
    condition     = var.transformer_ephemeral_storage_mb >= 512 && var.transformer_ephemeral_storage_mb <= 10240
    error_message = "transformer_ephemeral_storage_mb must be between 512 and 10240."
  }
}

variable "log_level" {
  description = "Application log level of every function (Lambda's logging_config): TRACE, DEBUG, INFO, WARN, ERROR or FATAL. The functions keep their dependencies one notch quieter; RUST_LOG is not set in AWS."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "async_max_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (S3 notification, schedule) before the async DLQ (0 to 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.async_max_retry_attempts >= 0 && var.async_max_retry_attempts <= 2
    error_message = "async_max_retry_attempts must be 0, 1 or 2."
  }
}

variable "async_max_event_age_seconds" {
  description = "Oldest asynchronous event still tried (60 to 21600 s), e.g. while the transformer is throttled."
  type        = number
  default     = 21600

  validation {
    condition     = var.async_max_event_age_seconds >= 60 && var.async_max_event_age_seconds <= 21600
    error_message = "async_max_event_age_seconds must be between 60 and 21600."
  }
}

# ---------------------------------------------------------------------------------------------
# Product API and ingestion
# ---------------------------------------------------------------------------------------------

variable "product_sources" {
  description = "Product APIs by source name (PRODUCT_SOURCES). A source named fakestore is fetched as one page; others as {url}?limit=&skip=."
  type        = map(string)
  default = {
    dummyjson = "https://dummyjson.com/products"
    fakestore = "https://fakestoreapi.com/products"
  }

  validation {
    condition     = length(var.product_sources) > 0 && alltrue([for url in values(var.product_sources) : can(regex("^https?://", url))])
    error_message = "product_sources needs at least one entry, each an http(s) URL."
  }
}

variable "default_source" {
  description = "Source of the daily schedule and of requests naming none (DEFAULT_SOURCE); one of product_sources."
  type        = string
  default     = "dummyjson"
}

variable "default_page_size" {
  description = "Products per page when the request gives none (DEFAULT_PAGE_SIZE, 1 to 100)."
  type        = number
  default     = 30

  validation {
    condition     = var.default_page_size >= 1 && var.default_page_size <= 100
    error_message = "default_page_size must be between 1 and 100."
  }
}

variable "default_max_items" {
  description = "Products per run when the request gives none (DEFAULT_MAX_ITEMS, 1 to 10000)."
  type        = number
  default     = 194

  validation {
    condition     = var.default_max_items >= 1 && var.default_max_items <= 10000
    error_message = "default_max_items must be between 1 and 10000."
  }
}

variable "http_timeout_ms" {
  description = "product-fetch's per-request timeout (HTTP_TIMEOUT_MS)."
  type        = number
  default     = 3000
}

variable "max_attempts" {
  description = "product-fetch's tries per page on 429, 5xx and transport errors (MAX_ATTEMPTS)."
  type        = number
  default     = 4
}

variable "base_backoff_ms" {
  description = "First backoff between tries (BASE_BACKOFF_MS)."
  type        = number
  default     = 200
}

variable "max_backoff_ms" {
  description = "Longest backoff, also the cap on Retry-After (MAX_BACKOFF_MS)."
  type        = number
  default     = 5000
}

variable "kinesis_on_demand" {
  description = "Kinesis capacity mode: true for ON_DEMAND, false for PROVISIONED with kinesis_shard_count shards (cheaper at this volume)."
  type        = bool
  default     = false
}

variable "kinesis_shard_count" {
  description = "Shards in PROVISIONED mode."
  type        = number
  default     = 1
}

variable "kinesis_retention_hours" {
  description = "How long fetch tasks stay on the stream (24 to 8760 hours)."
  type        = number
  default     = 24

  validation {
    condition     = var.kinesis_retention_hours >= 24 && var.kinesis_retention_hours <= 8760
    error_message = "kinesis_retention_hours must be between 24 and 8760."
  }
}

variable "fetch_batch_size" {
  description = "Fetch tasks (pages) per product-fetch invocation."
  type        = number
  default     = 10
}

variable "fetch_batching_window_seconds" {
  description = "Longest wait to fill a batch (0 to 300 s)."
  type        = number
  default     = 5

  validation {
    condition     = var.fetch_batching_window_seconds >= 0 && var.fetch_batching_window_seconds <= 300
    error_message = "fetch_batching_window_seconds must be between 0 and 300."
  }
}

variable "fetch_parallelization_factor" {
  description = "Concurrent batches per shard (1 to 10); reserved concurrency of product-fetch caps the total."
  type        = number
  default     = 1

  validation {
    condition     = var.fetch_parallelization_factor >= 1 && var.fetch_parallelization_factor <= 10
    error_message = "fetch_parallelization_factor must be between 1 and 10."
  }
}

variable "fetch_maximum_retry_attempts" {
  description = "Retries of a failing batch (bisected on error) before it is recorded in the fetch DLQ (0 to 10000)."
  type        = number
  default     = 3

  validation {
    condition     = var.fetch_maximum_retry_attempts >= 0 && var.fetch_maximum_retry_attempts <= 10000
    error_message = "fetch_maximum_retry_attempts must be between 0 and 10000."
  }
}

variable "fetch_maximum_record_age_seconds" {
  description = "Oldest fetch task still sent to product-fetch (60 to 604800 s)."
  type        = number
  default     = 3600

  validation {
    condition     = var.fetch_maximum_record_age_seconds >= 60 && var.fetch_maximum_record_age_seconds <= 604800
    error_message = "fetch_maximum_record_age_seconds must be between 60 and 604800."
  }
}

variable "api_throttling_burst_limit" {
  description = "POST /ingestions burst limit (requests)."
  type        = number
  default     = 10
}

variable "api_throttling_rate_limit" {
  description = "POST /ingestions steady rate limit (requests per second)."
  type        = number
  default     = 5
}

# ---------------------------------------------------------------------------------------------
# Transformer and report
# ---------------------------------------------------------------------------------------------

variable "metrics_namespace" {
  description = "CloudWatch namespace of the transformer's EMF metrics (METRICS_NAMESPACE); the alarms and dashboard read it. Empty for ShopFlow/<environment>."
  type        = string
  default     = ""
}

variable "batch_rows" {
  description = "Records per batch in the transformer (BATCH_ROWS): bounds its memory per file."
  type        = number
  default     = 8192
}

variable "transformer_lease_minutes" {
  description = "Ledger claim lease (LEASE_MINUTES); must be longer than the transformer's timeout."
  type        = number
  default     = 20
}

variable "alert_rejected_pct" {
  description = "Data-quality threshold (percent of rows rejected): report-generator's alert (ALERT_REJECTED_PCT) and the per-dataset CloudWatch alarm."
  type        = number
  default     = 5

  validation {
    condition     = var.alert_rejected_pct >= 0 && var.alert_rejected_pct <= 100
    error_message = "alert_rejected_pct must be between 0 and 100."
  }
}

variable "anomaly_threshold_pct" {
  description = "Flag a KPI that moves more than this percentage against its trailing 7-day average (ANOMALY_THRESHOLD_PCT)."
  type        = number
  default     = 50
}

variable "lookback_days" {
  description = "Days before the report date whose gold partitions are rebuilt for late data (LOOKBACK_DAYS)."
  type        = number
  default     = 3

  validation {
    condition     = var.lookback_days >= 0 && floor(var.lookback_days) == var.lookback_days
    error_message = "lookback_days must be a whole number, 0 or more."
  }
}

# ---------------------------------------------------------------------------------------------
# Lake lifecycle
# ---------------------------------------------------------------------------------------------

variable "landing_ia_days" {
  description = "Days before landing/ objects move to STANDARD_IA (30 or more)."
  type        = number
  default     = 30

  validation {
    condition     = var.landing_ia_days >= 30
    error_message = "landing_ia_days must be at least 30 (S3's minimum for STANDARD_IA)."
  }
}

variable "landing_glacier_days" {
  description = "Days before landing/ objects move to GLACIER_IR (at least landing_ia_days + 30)."
  type        = number
  default     = 90
}

variable "bronze_ia_days" {
  description = "Days before bronze/ objects move to STANDARD_IA (30 or more)."
  type        = number
  default     = 30

  validation {
    condition     = var.bronze_ia_days >= 30
    error_message = "bronze_ia_days must be at least 30 (S3's minimum for STANDARD_IA)."
  }
}

variable "bronze_glacier_days" {
  description = "Days before bronze/ objects move to GLACIER_IR (at least bronze_ia_days + 30)."
  type        = number
  default     = 180
}

variable "quarantine_expiry_days" {
  description = "Days before quarantined rows and files expire; set by <env>.tfvars."
  type        = number

  validation {
    condition     = var.quarantine_expiry_days >= 1
    error_message = "quarantine_expiry_days must be at least 1."
  }
}

variable "noncurrent_version_expiry_days" {
  description = "Days before noncurrent object versions (overwritten or deleted objects) are removed; set by <env>.tfvars."
  type        = number
}

variable "athena_results_expiry_days" {
  description = "Days before Athena query results expire."
  type        = number
  default     = 30
}

variable "access_log_expiry_days" {
  description = "Days before S3 server access logs expire."
  type        = number
  default     = 365
}

variable "dynamodb_deletion_protection" {
  description = "Protect the DynamoDB tables from deletion (set false, apply, then destroy); set by <env>.tfvars."
  type        = bool
}

# ---------------------------------------------------------------------------------------------
# Schedules and alarms
# ---------------------------------------------------------------------------------------------

variable "ingestion_schedule_expression" {
  description = "When the daily product ingestion runs (EventBridge Scheduler expression)."
  type        = string
  default     = "cron(0 2 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.ingestion_schedule_expression))
    error_message = "ingestion_schedule_expression must be cron(...), rate(...) or at(...)."
  }
}

variable "pipeline_schedule_expression" {
  description = "When the daily pipeline (catch-up transform, quality gate, report) runs."
  type        = string
  default     = "cron(0 4 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.pipeline_schedule_expression))
    error_message = "pipeline_schedule_expression must be cron(...), rate(...) or at(...)."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone of the schedule expressions."
  type        = string
  default     = "UTC"
}

variable "iterator_age_alarm_ms" {
  description = "Alarm when fetch tasks wait longer than this on the stream (ms)."
  type        = number
  default     = 600000
}

variable "landing_cutoff_hour_utc" {
  description = "UTC hour by which the day's files must have landed; the no-data alarm checks the 24 hours before it."
  type        = number
  default     = 6

  validation {
    condition     = var.landing_cutoff_hour_utc >= 0 && var.landing_cutoff_hour_utc <= 23 && floor(var.landing_cutoff_hour_utc) == var.landing_cutoff_hour_utc
    error_message = "landing_cutoff_hour_utc must be a whole hour between 0 and 23."
  }
}

variable "landing_check_datasets" {
  description = "Datasets whose rows count for the no-data alarm: the daily file drops (the daily product fetch always lands products, so it is left out)."
  type        = list(string)
  default     = ["transactions"]
}

variable "athena_bytes_scanned_cutoff" {
  description = "Largest scan one Athena query of the workgroup may make (bytes)."
  type        = number
  default     = 10737418240
}
