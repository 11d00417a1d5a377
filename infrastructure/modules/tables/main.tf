# DynamoDB tables. Keys and TTL attributes follow crates/core/src/adapters/aws/dynamodb.rs:
#   products  hash product_id (S)                          written by product-fetch
#   ledger    hash object_id (S), TTL expires_at (400 d)    written by transformer
#   runs      hash idempotency_key (S), TTL expires_at (24 h)  written by ingest-trigger
# All on demand, point-in-time recovery on, encrypted with the stack's customer-managed key: one
# resource over local.tables, which gives each table's hash key and whether it has the TTL.

locals {
  tables = {
    products = { hash_key = "product_id", ttl = false }
    ledger   = { hash_key = "object_id", ttl = true }
    runs     = { hash_key = "idempotency_key", ttl = true }
  }
}

resource "aws_dynamodb_table" "this" {
  for_each = local.tables

  name                        = "${var.name_prefix}-${each.key}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.hash_key
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = each.value.hash_key
    type = "S"
  }

  # Items expire at their expires_at (epoch seconds), set by the code that writes them.
  dynamic "ttl" {
    for_each = each.value.ttl ? ["expires_at"] : []

    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}
