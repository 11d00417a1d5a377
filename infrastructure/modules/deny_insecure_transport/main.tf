# The statement every resource policy of the stack carries: deny any request that does not use
# TLS (aws:SecureTransport false), from anyone. Written once here and merged into the queue,
# topic and bucket policies (source_policy_documents to put it first, override_policy_documents
# to put it after the policy's own statements).

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = var.actions
    resources = var.resources

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
