# Glue Data Catalog and Athena: one database holding the silver and gold tables under the names
# `shopflow query` uses locally, so the queries in sql/ run unchanged on Athena.
#
# Partitioned tables use partition projection on `dt` (a date mapped to the `date=YYYY-MM-DD`
# key segment): Athena computes the partitions from the table properties, so new days need no
# crawler and no MSCK REPAIR. The files themselves have no dt column.
#
# Columns (Arrow → Glue/Hive): Utf8/Utf8View → string, Int64 → bigint, Int32 → int,
# Decimal128(18, 2) → decimal(18,2), Float64 → double, Boolean → boolean, Date32 → date,
# Timestamp(µs, UTC) → timestamp. Sources: docs/data-layers-and-contracts.md §2.2 (silver: the
# contracts' non-secret columns in contract order, then _row_number and the lineage columns)
# and §2.7 (gold), checked against contracts/*.toml and crates/core/src/gold/mod.rs.

locals {
  lake_uri = "s3://${var.lake_bucket_name}"

  lineage_columns = [
    ["_row_number", "bigint"],
    ["_source_key", "string"],
    ["_source_etag", "string"],
    ["_ingested_at", "timestamp"],
    ["_run_id", "string"],
  ]

  # silver/{table}/date=D/{object_id}.parquet
  silver_tables = {
    transactions = {
      description = "Silver sales lines: typed, validated, de-duplicated within each file; dt = UTC day of transaction_date."
      columns = concat([
        ["transaction_id", "string"],
        ["customer_id", "string"],
        ["product_id", "string"],
        ["quantity", "bigint"],
        ["unit_price", "decimal(18,2)"],
        ["amount", "decimal(18,2)"],
        ["currency", "string"],
        ["payment_method", "string"],
        ["status", "string"],
        ["transaction_date", "timestamp"],
      ], local.lineage_columns)
    }
    products = {
      description = "Silver product snapshots; dt = ingest date."
      columns = concat([
        ["product_id", "string"],
        ["name", "string"],
        ["category", "string"],
        ["price", "decimal(18,2)"],
        ["stock", "bigint"],
        ["brand", "string"],
        ["sku", "string"],
        ["supplier", "string"],
        ["description", "string"],
        ["rating", "double"],
        ["discount_percentage", "double"],
        ["updated_at", "timestamp"],
      ], local.lineage_columns)
    }
    customers = {
      description = "Silver customer profiles (PII as received: restrict access; gold masks it); dt = ingest date."
      columns = concat([
        ["customer_id", "string"],
        ["name", "string"],
        ["first_name", "string"],
        ["last_name", "string"],
        ["email", "string"],
        ["phone", "string"],
        ["city", "string"],
        ["country", "string"],
        ["signup_date", "date"],
        ["updated_at", "timestamp"],
        ["birth_date", "date"],
      ], local.lineage_columns)
    }
    clickstream = {
      description = "Silver clickstream events; dt = UTC day of event_time."
      columns = concat([
        ["event_id", "string"],
        ["session_id", "string"],
        ["customer_id", "string"],
        ["event_type", "string"],
        ["product_id", "string"],
        ["page", "string"],
        ["device", "string"],
        ["referrer", "string"],
        ["event_time", "timestamp"],
      ], local.lineage_columns)
    }
  }

  # gold/{table}/date=D/part-0.parquet
  gold_partitioned_tables = {
    fact_sales = {
      description = "One row per sale (transaction_id), joined to the dimension versions valid at sold_at; dt = UTC day of the sale."
      columns = [
        ["transaction_id", "string"],
        ["sold_at", "timestamp"],
        ["customer_id", "string"],
        ["customer_sk", "string"],
        ["product_id", "string"],
        ["product_sk", "string"],
        ["quantity", "bigint"],
        ["unit_price", "decimal(18,2)"],
        ["amount", "decimal(18,2)"],
        ["revenue", "decimal(18,2)"],
        ["revenue_source", "string"],
        ["currency", "string"],
        ["payment_method", "string"],
        ["status", "string"],
        ["weekday", "int"],
        ["hour", "int"],
        ["source_key", "string"],
        ["run_id", "string"],
      ]
    }
    agg_daily_sales = {
      description = "One row per day with sales."
      columns = [
        ["revenue", "decimal(18,2)"],
        ["transactions", "bigint"],
        ["priced_transactions", "bigint"],
        ["units", "bigint"],
        ["unique_customers", "bigint"],
        ["average_order_value", "decimal(18,2)"],
      ]
    }
    agg_category_daily = {
      description = "One row per day and product category."
      columns = [
        ["category", "string"],
        ["revenue", "decimal(18,2)"],
        ["transactions", "bigint"],
        ["units", "bigint"],
      ]
    }
    agg_product_daily = {
      description = "One row per day and product_id."
      columns = [
        ["product_id", "string"],
        ["product_name", "string"],
        ["category", "string"],
        ["revenue", "decimal(18,2)"],
        ["transactions", "bigint"],
        ["units", "bigint"],
      ]
    }
    funnel_daily = {
      description = "Clickstream funnel: one row per day with events."
      columns = [
        ["sessions", "bigint"],
        ["product_view_sessions", "bigint"],
        ["add_to_cart_sessions", "bigint"],
        ["checkout_sessions", "bigint"],
        ["purchase_sessions", "bigint"],
        ["conversion_rate", "double"],
      ]
    }
  }

  # gold/{table}/part-0.parquet
  gold_unpartitioned_tables = {
    dim_product = {
      description = "Product dimension, SCD type 2 on price, name, category, brand."
      columns = [
        ["product_sk", "string"],
        ["product_id", "string"],
        ["version", "int"],
        ["price", "decimal(18,2)"],
        ["name", "string"],
        ["category", "string"],
        ["brand", "string"],
        ["sku", "string"],
        ["stock", "bigint"],
        ["valid_from", "timestamp"],
        ["valid_to", "timestamp"],
        ["is_current", "boolean"],
      ]
    }
    dim_customer = {
      description = "Customer dimension, SCD type 2 on country, city; PII masked."
      columns = [
        ["customer_sk", "string"],
        ["customer_id", "string"],
        ["version", "int"],
        ["country", "string"],
        ["city", "string"],
        ["email_masked", "string"],
        ["name_initials", "string"],
        ["signup_date", "date"],
        ["valid_from", "timestamp"],
        ["valid_to", "timestamp"],
        ["is_current", "boolean"],
      ]
    }
    dim_date = {
      description = "Calendar dimension over the build's date range."
      columns = [
        ["date_key", "int"],
        ["calendar_date", "date"],
        ["year", "int"],
        ["quarter", "int"],
        ["month", "int"],
        ["month_name", "string"],
        ["day_of_month", "int"],
        ["iso_weekday", "int"],
        ["weekday_name", "string"],
        ["iso_week", "int"],
        ["is_weekend", "boolean"],
      ]
    }
    customer_ltv = {
      description = "Customer lifetime value and RFM segment as of the last build date."
      columns = [
        ["customer_id", "string"],
        ["customer_sk", "string"],
        ["email_masked", "string"],
        ["country", "string"],
        ["first_purchase", "date"],
        ["last_purchase", "date"],
        ["recency_days", "int"],
        ["orders", "bigint"],
        ["revenue", "decimal(18,2)"],
        ["average_order_value", "decimal(18,2)"],
        ["r_score", "int"],
        ["f_score", "int"],
        ["m_score", "int"],
        ["segment", "string"],
        ["as_of", "date"],
      ]
    }
  }

  partitioned_tables = merge(
    { for name, t in local.silver_tables : name => merge(t, { location = "${local.lake_uri}/silver/${name}/" }) },
    { for name, t in local.gold_partitioned_tables : name => merge(t, { location = "${local.lake_uri}/gold/${name}/" }) },
  )

  unpartitioned_tables = {
    for name, t in local.gold_unpartitioned_tables : name => merge(t, { location = "${local.lake_uri}/gold/${name}/" })
  }
}

resource "aws_glue_catalog_database" "lake" {
  name        = var.database_name
  description = "ShopFlow silver and gold tables (s3://${var.lake_bucket_name}/silver/, gold/)."
}

resource "aws_glue_catalog_table" "partitioned" {
  for_each = local.partitioned_tables

  name          = each.key
  database_name = aws_glue_catalog_database.lake.name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "EXTERNAL"                    = "TRUE"
    "classification"              = "parquet"
    "parquet.compression"         = "ZSTD"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = "2020-01-01,NOW"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "storage.location.template"   = "${each.value.location}date=$${dt}/"
  }

  partition_keys {
    name = "dt"
    type = "date"
  }

  storage_descriptor {
    location      = each.value.location
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    dynamic "columns" {
      for_each = each.value.columns

      content {
        name = columns.value[0]
        type = columns.value[1]
      }
    }
  }
}

resource "aws_glue_catalog_table" "unpartitioned" {
  for_each = local.unpartitioned_tables

  name          = each.key
  database_name = aws_glue_catalog_database.lake.name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "EXTERNAL"            = "TRUE"
    "classification"      = "parquet"
    "parquet.compression" = "ZSTD"
  }

  storage_descriptor {
    location      = each.value.location
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    dynamic "columns" {
      for_each = each.value.columns

      content {
        name = columns.value[0]
        type = columns.value[1]
      }
    }
  }
}

# --------------------------------------------------------------------------------------------
# Athena
# --------------------------------------------------------------------------------------------

resource "aws_athena_workgroup" "analysts" {
  name          = var.workgroup_name
  description   = "ShopFlow analysts: results SSE-KMS encrypted in the lake bucket, settings enforced."
  state         = "ENABLED"
  force_destroy = var.force_destroy

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = "${local.lake_uri}/${var.results_prefix}"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }
}

# The analyst queries of sql/, one named query per file (the same text `shopflow query` runs).

resource "aws_athena_named_query" "average_order_value_by_country" {
  name        = "average_order_value_by_country"
  description = "Average order value by the customer's country at the time of the sale (sql/average_order_value_by_country.sql)."
  workgroup   = aws_athena_workgroup.analysts.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${path.module}/../../../sql/average_order_value_by_country.sql")
}

resource "aws_athena_named_query" "best_selling_products_by_category" {
  name        = "best_selling_products_by_category"
  description = "The three best-selling products of every category (sql/best_selling_products_by_category.sql)."
  workgroup   = aws_athena_workgroup.analysts.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${path.module}/../../../sql/best_selling_products_by_category.sql")
}

resource "aws_athena_named_query" "conversion_funnel" {
  name        = "conversion_funnel"
  description = "Clickstream conversion funnel over the last 30 days of data (sql/conversion_funnel.sql)."
  workgroup   = aws_athena_workgroup.analysts.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${path.module}/../../../sql/conversion_funnel.sql")
}

resource "aws_athena_named_query" "customer_lifetime_value" {
  name        = "customer_lifetime_value"
  description = "Customer lifetime value by RFM segment (sql/customer_lifetime_value.sql)."
  workgroup   = aws_athena_workgroup.analysts.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${path.module}/../../../sql/customer_lifetime_value.sql")
}

resource "aws_athena_named_query" "daily_sales_last_30_days" {
  name        = "daily_sales_last_30_days"
  description = "Daily sales for the last 30 days of data (sql/daily_sales_last_30_days.sql)."
  workgroup   = aws_athena_workgroup.analysts.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${path.module}/../../../sql/daily_sales_last_30_days.sql")
}

resource "aws_athena_named_query" "monthly_revenue_trend" {
  name        = "monthly_revenue_trend"
  description = "Revenue per calendar month with the change against the month before (sql/monthly_revenue_trend.sql)."
  workgroup   = aws_athena_workgroup.analysts.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${path.module}/../../../sql/monthly_revenue_trend.sql")
}

resource "aws_athena_named_query" "top_10_customers_by_spend" {
  name        = "top_10_customers_by_spend"
  description = "Top 10 customers by lifetime spend (sql/top_10_customers_by_spend.sql)."
  workgroup   = aws_athena_workgroup.analysts.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${path.module}/../../../sql/top_10_customers_by_spend.sql")
}

resource "aws_athena_named_query" "top_10_products" {
  name        = "top_10_products"
  description = "Top 10 products by revenue, all time (sql/top_10_products.sql)."
  workgroup   = aws_athena_workgroup.analysts.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${path.module}/../../../sql/top_10_products.sql")
}
