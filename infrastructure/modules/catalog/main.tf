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

# The analyst queries of sql/, one named query per file (the same text `shopflow query` runs):
# adding a file adds a query. Each is named after its file; its description is the file's
# opening comment up to the "Reads:" line (what the query answers), then the file's path.

locals {
  sql_dir   = "${path.module}/../../../sql"
  sql_files = { for f in fileset(local.sql_dir, "*.sql") : trimsuffix(f, ".sql") => f }

  # Each file's leading comment lines, up to the "Reads:" line.
  sql_openings = {
    for name, f in local.sql_files : name => split("-- Reads:", regex("^(?:--.*\n)*", file("${local.sql_dir}/${f}")))[0]
  }

  # The same text without the comment markers, on one line.
  sql_summaries = {
    for name, text in local.sql_openings : name => trimspace(replace(replace(text, "/(?m)^-- ?/", ""), "\n", " "))
  }
}

resource "aws_athena_named_query" "sql" {
  for_each = local.sql_files

  name        = each.key
  description = trimspace("${local.sql_summaries[each.key]} (sql/${each.value})")
  workgroup   = aws_athena_workgroup.analysts.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${local.sql_dir}/${each.value}")
}
