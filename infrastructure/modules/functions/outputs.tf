# Function ARNs depend on the role policies (the module's arn output says so), so that consumers
# (the Kinesis event source mapping, the state machine, the schedules) are created only once the
# roles can act.

output "ingest_trigger_arn" {
  description = "ARN of ingest-trigger."
  value       = module.ingest_trigger.arn
}

output "ingest_trigger_name" {
  description = "Name of ingest-trigger."
  value       = module.ingest_trigger.function_name
}

output "ingest_trigger_invoke_arn" {
  description = "Invoke ARN of ingest-trigger (API Gateway integration)."
  value       = module.ingest_trigger.invoke_arn
}

output "product_fetch_arn" {
  description = "ARN of product-fetch."
  value       = module.product_fetch.arn
}

output "product_fetch_name" {
  description = "Name of product-fetch."
  value       = module.product_fetch.function_name
}

output "transformer_arn" {
  description = "ARN of transformer."
  value       = module.transformer.arn
}

output "transformer_name" {
  description = "Name of transformer."
  value       = module.transformer.function_name
}

output "report_generator_arn" {
  description = "ARN of report-generator."
  value       = module.report_generator.arn
}

output "report_generator_name" {
  description = "Name of report-generator."
  value       = module.report_generator.function_name
}

output "function_names" {
  description = "Function names keyed by crate name."
  value = {
    "ingest-trigger"   = module.ingest_trigger.function_name
    "product-fetch"    = module.product_fetch.function_name
    "transformer"      = module.transformer.function_name
    "report-generator" = module.report_generator.function_name
  }
}

output "log_group_names" {
  description = "Log group names keyed by crate name."
  value = {
    "ingest-trigger"   = module.ingest_trigger.log_group_name
    "product-fetch"    = module.product_fetch.log_group_name
    "transformer"      = module.transformer.log_group_name
    "report-generator" = module.report_generator.log_group_name
  }
}

output "async_dlq_arn" {
  description = "ARN of the asynchronous-invocation dead-letter queue."
  value       = module.async_dlq.arn
}

output "async_dlq_name" {
  description = "Name of the asynchronous-invocation dead-letter queue."
  value       = module.async_dlq.name
}

output "async_dlq_url" {
  description = "URL of the asynchronous-invocation dead-letter queue."
  value       = module.async_dlq.url
}
