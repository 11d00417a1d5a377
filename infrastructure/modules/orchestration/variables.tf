variable "name_prefix" {
  description = "Prefix of every name, e.g. shopflow-dev."
  type        = string
}

variable "kms_key_arn" {
  description = "The stack's customer-managed key."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the state machine's log group."
  type        = number
}

variable "transformer_arn" {
  description = "ARN of transformer (templatefile variable transformer_arn)."
  type        = string
}

variable "report_generator_arn" {
  description = "ARN of report-generator (templatefile variable report_generator_arn)."
  type        = string
}

variable "ingest_trigger_arn" {
  description = "ARN of ingest-trigger (daily ingestion schedule target)."
  type        = string
}

variable "topic_arn" {
  description = "SNS topic (templatefile variable topic_arn)."
  type        = string
}

variable "lake_bucket_name" {
  description = "Lake bucket (templatefile variable lake_bucket)."
  type        = string
}

variable "schedule_dlq_arn" {
  description = "SQS queue for schedule deliveries that fail (the async DLQ)."
  type        = string
}

variable "ingestion_schedule_expression" {
  description = "When the daily product ingestion runs, e.g. cron(0 2 * * ? *)."
  type        = string
}

variable "pipeline_schedule_expression" {
  description = "When the daily pipeline runs, e.g. cron(0 4 * * ? *)."
  type        = string
}

variable "schedule_timezone" {
  description = "IANA time zone of both schedule expressions."
  type        = string
}
