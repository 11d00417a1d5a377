output "bucket_name" {
  description = "Lake bucket name."
  value       = aws_s3_bucket.lake.id
}

output "bucket_arn" {
  description = "Lake bucket ARN."
  value       = aws_s3_bucket.lake.arn
}

output "log_bucket_name" {
  description = "Access-log bucket name."
  value       = aws_s3_bucket.logs.id
}

output "layer_prefixes" {
  description = "Key prefix of each lake layer."
  value       = local.layer_prefixes
}

output "athena_results_prefix" {
  description = "Prefix of Athena query results in the lake bucket."
  value       = local.athena_results_prefix
}
