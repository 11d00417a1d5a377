terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # State lives in S3. The block is deliberately empty (partial configuration): give the
  # bucket, key and region at init time, e.g.
  #   terraform init -backend-config=backend.hcl
  # with backend.hcl made from backend.hcl.example. See infrastructure/README.md.
  backend "s3" {}
}
