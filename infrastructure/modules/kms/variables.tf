variable "alias" {
  description = "Key alias, without the alias/ prefix."
  type        = string
}

variable "description" {
  description = "Key description."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion (7 to 30 days)."
  type        = number
}
