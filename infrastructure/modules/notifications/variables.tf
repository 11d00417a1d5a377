variable "topic_name" {
  description = "SNS topic name."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for the topic."
  type        = string
}

variable "alert_email" {
  description = "E-mail address subscribed to the topic; empty for none."
  type        = string
}
