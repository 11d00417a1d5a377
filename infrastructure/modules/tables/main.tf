# DynamoDB tables. Keys and TTL attributes follow crates/core/src/adapters/aws/dynamodb.rs:
#   products  hash product_id (S)                          written by product-fetch
#   ledger    hash object_id (S), TTL expires_at (400 d)    written by transformer
#   runs      hash idempotency_key (S), TTL expires_at (24 h)  written by ingest-trigger
# All on demand, point-in-time recovery on, encrypted with the stack's customer-managed key.

resource "aws_dynamodb_table" "products" {
  name                        = "${var.name_prefix}-products"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "product_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "product_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}

resource "aws_dynamodb_table" "ledger" {
  name                        = "${var.name_prefix}-ledger"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "object_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "object_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}

resource "aws_dynamodb_table" "runs" {
  name                        = "${var.name_prefix}-runs"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "idempotency_key"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "idempotency_key"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}
