# One customer-managed key for the whole stack: the lake bucket, the DynamoDB tables, the Kinesis
# stream, the SQS dead-letter queues, the SNS topic, the CloudWatch log groups, the Lambda
# environment variables, the EventBridge schedules and the Athena results. Rotation is on.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:This is a KMS key policy, not an identity policy: "*" as resource means this key only, and the account root must keep kms:* so the key can never become unmanageable.
  #checkov:skip=CKV_AWS_111:This is a KMS key policy: "*" as resource means this key only; write actions are limited to the account (IAM policies grant them) and to the logs and CloudWatch services under conditions.
  #checkov:skip=CKV_AWS_356:This is a KMS key policy, where "*" is the only valid resource (the key itself).
  # The account administers the key and delegates its use to IAM policies (every role in this
  # stack names the key explicitly). In a key policy "*" as resource means "this key".
  statement {
    sid       = "AccountAdministersTheKey"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the stack's log groups (functions, API access logs, state machine).
  statement {
    sid    = "CloudWatchLogsEncryptsLogGroups"
    effect = "Allow"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms publish to the KMS-encrypted SNS topic (SNS uses the key on the alarm's
  # behalf). The statement is the one AWS documents for alarms and encrypted topics; which
  # alarms may publish is restricted by the topic policy (aws:SourceArn = this account's alarms).
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}
