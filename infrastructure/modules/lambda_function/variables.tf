variable "name_prefix" {
  description = "Prefix of every name, e.g. shopflow-dev: the function is <name_prefix>-<crate>."
  type        = string
}

variable "crate" {
  description = "The function's crate (crates/<crate>): it names the function, its role, policy and log group, and its zip <artifact_dir>/<crate>/bootstrap.zip."
  type        = string
}

variable "description" {
  description = "The function's description: what triggers it and what it produces."
  type        = string
}

variable "artifact_dir" {
  description = "Directory holding <crate>/bootstrap.zip from `cargo lambda build --release --output-format zip`."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the function: arm64 or x86_64; must match the build."
  type        = string

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_mb" {
  description = "Memory (MB)."
  type        = number
}

variable "timeout_seconds" {
  description = "Timeout (seconds)."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency: the most instances that run at once."
  type        = number
}

variable "ephemeral_storage_mb" {
  description = "Size of /tmp (MB, 512 to 10240); null keeps Lambda's default of 512 MB."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
}

variable "log_level" {
  description = "Application log level (logging_config.application_log_level): TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  type        = string

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "kms_key_arn" {
  description = "The stack's customer-managed key: the log group and the environment variables are encrypted with it, and the role may use it (kms:Decrypt, kms:GenerateDataKey) for every encrypted resource the function reads or writes."
  type        = string
}

variable "environment" {
  description = "The function's environment variables: exactly those its code reads."
  type        = map(string)
}

variable "policy_json" {
  description = "The AWS calls the function's code makes (a policy document's JSON, statement ids Code*), and nothing more; the module adds the platform statements (logs, X-Ray, KMS, the on-failure destination)."
  type        = string
}

variable "async_invocation" {
  description = "For a function invoked asynchronously: Lambda's retries and oldest event tried, and where events that still fail go (the role may send to it). Null for a function only invoked synchronously."
  type = object({
    max_retry_attempts         = number
    max_event_age_seconds      = number
    on_failure_destination_arn = string
  })
  default = null
}

variable "preconditions" {
  description = "Conditions on the function's settings that involve other settings, each with the message to show when it does not hold."
  type = list(object({
    condition     = bool
    error_message = string
  }))
  default = []
}
