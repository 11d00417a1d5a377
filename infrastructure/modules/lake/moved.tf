# Stacks created before the buckets' shared settings became one resource per setting over both
# buckets hold them under one address per bucket. These blocks carry each over to its key, so the
# next plan moves them instead of recreating them.

moved {
  from = aws_s3_bucket_ownership_controls.logs
  to   = aws_s3_bucket_ownership_controls.this["logs"]
}

moved {
  from = aws_s3_bucket_ownership_controls.lake
  to   = aws_s3_bucket_ownership_controls.this["lake"]
}

moved {
  from = aws_s3_bucket_public_access_block.logs
  to   = aws_s3_bucket_public_access_block.this["logs"]
}

moved {
  from = aws_s3_bucket_public_access_block.lake
  to   = aws_s3_bucket_public_access_block.this["lake"]
}

moved {
  from = aws_s3_bucket_versioning.logs
  to   = aws_s3_bucket_versioning.this["logs"]
}

moved {
  from = aws_s3_bucket_versioning.lake
  to   = aws_s3_bucket_versioning.this["lake"]
}
