# dev: the values that differ from prod. Every other variable has its default in variables.tf.
#   terraform init -reconfigure -backend-config=backend-dev.hcl
#   terraform apply -var-file=dev.tfvars

environment = "dev"

# A dev stack can be destroyed at once: buckets are emptied on destroy, the tables are not
# protected and the key is deleted after the shortest window.
force_destroy                = true
dynamodb_deletion_protection = false
kms_deletion_window_days     = 7

quarantine_expiry_days         = 30
noncurrent_version_expiry_days = 7

lambda_memory_mb = {
  "ingest-trigger"   = 256
  "product-fetch"    = 256
  "transformer"      = 1024
  "report-generator" = 2048
}
transformer_ephemeral_storage_mb = 2048
