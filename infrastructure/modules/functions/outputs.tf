# Function ARNs depend on the role policies, so that consumers (the Kinesis event source
# mapping, the state machine, the schedules) are created only once the roles can act.

output "ingest_trigger_arn" {
  description = "ARN of ingest-trigger."
  value       = aws_lambda_function.ingest_trigger.arn
  depends_on  = [aws_iam_role_policy.ingest_trigger]
}

output "ingest_trigger_name" {
  description = "Name of ingest-trigger."
  value       = aws_lambda_function.ingest_trigger.function_name
}

output "ingest_trigger_invoke_arn" {
  description = "Invoke ARN of ingest-trigger (API Gateway integration)."
  value       = aws_lambda_function.ingest_trigger.invoke_arn
}

output "product_fetch_arn" {
  description = "ARN of product-fetch."
  value       = aws_lambda_function.product_fetch.arn
  depends_on  = [aws_iam_role_policy.product_fetch]
}

output "product_fetch_name" {
  description = "Name of product-fetch."
  value       = aws_lambda_function.product_fetch.function_name
}

output "transformer_arn" {
  description = "ARN of transformer."
  value       = aws_lambda_function.transformer.arn
  depends_on  = [aws_iam_role_policy.transformer]
}

output "transformer_name" {
  description = "Name of transformer."
  value       = aws_lambda_function.transformer.function_name
}

output "report_generator_arn" {
  description = "ARN of report-generator."
  value       = aws_lambda_function.report_generator.arn
  depends_on  = [aws_iam_role_policy.report_generator]
}

output "report_generator_name" {
  description = "Name of report-generator."
  value       = aws_lambda_function.report_generator.function_name
}

output "function_names" {
  description = "Function names keyed by crate name."
  value = {
    "ingest-trigger"   = aws_lambda_function.ingest_trigger.function_name
    "product-fetch"    = aws_lambda_function.product_fetch.function_name
    "transformer"      = aws_lambda_function.transformer.function_name
    "report-generator" = aws_lambda_function.report_generator.function_name
  }
}

output "log_group_names" {
  description = "Log group names keyed by crate name."
  value = {
    "ingest-trigger"   = aws_cloudwatch_log_group.ingest_trigger.name
    "product-fetch"    = aws_cloudwatch_log_group.product_fetch.name
    "transformer"      = aws_cloudwatch_log_group.transformer.name
    "report-generator" = aws_cloudwatch_log_group.report_generator.name
  }
}

output "async_dlq_arn" {
  description = "ARN of the asynchronous-invocation dead-letter queue."
  value       = aws_sqs_queue.async_dlq.arn
}

output "async_dlq_name" {
  description = "Name of the asynchronous-invocation dead-letter queue."
  value       = aws_sqs_queue.async_dlq.name
}

output "async_dlq_url" {
  description = "URL of the asynchronous-invocation dead-letter queue."
  value       = aws_sqs_queue.async_dlq.id
}
