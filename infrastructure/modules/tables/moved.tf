# Stacks created before the tables became one resource over local.tables hold each table under
# its own address. These blocks carry each table over to its key, so the next plan moves the
# tables (and their items) instead of deleting and recreating them.

moved {
  from = aws_dynamodb_table.products
  to   = aws_dynamodb_table.this["products"]
}

moved {
  from = aws_dynamodb_table.ledger
  to   = aws_dynamodb_table.this["ledger"]
}

moved {
  from = aws_dynamodb_table.runs
  to   = aws_dynamodb_table.this["runs"]
}
