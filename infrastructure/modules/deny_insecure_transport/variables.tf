variable "actions" {
  description = "The actions refused without TLS, e.g. [\"sqs:*\"] or [\"s3:*\"]."
  type        = list(string)
}

variable "resources" {
  description = "The resources the policy is attached to (a bucket's policy names the bucket and its objects)."
  type        = list(string)
}
