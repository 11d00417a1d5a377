variable "database_name" {
  description = "Glue database (lower case, letters, digits and underscores)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]+$", var.database_name))
    error_message = "database_name may contain only lower-case letters, digits and underscores."
  }
}

variable "workgroup_name" {
  description = "Athena workgroup."
  type        = string
}

variable "lake_bucket_name" {
  description = "Lake bucket holding silver/ and gold/."
  type        = string
}

variable "results_prefix" {
  description = "Prefix of Athena results in the lake bucket (expired by the lake's lifecycle)."
  type        = string
}

variable "kms_key_arn" {
  description = "Key for SSE-KMS on Athena results."
  type        = string
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Largest scan one query may make (bytes, at least 10 MB)."
  type        = number
}

variable "force_destroy" {
  description = "Delete the workgroup with its named queries and history on destroy."
  type        = bool
}
