output "lake_bucket" {
  description = "Lake bucket: drop files into s3://<bucket>/landing/<dataset>/."
  value       = module.lake.bucket_name
}

output "access_log_bucket" {
  description = "Bucket of the lake's S3 server access logs."
  value       = module.lake.log_bucket_name
}

output "kms_key_arn" {
  description = "The stack's customer-managed key."
  value       = module.kms.key_arn
}

output "ingestions_url" {
  description = "POST (SigV4, service execute-api) to start a product ingestion run."
  value       = module.ingestion.ingestions_url
}

output "stream_name" {
  description = "Kinesis stream of fetch tasks."
  value       = module.ingestion.stream_name
}

output "function_names" {
  description = "Lambda function names by crate."
  value       = module.functions.function_names
}

output "log_group_names" {
  description = "Lambda log groups by crate."
  value       = module.functions.log_group_names
}

output "tables" {
  description = "DynamoDB tables."
  value = {
    products = module.tables.products_table_name
    ledger   = module.tables.ledger_table_name
    runs     = module.tables.runs_table_name
  }
}

output "dead_letter_queues" {
  description = "Dead-letter queue URLs: failed Kinesis batches (fetch) and failed asynchronous invocations and schedule deliveries (async)."
  value = {
    fetch = module.ingestion.fetch_dlq_url
    async = module.functions.async_dlq_url
  }
}

output "topic_arn" {
  description = "SNS topic of summaries and alerts."
  value       = module.notifications.topic_arn
}

output "state_machine_arn" {
  description = "Daily pipeline state machine."
  value       = module.orchestration.state_machine_arn
}

output "schedules" {
  description = "EventBridge Scheduler schedules (group, names)."
  value = {
    group     = module.orchestration.schedule_group
    schedules = module.orchestration.schedule_names
  }
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}

output "alarm_names" {
  description = "Every CloudWatch alarm."
  value       = module.monitoring.alarm_names
}

output "glue_database" {
  description = "Glue database of the silver and gold tables."
  value       = module.catalog.database_name
}

output "athena_workgroup" {
  description = "Athena workgroup (results encrypted in the lake bucket)."
  value       = module.catalog.workgroup_name
}
