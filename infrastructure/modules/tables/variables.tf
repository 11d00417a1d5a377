variable "name_prefix" {
  description = "Prefix of every table name, e.g. shopflow-dev."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for table encryption."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse table deletion (turn off before terraform destroy)."
  type        = bool
}
