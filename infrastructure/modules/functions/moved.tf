# Stacks created before the functions became calls of modules/lambda_function hold them under
# their old addresses. These blocks tell Terraform that they are the same objects, so the next
# plan moves them to their new addresses instead of destroying and recreating every function, role and log
# group (a recreated log group would lose its logs).

moved {
  from = aws_cloudwatch_log_group.ingest_trigger
  to   = module.ingest_trigger.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.ingest_trigger
  to   = module.ingest_trigger.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.ingest_trigger
  to   = module.ingest_trigger.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.ingest_trigger
  to   = module.ingest_trigger.aws_lambda_function.this
}

moved {
  from = aws_lambda_function_event_invoke_config.ingest_trigger
  to   = module.ingest_trigger.aws_lambda_function_event_invoke_config.this[0]
}

moved {
  from = aws_cloudwatch_log_group.product_fetch
  to   = module.product_fetch.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.product_fetch
  to   = module.product_fetch.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.product_fetch
  to   = module.product_fetch.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.product_fetch
  to   = module.product_fetch.aws_lambda_function.this
}

moved {
  from = aws_cloudwatch_log_group.transformer
  to   = module.transformer.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.transformer
  to   = module.transformer.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.transformer
  to   = module.transformer.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.transformer
  to   = module.transformer.aws_lambda_function.this
}

moved {
  from = aws_lambda_function_event_invoke_config.transformer
  to   = module.transformer.aws_lambda_function_event_invoke_config.this[0]
}

moved {
  from = aws_cloudwatch_log_group.report_generator
  to   = module.report_generator.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.report_generator
  to   = module.report_generator.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.report_generator
  to   = module.report_generator.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.report_generator
  to   = module.report_generator.aws_lambda_function.this
}

# The async DLQ became a call of modules/encrypted_queue.

moved {
  from = aws_sqs_queue.async_dlq
  to   = module.async_dlq.aws_sqs_queue.this
}

moved {
  from = aws_sqs_queue_policy.async_dlq
  to   = module.async_dlq.aws_sqs_queue_policy.this
}
