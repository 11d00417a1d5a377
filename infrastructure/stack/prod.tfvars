# prod: the values that differ from dev. Every other variable has its default in variables.tf.
#   terraform init -reconfigure -backend-config=backend-prod.hcl
#   terraform apply -var-file=prod.tfvars

environment = "prod"

# Data outlives a mistaken destroy: non-empty buckets are kept, the tables are protected and the
# key can be recovered for 30 days (docs/deployment.md, section 11).
force_destroy                = false
dynamodb_deletion_protection = true
kms_deletion_window_days     = 30

quarantine_expiry_days         = 90
noncurrent_version_expiry_days = 30

lambda_memory_mb = {
  "ingest-trigger"   = 256
  "product-fetch"    = 256
  "transformer"      = 1769
  "report-generator" = 3008
}
transformer_ephemeral_storage_mb = 4096
