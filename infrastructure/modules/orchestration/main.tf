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

# The trust policies of the roles below: the state machine's (Step Functions) and the schedules'
# (EventBridge Scheduler), each for this account only.
data "aws_iam_policy_document" "assume" {
  for_each = { states = "StepFunctions", scheduler = "Scheduler" }

  statement {
    sid     = "${each.value}AssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["${each.key}.amazonaws.com"]
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
  assume_role_policy = data.aws_iam_policy_document.assume["states"].json
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
# Schedules (EventBridge Scheduler): the daily product ingestion and the daily pipeline run, each
# with its own role that may start only its target, send failed deliveries to the dead-letter
# queue and use the key (the schedule and the queue are encrypted with it). Failed deliveries are
# retried for an hour, then go to the dead-letter queue.
# --------------------------------------------------------------------------------------------

resource "aws_scheduler_schedule_group" "this" {
  name = var.name_prefix
}

locals {
  schedules = {
    # Invokes ingest-trigger (asynchronously) with an EventBridge-style scheduled event. The
    # handler recognises it by "source"/"detail-type" and uses "id" as its idempotency key, so a
    # retried delivery of the same occurrence (same scheduled time) does not start a second run.
    # Written as a literal string: jsonencode would escape the < > of the Scheduler's context
    # attributes, which Scheduler then would not substitute.
    ingestion = {
      description = "ShopFlow: daily product ingestion (ingest-trigger default run)"
      expression  = var.ingestion_schedule_expression
      target_arn  = var.ingest_trigger_arn
      target_sid  = "InvokeIngestTrigger"
      action      = "lambda:InvokeFunction"
      input       = "{\"version\": \"0\", \"id\": \"${var.name_prefix}-daily-ingestion-<aws.scheduler.scheduled-time>\", \"detail-type\": \"Scheduled Event\", \"source\": \"aws.scheduler\", \"time\": \"<aws.scheduler.scheduled-time>\", \"resources\": [\"<aws.scheduler.schedule-arn>\"], \"detail\": {}}"
    }

    # Starts the state machine with input {} (the workflow defaults to yesterday, UTC).
    pipeline = {
      description = "ShopFlow: daily pipeline run (catch-up transform, quality gate, report)"
      expression  = var.pipeline_schedule_expression
      target_arn  = aws_sfn_state_machine.pipeline.arn
      target_sid  = "StartPipeline"
      action      = "states:StartExecution"
      input       = "{}"
    }
  }
}

resource "aws_iam_role" "schedule" {
  for_each = local.schedules

  name               = "${var.name_prefix}-${each.key}-schedule-role"
  assume_role_policy = data.aws_iam_policy_document.assume["scheduler"].json
}

data "aws_iam_policy_document" "schedule" {
  for_each = local.schedules

  statement {
    sid       = each.value.target_sid
    effect    = "Allow"
    actions   = [each.value.action]
    resources = [each.value.target_arn]
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

resource "aws_iam_role_policy" "schedule" {
  for_each = local.schedules

  name   = "${var.name_prefix}-${each.key}-schedule-policy"
  role   = aws_iam_role.schedule[each.key].id
  policy = data.aws_iam_policy_document.schedule[each.key].json
}

resource "aws_scheduler_schedule" "daily" {
  for_each = local.schedules

  name                         = "${var.name_prefix}-daily-${each.key}"
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = each.value.description
  schedule_expression          = each.value.expression
  schedule_expression_timezone = var.schedule_timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = each.value.target_arn
    role_arn = aws_iam_role.schedule[each.key].arn
    input    = each.value.input

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dead_letter_config {
      arn = var.schedule_dlq_arn
    }
  }

  depends_on = [aws_iam_role_policy.schedule]
}
