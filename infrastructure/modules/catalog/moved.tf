# Stacks created before the named queries were declared with for_each hold them under one
# address per query. These blocks carry each query over to its key. The descriptions now come
# from the files, and Athena cannot change a named query in place, so the first apply after the
# change still replaces each query once (same name, workgroup, database and text).

moved {
  from = aws_athena_named_query.average_order_value_by_country
  to   = aws_athena_named_query.sql["average_order_value_by_country"]
}

moved {
  from = aws_athena_named_query.best_selling_products_by_category
  to   = aws_athena_named_query.sql["best_selling_products_by_category"]
}

moved {
  from = aws_athena_named_query.conversion_funnel
  to   = aws_athena_named_query.sql["conversion_funnel"]
}

moved {
  from = aws_athena_named_query.customer_lifetime_value
  to   = aws_athena_named_query.sql["customer_lifetime_value"]
}

moved {
  from = aws_athena_named_query.daily_sales_last_30_days
  to   = aws_athena_named_query.sql["daily_sales_last_30_days"]
}

moved {
  from = aws_athena_named_query.monthly_revenue_trend
  to   = aws_athena_named_query.sql["monthly_revenue_trend"]
}

moved {
  from = aws_athena_named_query.top_10_customers_by_spend
  to   = aws_athena_named_query.sql["top_10_customers_by_spend"]
}

moved {
  from = aws_athena_named_query.top_10_products
  to   = aws_athena_named_query.sql["top_10_products"]
}
