# Ingestion: the Kinesis stream of fetch tasks (written by ingest-trigger, read by
# product-fetch through an event source mapping with partial batch failures and an on-failure
# SQS queue), and the HTTP API `POST /ingestions` (IAM-authorised) in front of ingest-trigger.

data "aws_caller_identity" "current" {}

# --------------------------------------------------------------------------------------------
# Kinesis
# --------------------------------------------------------------------------------------------

resource "aws_kinesis_stream" "tasks" {
  name             = "${var.name_prefix}-fetch-tasks"
  shard_count      = var.on_demand ? null : var.shard_count
  retention_period = var.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = var.kms_key_arn

  stream_mode_details {
    stream_mode = var.on_demand ? "ON_DEMAND" : "PROVISIONED"
  }
}

# Batches that still fail after the mapping's retries (or grow too old) are recorded here:
# the record names the shard and sequence range, so the tasks can be read back and re-published.
module "fetch_dlq" {
  source = "../encrypted_queue"

  name        = "${var.name_prefix}-fetch-dlq"
  kms_key_arn = var.kms_key_arn
}

resource "aws_lambda_event_source_mapping" "product_fetch" {
  event_source_arn                   = aws_kinesis_stream.tasks.arn
  function_name                      = var.product_fetch_function_arn
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds
  parallelization_factor             = var.parallelization_factor
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_seconds

  destination_config {
    on_failure {
      destination_arn = module.fetch_dlq.arn
    }
  }
}

# --------------------------------------------------------------------------------------------
# HTTP API: POST /ingestions → ingest-trigger (payload v2), SigV4 (IAM) authorisation
# --------------------------------------------------------------------------------------------

resource "aws_apigatewayv2_api" "ingestions" {
  name          = "${var.name_prefix}-ingestions"
  description   = "ShopFlow: start a product ingestion run"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "ingest_trigger" {
  api_id                 = aws_apigatewayv2_api.ingestions.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.ingest_trigger_invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "post_ingestions" {
  api_id             = aws_apigatewayv2_api.ingestions.id
  route_key          = "POST /ingestions"
  target             = "integrations/${aws_apigatewayv2_integration.ingest_trigger.id}"
  authorization_type = "AWS_IAM"
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = "/aws/apigateway/${var.name_prefix}-ingestions"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.ingestions.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit   = var.throttling_burst_limit
    throttling_rate_limit    = var.throttling_rate_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      ip                 = "$context.identity.sourceIp"
      caller             = "$context.identity.caller"
      userArn            = "$context.identity.userArn"
      httpMethod         = "$context.httpMethod"
      routeKey           = "$context.routeKey"
      path               = "$context.path"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
    })
  }
}

resource "aws_lambda_permission" "api_invokes_ingest_trigger" {
  statement_id   = "AllowHttpApiPostIngestions"
  action         = "lambda:InvokeFunction"
  function_name  = var.ingest_trigger_function_name
  principal      = "apigateway.amazonaws.com"
  source_arn     = "${aws_apigatewayv2_api.ingestions.execution_arn}/*/POST/ingestions"
  source_account = data.aws_caller_identity.current.account_id
}
