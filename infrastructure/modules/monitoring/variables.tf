variable "name_prefix" {
  description = "Prefix of every name, e.g. shopflow-dev."
  type        = string
}

variable "topic_arn" {
  description = "SNS topic every alarm notifies (ALARM and OK)."
  type        = string
}

variable "function_names" {
  description = "Function names keyed by crate name."
  type        = map(string)
}

variable "stream_name" {
  description = "Kinesis stream of fetch tasks."
  type        = string
}

variable "dlq_names" {
  description = "Dead-letter queue names keyed by a short label."
  type        = map(string)
}

variable "state_machine_arn" {
  description = "ARN of the daily pipeline state machine."
  type        = string
}

variable "api_id" {
  description = "HTTP API id."
  type        = string
}

variable "api_stage" {
  description = "HTTP API stage name."
  type        = string
}

variable "metrics_namespace" {
  description = "The transformer's EMF namespace (METRICS_NAMESPACE)."
  type        = string
}

variable "datasets" {
  description = "Datasets the transformer reports metrics for (the contracts)."
  type        = list(string)
}

variable "landing_check_datasets" {
  description = "Datasets whose rows count for the no-data-landed alarm (the daily file drops)."
  type        = list(string)

  validation {
    condition     = length(var.landing_check_datasets) > 0 && length(var.landing_check_datasets) <= 10
    error_message = "landing_check_datasets needs 1 to 10 datasets (an alarm reads at most 10 metrics)."
  }
}

variable "rejected_pct_threshold" {
  description = "Alarm when more than this percentage of a dataset's rows in an hour are rejected."
  type        = number
}

variable "iterator_age_threshold_ms" {
  description = "Alarm when fetch tasks wait longer than this on the stream (ms)."
  type        = number
}

variable "landing_cutoff_hour_utc" {
  description = "UTC hour (0-23) by which the day's data must have landed."
  type        = number

  validation {
    condition     = var.landing_cutoff_hour_utc >= 0 && var.landing_cutoff_hour_utc <= 23 && floor(var.landing_cutoff_hour_utc) == var.landing_cutoff_hour_utc
    error_message = "landing_cutoff_hour_utc must be a whole hour between 0 and 23."
  }
}
