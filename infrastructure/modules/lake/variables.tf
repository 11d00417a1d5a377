variable "bucket_name" {
  description = "Name of the lake bucket (globally unique)."
  type        = string
}

variable "log_bucket_name" {
  description = "Name of the bucket that receives the lake's S3 server access logs."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for SSE-KMS on the lake bucket."
  type        = string
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete non-empty buckets (dev only)."
  type        = bool
}

variable "landing_ia_days" {
  description = "Days after which landing/ objects move to STANDARD_IA (at least 30)."
  type        = number
}

variable "landing_glacier_days" {
  description = "Days after which landing/ objects move to GLACIER_IR (at least landing_ia_days + 30)."
  type        = number
}

variable "bronze_ia_days" {
  description = "Days after which bronze/ objects move to STANDARD_IA (at least 30)."
  type        = number
}

variable "bronze_glacier_days" {
  description = "Days after which bronze/ objects move to GLACIER_IR (at least bronze_ia_days + 30)."
  type        = number
}

variable "quarantine_expiry_days" {
  description = "Days after which quarantine/ objects expire."
  type        = number
}

variable "noncurrent_version_expiry_days" {
  description = "Days after which noncurrent object versions are deleted."
  type        = number
}

variable "athena_results_expiry_days" {
  description = "Days after which Athena query results under athena-results/ expire."
  type        = number
}

variable "access_log_expiry_days" {
  description = "Days after which S3 server access logs expire."
  type        = number
}

variable "transformer_function_name" {
  description = "Name of the transformer function (S3 notifications on landing/)."
  type        = string
}

variable "transformer_function_arn" {
  description = "ARN of the transformer function."
  type        = string
}
