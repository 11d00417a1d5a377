# Orchestration: the daily Step Functions workflow (statemachine/pipeline.asl.json) and the two
# EventBridge Scheduler schedules (the daily product ingestion and the daily pipeline run), each
# schedule with its own least-privilege role.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  state_machine_name = "${var.name_prefix}-pipeline"
  # Built from the name (not the resource) so the role can name its own state machine without a
  # dependency cycle: the Distributed Map starts child executions of this state machine.
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"
  execution_arns    = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}/*"
}

# --------------------------------------------------------------------------------------------
# State machine
# --------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    sid     = "StepFunctionsAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${local.state_machine_name}-role"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

data "aws_iam_policy_document" "state_machine" {
  # ListPending, TransformAll (each item), Summarize → transformer; Report → report-generator.
  statement {
    sid     = "InvokePipelineFunctions"
    effect  = "Allow"
    actions = ["lambda:InvokeFunction"]
    resources = [
      var.transformer_arn,
      "${var.transformer_arn}:*",
      var.report_generator_arn,
      "${var.report_generator_arn}:*",
    ]
  }

  # NotifySuccess, NotifyQualityFailure, NotifyFailure (direct SNS integration).
  statement {
    sid       = "PublishNotifications"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [var.topic_arn]
  }

  # The topic is encrypted with the stack's key.
  statement {
    sid       = "EncryptedTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  # TransformAll is a Distributed Map: it runs its items as child executions of this state
  # machine and must be able to start, describe and stop them.
  statement {
    sid       = "DistributedMapStartChildExecutions"
    effect    = "Allow"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }

  statement {
    sid       = "DistributedMapManageChildExecutions"
    effect    = "Allow"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = [local.execution_arns]
  }

  # Execution logging to CloudWatch Logs goes through log deliveries; these actions do not
  # support resource-level permissions, so "*" is the only valid resource.
  statement {
    sid    = "LogDelivery"
    effect = "Allow"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # X-Ray tracing; these actions do not support resource-level permissions.
  statement {
    sid    = "XRay"
    effect = "Allow"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "${local.state_machine_name}-policy"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_sfn_state_machine" "pipeline" {
  name     = local.state_machine_name
  role_arn = aws_iam_role.state_machine.arn
  type     = "STANDARD"

  definition = templatefile("${path.module}/../../../statemachine/pipeline.asl.json", {
    transformer_arn      = var.transformer_arn
    report_generator_arn = var.report_generator_arn
    topic_arn            = var.topic_arn
    lake_bucket          = var.lake_bucket_name
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.state_machine]
}

# --------------------------------------------------------------------------------------------
# Schedules (EventBridge Scheduler)
# --------------------------------------------------------------------------------------------

resource "aws_scheduler_schedule_group" "this" {
  name = var.name_prefix
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    sid     = "SchedulerAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# Daily product ingestion: invokes ingest-trigger (asynchronously) with an EventBridge-style
# scheduled event. The handler recognises it by "source"/"detail-type" and uses "id" as its
# idempotency key, so a retried delivery of the same occurrence (same scheduled time) does not
# start a second run. Written as a literal string: jsonencode would escape the < > of the
# Scheduler's context attributes, which Scheduler then would not substitute.

resource "aws_iam_role" "ingestion_schedule" {
  name               = "${var.name_prefix}-ingestion-schedule-role"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "ingestion_schedule" {
  statement {
    sid       = "InvokeIngestTrigger"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.ingest_trigger_arn]
  }

  statement {
    sid       = "DeadLetterQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [var.schedule_dlq_arn]
  }

  # The schedule is encrypted with the stack's key; the dead-letter queue too.
  statement {
    sid       = "Kms"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "ingestion_schedule" {
  name   = "${var.name_prefix}-ingestion-schedule-policy"
  role   = aws_iam_role.ingestion_schedule.id
  policy = data.aws_iam_policy_document.ingestion_schedule.json
}

resource "aws_scheduler_schedule" "daily_ingestion" {
  name                         = "${var.name_prefix}-daily-ingestion"
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = "ShopFlow: daily product ingestion (ingest-trigger default run)"
  schedule_expression          = var.ingestion_schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.ingest_trigger_arn
    role_arn = aws_iam_role.ingestion_schedule.arn
    input    = "{\"version\": \"0\", \"id\": \"${var.name_prefix}-daily-ingestion-<aws.scheduler.scheduled-time>\", \"detail-type\": \"Scheduled Event\", \"source\": \"aws.scheduler\", \"time\": \"<aws.scheduler.scheduled-time>\", \"resources\": [\"<aws.scheduler.schedule-arn>\"], \"detail\": {}}"

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dead_letter_config {
      arn = var.schedule_dlq_arn
    }
  }

  depends_on = [aws_iam_role_policy.ingestion_schedule]
}

# Daily pipeline run: starts the state machine with input {} (the workflow defaults to
# yesterday, UTC).

resource "aws_iam_role" "pipeline_schedule" {
  name               = "${var.name_prefix}-pipeline-schedule-role"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "pipeline_schedule" {
  statement {
    sid       = "StartPipeline"
    effect    = "Allow"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.pipeline.arn]
  }

  statement {
    sid       = "DeadLetterQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [var.schedule_dlq_arn]
  }

  statement {
    sid       = "Kms"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "pipeline_schedule" {
  name   = "${var.name_prefix}-pipeline-schedule-policy"
  role   = aws_iam_role.pipeline_schedule.id
  policy = data.aws_iam_policy_document.pipeline_schedule.json
}

resource "aws_scheduler_schedule" "daily_pipeline" {
  name                         = "${var.name_prefix}-daily-pipeline"
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = "ShopFlow: daily pipeline run (catch-up transform, quality gate, report)"
  schedule_expression          = var.pipeline_schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.pipeline.arn
    role_arn = aws_iam_role.pipeline_schedule.arn
    input    = "{}"

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dead_letter_config {
      arn = var.schedule_dlq_arn
    }
  }

  depends_on = [aws_iam_role_policy.pipeline_schedule]
}
