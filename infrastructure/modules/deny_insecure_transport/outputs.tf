output "json" {
  description = "A policy document holding the DenyInsecureTransport statement, to merge into a resource policy."
  value       = data.aws_iam_policy_document.this.json
}
