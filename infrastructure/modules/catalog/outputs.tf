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
  description = "Athena named queries (one per sql/ file)."
  value = {
    average_order_value_by_country    = aws_athena_named_query.average_order_value_by_country.id
    best_selling_products_by_category = aws_athena_named_query.best_selling_products_by_category.id
    conversion_funnel                 = aws_athena_named_query.conversion_funnel.id
    customer_lifetime_value           = aws_athena_named_query.customer_lifetime_value.id
    daily_sales_last_30_days          = aws_athena_named_query.daily_sales_last_30_days.id
    monthly_revenue_trend             = aws_athena_named_query.monthly_revenue_trend.id
    top_10_customers_by_spend         = aws_athena_named_query.top_10_customers_by_spend.id
    top_10_products                   = aws_athena_named_query.top_10_products.id
  }
}
