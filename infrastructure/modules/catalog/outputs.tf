output "database_name" {
  description = "Glue database of the silver and gold tables."
  value       = aws_glue_catalog_database.lake.name
}

output "workgroup_name" {
  description = "Athena workgroup."
  value       = aws_athena_workgroup.analysts.name
}

output "table_names" {
  description = "Every catalog table."
  value       = sort(keys(aws_glue_catalog_table.delta))
}

output "named_query_ids" {
  description = "Athena named queries (one per sql/ file), by name."
  value       = { for name, query in aws_athena_named_query.sql : name => query.id }
}
