# One SQS queue of the stack: encrypted with the stack's key, messages kept 14 days (the longest
# SQS allows, to inspect and redrive them), and a queue policy that refuses requests without
# TLS. Used for the dead-letter queues (modules/functions: async DLQ, modules/ingestion: fetch
# DLQ).

resource "aws_sqs_queue" "this" {
  name                              = var.name
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
}

module "deny_insecure_transport" {
  source = "../deny_insecure_transport"

  actions   = ["sqs:*"]
  resources = [aws_sqs_queue.this.arn]
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = module.deny_insecure_transport.json
}
