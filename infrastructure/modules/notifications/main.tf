# The SNS topic for the daily summary and every alert: report-generator's summaries and
# data-quality / anomaly alerts, the state machine's success and failure notices, and every
# CloudWatch alarm. Encrypted with the stack's customer-managed key.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

resource "aws_sns_topic" "this" {
  name              = var.topic_name
  kms_master_key_id = var.kms_key_arn
}

module "deny_insecure_transport" {
  source = "../deny_insecure_transport"

  actions   = ["sns:Publish"]
  resources = [aws_sns_topic.this.arn]
}

data "aws_iam_policy_document" "topic" {
  # After the statement below: publishing without TLS is refused.
  override_policy_documents = [module.deny_insecure_transport.json]

  # Publishers inside the account (report-generator, the state machine) are granted by their
  # own IAM roles; this statement lets CloudWatch alarms of this account publish.
  statement {
    sid       = "CloudWatchAlarmsPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:alarm:*"]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

# The address must confirm the subscription from the e-mail AWS sends.
resource "aws_sns_topic_subscription" "email" {
  count = var.alert_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = var.alert_email
}
