variable "name" {
  description = "Queue name, e.g. shopflow-dev-async-dlq."
  type        = string
}

variable "kms_key_arn" {
  description = "The stack's customer-managed key (SSE-KMS on the queue)."
  type        = string
}
