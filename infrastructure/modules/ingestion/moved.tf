# Stacks created before the fetch DLQ became a call of modules/encrypted_queue hold the queue and
# its policy under their old addresses. These blocks move them to the module, so the next plan
# keeps the queue (and the failed batches in it) instead of deleting and recreating it.

moved {
  from = aws_sqs_queue.fetch_dlq
  to   = module.fetch_dlq.aws_sqs_queue.this
}

moved {
  from = aws_sqs_queue_policy.fetch_dlq
  to   = module.fetch_dlq.aws_sqs_queue_policy.this
}
