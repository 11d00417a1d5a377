terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # State lives in S3, one state per environment. The block is deliberately empty (partial
  # configuration): give the bucket, key and region at init time, e.g.
  #   terraform init -reconfigure -backend-config=backend-dev.hcl
  # with backend-dev.hcl made from backend-dev.hcl.example. See infrastructure/README.md.
  backend "s3" {}
}
