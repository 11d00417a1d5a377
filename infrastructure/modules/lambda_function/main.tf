# One ShopFlow Lambda function: its log group (retention, KMS), its role with one inline policy,
# the function itself (provided.al2023, JSON logs, active tracing, environment encrypted with the
# stack's key) and, for a function that is invoked asynchronously, the asynchronous-invocation
# settings. Everything that differs between functions is an input, given beside the function's
# call in modules/functions: above all the code's permissions (`policy_json`: exactly the AWS
# calls that function's code makes), and the environment, exactly what its code reads.
#
# The role's policy is the caller's document plus the platform statements every function needs,
# written once here: Lambda itself makes these calls with the role, on resources this module
# is given or creates (statement ids "Platform*"; the caller's are "Code*").

locals {
  function_name = "${var.name_prefix}-${var.crate}"
  zip           = "${var.artifact_dir}/${var.crate}/bootstrap.zip"
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "this" {
  name               = "${local.function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# The caller's statements come first, then the platform statements: a platform statement
# replaces a caller's statement with the same sid, so a caller cannot redefine one.
data "aws_iam_policy_document" "policy" {
  source_policy_documents = [var.policy_json]

  # Events that still fail after Lambda's retries go to the on-failure destination.
  dynamic "statement" {
    for_each = var.async_invocation == null ? [] : [var.async_invocation.on_failure_destination_arn]

    content {
      sid       = "PlatformAsyncFailureDestination"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }

  # SSE-KMS on S3, Kinesis, SQS, SNS and DynamoDB, and the encrypted environment variables.
  statement {
    sid       = "PlatformKms"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "PlatformLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # Active tracing. X-Ray trace submission has no resource-level permissions: "*" is the only
  # valid resource.
  statement {
    sid       = "PlatformXRay"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${local.function_name}-policy"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.policy.json
}

resource "aws_lambda_function" "this" {
  function_name                  = local.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  filename                       = local.zip
  source_code_hash               = filebase64sha256(local.zip)
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  # Only a function that stages files in /tmp sets its size; the others keep Lambda's 512 MB.
  dynamic "ephemeral_storage" {
    for_each = var.ephemeral_storage_mb == null ? [] : [var.ephemeral_storage_mb]

    content {
      size = ephemeral_storage.value
    }
  }

  environment {
    variables = var.environment
  }

  # Lambda's logging controls: the service sets AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL
  # from these, which the function's log set-up honours (shopflow_lambda::LogSettings), and
  # drops JSON lines below the level itself.
  logging_config {
    log_format            = "JSON"
    application_log_level = var.log_level
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.this.name
  }

  tracing_config {
    mode = "Active"
  }

  # The caller's conditions on the function's settings, checked when the function is planned.
  lifecycle {
    precondition {
      condition     = alltrue([for p in var.preconditions : p.condition])
      error_message = join(" ", [for p in var.preconditions : p.error_message if !p.condition])
    }
  }

  # The function is created (and its consumers after it) only once its role can act.
  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  count = var.async_invocation == null ? 0 : 1

  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.async_invocation.max_retry_attempts
  maximum_event_age_in_seconds = var.async_invocation.max_event_age_seconds

  destination_config {
    on_failure {
      destination = var.async_invocation.on_failure_destination_arn
    }
  }
}
