# Glue Data Catalog and Athena: one database holding the silver and gold tables under the names
# `shopflow query` uses locally, so the queries in sql/ run unchanged on Athena.
#
# Every table is a Delta Lake table (docs/adr/0007-delta-lake-tables.md): `table_type = DELTA`
# makes Athena (engine version 3) read it natively, from its commit log: the current version's
# files only, the `dt` partition column from the log (no partition projection, no crawler, no
# MSCK REPAIR).
#
# The tables and their columns are not written here: tables.json holds every silver table (one per
# contract, built-in or added) and every gold table with its columns in Glue types, derived from
# the contracts and the gold SQL by `cargo run -p shopflow -- catalog --out
# infrastructure/modules/catalog/tables.json`. Athena takes the schema from the log; the columns
# here keep Glue's own copy (which Lake Formation and views read) the same. A test fails when the
# file is stale (crates/cli/tests/cli/main.rs), so the catalog cannot drift from what the
# pipeline writes.

locals {
  lake_uri = "s3://${var.lake_bucket_name}"

  catalog = jsondecode(file("${path.module}/tables.json")).tables

  tables = {
    for name, t in local.catalog : name => {
      description = t.description
      columns     = t.columns
      location    = "${local.lake_uri}/${t.layer}/${name}/"
    }
  }
}

resource "aws_glue_catalog_database" "lake" {
  name        = var.database_name
  description = "ShopFlow silver and gold Delta tables (s3://${var.lake_bucket_name}/silver/, gold/)."
}

resource "aws_glue_catalog_table" "delta" {
  for_each = local.tables

  name          = each.key
  database_name = aws_glue_catalog_database.lake.name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "EXTERNAL"       = "TRUE"
    "table_type"     = "DELTA"
    "classification" = "delta"
  }

  storage_descriptor {
    location      = each.value.location
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "path" = each.value.location
      }
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
