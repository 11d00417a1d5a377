variable "name_prefix" {
  description = "Prefix of every name, e.g. shopflow-dev."
  type        = string
}

variable "kms_key_arn" {
  description = "The stack's customer-managed key."
  type        = string
}

variable "on_demand" {
  description = "Kinesis capacity mode: true for ON_DEMAND, false for PROVISIONED with shard_count shards."
  type        = bool
}

variable "shard_count" {
  description = "Shards of the stream in PROVISIONED mode."
  type        = number
}

variable "retention_hours" {
  description = "Stream retention (24 to 8760 hours)."
  type        = number
}

variable "product_fetch_function_arn" {
  description = "ARN of product-fetch."
  type        = string
}

variable "batch_size" {
  description = "Records per product-fetch invocation."
  type        = number
}

variable "batching_window_seconds" {
  description = "Longest wait to fill a batch (0 to 300 s)."
  type        = number
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1 to 10)."
  type        = number
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch (after bisecting) before it goes to the fetch DLQ."
  type        = number
}

variable "maximum_record_age_seconds" {
  description = "Oldest record the mapping still sends to the function (60 to 604800 s)."
  type        = number
}

variable "ingest_trigger_function_name" {
  description = "Name of ingest-trigger."
  type        = string
}

variable "ingest_trigger_invoke_arn" {
  description = "Invoke ARN of ingest-trigger."
  type        = string
}

variable "throttling_burst_limit" {
  description = "HTTP API burst limit (requests)."
  type        = number
}

variable "throttling_rate_limit" {
  description = "HTTP API steady-state rate limit (requests per second)."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the API access log group."
  type        = number
}
