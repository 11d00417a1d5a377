output "stream_name" {
  description = "Kinesis stream of fetch tasks."
  value       = aws_kinesis_stream.tasks.name
}

output "stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = aws_kinesis_stream.tasks.arn
}

output "fetch_dlq_arn" {
  description = "ARN of the queue of failed Kinesis batches."
  value       = module.fetch_dlq.arn
}

output "fetch_dlq_name" {
  description = "Name of the queue of failed Kinesis batches."
  value       = module.fetch_dlq.name
}

output "fetch_dlq_url" {
  description = "URL of the queue of failed Kinesis batches."
  value       = module.fetch_dlq.url
}

output "api_id" {
  description = "HTTP API id."
  value       = aws_apigatewayv2_api.ingestions.id
}

output "api_stage" {
  description = "HTTP API stage name."
  value       = aws_apigatewayv2_stage.default.name
}

output "ingestions_url" {
  description = "POST here (SigV4-signed, service execute-api) to start an ingestion run."
  value       = "${aws_apigatewayv2_api.ingestions.api_endpoint}/ingestions"
}

output "api_access_log_group" {
  description = "Log group of the API access logs."
  value       = aws_cloudwatch_log_group.api_access.name
}
