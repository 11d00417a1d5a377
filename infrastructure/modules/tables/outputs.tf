output "products_table_name" {
  description = "Products table name."
  value       = aws_dynamodb_table.this["products"].name
}

output "products_table_arn" {
  description = "Products table ARN."
  value       = aws_dynamodb_table.this["products"].arn
}

output "ledger_table_name" {
  description = "Idempotency ledger table name."
  value       = aws_dynamodb_table.this["ledger"].name
}

output "ledger_table_arn" {
  description = "Idempotency ledger table ARN."
  value       = aws_dynamodb_table.this["ledger"].arn
}

output "runs_table_name" {
  description = "Ingestion runs (idempotency keys) table name."
  value       = aws_dynamodb_table.this["runs"].name
}

output "runs_table_arn" {
  description = "Ingestion runs table ARN."
  value       = aws_dynamodb_table.this["runs"].arn
}
