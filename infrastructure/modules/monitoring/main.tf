# CloudWatch alarms and the pipeline dashboard. Every alarm notifies the SNS topic when it goes
# to ALARM and when it returns to OK.

data "aws_region" "current" {}

locals {
  actions = [var.topic_arn]

  # "rows in the 24 hours before now", summed over the datasets that must land daily
  rows_24h_expression = join(" + ", [for d in var.landing_check_datasets : "FILL(in_${d}, 0)"])
}

# --------------------------------------------------------------------------------------------
# The alarms on one metric: one resource over a map of specs, each keyed by the alarm's name
# after the prefix and giving its metric and what differs from single_metric_defaults (the sum
# over five minutes, one period, above 0).
# --------------------------------------------------------------------------------------------

locals {
  single_metric_defaults = {
    statistic           = "Sum"
    period              = 300
    evaluation_periods  = 1
    threshold           = 0
    comparison_operator = "GreaterThanThreshold"
  }

  # Per function: one alarm on each of these metrics.
  function_metrics = {
    errors    = { metric = "Errors", says = "returned errors (ShopFlow.Retryable / InvalidInput / Internal or a crash)" }
    throttles = { metric = "Throttles", says = "was throttled (reserved concurrency reached)" }
  }

  # The state machine's executions that failed (a stop at the quality gate counts) or timed out.
  pipeline_metrics = {
    executions-failed    = { metric = "ExecutionsFailed", says = "A daily pipeline execution failed (including a stop at the quality gate). The failure notice on the topic carries the error and cause." }
    executions-timed-out = { metric = "ExecutionsTimedOut", says = "A daily pipeline execution hit its timeout." }
  }

  # In the order of the alarm_names output: function errors, function throttles, the Kinesis
  # iterator age (fetch tasks waiting too long), the dead-letter queues (anything in them is work
  # that did not happen), the state machine.
  single_metric_alarm_groups = concat(
    [for suffix, m in local.function_metrics : {
      for crate, function_name in var.function_names : "${crate}-${suffix}" => {
        alarm_description = "${crate} ${m.says}. See docs/runbook.md."
        namespace         = "AWS/Lambda"
        metric_name       = m.metric
        dimensions        = { FunctionName = function_name }
      }
    }],
    [
      {
        fetch-tasks-iterator-age = {
          alarm_description  = "Fetch tasks wait longer than ${var.iterator_age_threshold_ms} ms on ${var.stream_name}: product-fetch is failing, throttled or too slow."
          namespace          = "AWS/Kinesis"
          metric_name        = "GetRecords.IteratorAgeMilliseconds"
          dimensions         = { StreamName = var.stream_name }
          statistic          = "Maximum"
          evaluation_periods = 2
          threshold          = var.iterator_age_threshold_ms
        }
      },
      {
        for label, queue in var.dlq_names : "${label}-dlq-not-empty" => {
          alarm_description = "Messages in ${queue}: failed work to inspect and redrive (docs/runbook.md)."
          namespace         = "AWS/SQS"
          metric_name       = "ApproximateNumberOfMessagesVisible"
          dimensions        = { QueueName = queue }
          statistic         = "Maximum"
        }
      },
      {
        for suffix, m in local.pipeline_metrics : "pipeline-${suffix}" => {
          alarm_description   = m.says
          namespace           = "AWS/States"
          metric_name         = m.metric
          dimensions          = { StateMachineArn = var.state_machine_arn }
          threshold           = 1
          comparison_operator = "GreaterThanOrEqualToThreshold"
        }
      },
    ],
  )

  single_metric_alarms = {
    for name, spec in merge(local.single_metric_alarm_groups...) : name => merge(local.single_metric_defaults, spec)
  }
}

resource "aws_cloudwatch_metric_alarm" "single_metric" {
  for_each = local.single_metric_alarms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.alarm_description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison_operator
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

# --------------------------------------------------------------------------------------------
# Data quality: the share of rejected rows, per dataset, from the transformer's EMF metrics
# (namespace METRICS_NAMESPACE, dimension set [Dataset], metrics RowsIn and RowsRejected; see
# Ingestor::emit_metrics in crates/core/src/ingest.rs). Rows are summed over the hour, so the
# alarm weighs files by their size (RejectedPercent is per file).
# --------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "rejection_rate" {
  for_each = toset(var.datasets)

  alarm_name          = "${var.name_prefix}-${each.key}-rejected-rows"
  alarm_description   = "More than ${var.rejected_pct_threshold}% of ${each.key} rows ingested in the last hour were rejected. Rejected rows: quarantine/${each.key}/ingest_date=<day>/ in the lake (docs/runbook.md)."
  evaluation_periods  = 1
  threshold           = var.rejected_pct_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "rows_in"
    return_data = false

    metric {
      namespace   = var.metrics_namespace
      metric_name = "RowsIn"
      dimensions  = { Dataset = each.key }
      stat        = "Sum"
      period      = 3600
    }
  }

  metric_query {
    id          = "rows_rejected"
    return_data = false

    metric {
      namespace   = var.metrics_namespace
      metric_name = "RowsRejected"
      dimensions  = { Dataset = each.key }
      stat        = "Sum"
      period      = 3600
    }
  }

  metric_query {
    id          = "rejected_pct"
    expression  = "IF(rows_in > 0, 100 * rows_rejected / rows_in, 0)"
    label       = "Rejected rows (%) - ${each.key}"
    return_data = true
  }
}

# --------------------------------------------------------------------------------------------
# No data landed by the cutoff hour.
#
# CloudWatch has no "evaluate at 06:00" setting, so the schedule is built into the metric math:
#   - in_<dataset>: RowsIn summed over a 1-day period. Alarms evaluate sliding windows, so each
#     evaluation looks at the 24 hours before it; the datapoint's timestamp is the window start,
#     exactly one day earlier, so its HOUR() is the current UTC hour.
#   - rows_24h: the rows of the landing_check_datasets in that window (FILL turns a silent
#     dataset into 0). The daily product fetch always lands products, so by default only
#     transactions count.
#   - landed: rows_24h from the cutoff hour until midnight UTC, 1 (OK) before the cutoff hour.
# ALARM when, at or after landing_cutoff_hour_utc, no row was ingested in the preceding 24 hours;
# it returns to OK when data lands (or at midnight UTC, when the next day's check has not yet
# started). Missing data counts as breaching: when no dataset has emitted RowsIn at all, there
# is no datapoint to gate and the alarm fires whatever the hour.
# --------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "no_data_landed" {
  alarm_name          = "${var.name_prefix}-no-data-landed-by-cutoff"
  alarm_description   = "No ${join("/", var.landing_check_datasets)} row was ingested in the 24 hours before ${var.landing_cutoff_hour_utc}:00 UTC (checked from then until midnight UTC). Check the sources' drops into landing/, the transformer's errors and the async DLQ."
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "LessThanOrEqualToThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  dynamic "metric_query" {
    for_each = toset(var.landing_check_datasets)

    content {
      id          = "in_${metric_query.value}"
      return_data = false

      metric {
        namespace   = var.metrics_namespace
        metric_name = "RowsIn"
        dimensions  = { Dataset = metric_query.value }
        stat        = "Sum"
        period      = 86400
      }
    }
  }

  metric_query {
    id          = "rows_24h"
    expression  = local.rows_24h_expression
    label       = "Rows ingested in the last 24 h"
    return_data = false
  }

  metric_query {
    id          = "landed"
    expression  = "IF(HOUR(rows_24h) >= ${var.landing_cutoff_hour_utc}, rows_24h, 1)"
    label       = "Rows in the 24 h before now, from the cutoff hour on (1 before it)"
    return_data = true
  }
}

# --------------------------------------------------------------------------------------------
# Dashboard
# --------------------------------------------------------------------------------------------

locals {
  region = data.aws_region.current.region
  fns    = values(var.function_names)

  # The metric widgets in reading order, each with its title, period, metrics and, when all its
  # metrics share one, its statistic. They sit two to a row of height 6 below the title; a widget
  # alone on the last row spans it.
  metric_widgets = [
    {
      title   = "Invocations"
      stat    = "Sum"
      period  = 300
      metrics = [for f in local.fns : ["AWS/Lambda", "Invocations", "FunctionName", f]]
    },
    {
      title   = "Errors and throttles"
      stat    = "Sum"
      period  = 300
      metrics = concat([for f in local.fns : ["AWS/Lambda", "Errors", "FunctionName", f]], [for f in local.fns : ["AWS/Lambda", "Throttles", "FunctionName", f]])
    },
    {
      title   = "Duration (p95, ms)"
      stat    = "p95"
      period  = 300
      metrics = [for f in local.fns : ["AWS/Lambda", "Duration", "FunctionName", f]]
    },
    {
      title  = "Fetch tasks (Kinesis)"
      period = 300
      metrics = [
        ["AWS/Kinesis", "IncomingRecords", "StreamName", var.stream_name, { stat = "Sum" }],
        ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", var.stream_name, { stat = "Maximum", yAxis = "right" }],
      ]
    },
    {
      title  = "Rows by dataset (transformer EMF)"
      period = 3600
      metrics = [
        [{ expression = "SEARCH('{${var.metrics_namespace},Dataset} MetricName=\"RowsIn\"', 'Sum', 3600)", id = "rows_in", label = "RowsIn" }],
        [{ expression = "SEARCH('{${var.metrics_namespace},Dataset} MetricName=\"RowsValid\"', 'Sum', 3600)", id = "rows_valid", label = "RowsValid" }],
        [{ expression = "SEARCH('{${var.metrics_namespace},Dataset} MetricName=\"RowsRejected\"', 'Sum', 3600)", id = "rows_rejected", label = "RowsRejected" }],
      ]
    },
    {
      title  = "Data quality: rejected % per file, files quarantined whole"
      period = 3600
      metrics = [
        [{ expression = "SEARCH('{${var.metrics_namespace},Dataset} MetricName=\"RejectedPercent\"', 'Maximum', 3600)", id = "rejected_pct", label = "RejectedPercent (max)" }],
        [{ expression = "SEARCH('{${var.metrics_namespace},Dataset} MetricName=\"FilesQuarantined\"', 'Sum', 3600)", id = "files_quarantined", label = "FilesQuarantined", yAxis = "right" }],
      ]
    },
    {
      title   = "Daily pipeline (Step Functions)"
      stat    = "Sum"
      period  = 3600
      metrics = [for m in ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"] : ["AWS/States", m, "StateMachineArn", var.state_machine_arn]]
    },
    {
      title   = "Dead-letter queues (messages visible)"
      stat    = "Maximum"
      period  = 300
      metrics = [for q in values(var.dlq_names) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
    },
    {
      title   = "POST /ingestions (HTTP API)"
      stat    = "Sum"
      period  = 300
      metrics = [for m in ["Count", "4xx", "5xx"] : ["AWS/ApiGateway", m, "ApiId", var.api_id, "Stage", var.api_stage]]
    },
  ]

  dashboard_widgets = concat(
    [
      {
        type   = "text"
        x      = 0
        y      = 0
        width  = 24
        height = 2
        properties = {
          markdown = "## ShopFlow ${var.name_prefix}\nAPI/schedule -> ingest-trigger -> Kinesis -> product-fetch -> landing/ -> transformer -> bronze/silver/quarantine; daily: state machine -> report-generator -> gold, reports, SNS. Runbook: docs/runbook.md"
        }
      },
    ],
    [
      for i, w in local.metric_widgets : {
        type       = "metric"
        x          = i % 2 * 12
        y          = 2 + floor(i / 2) * 6
        width      = i % 2 == 0 && i == length(local.metric_widgets) - 1 ? 24 : 12
        height     = 6
        properties = merge(w, { region = local.region, view = "timeSeries" })
      }
    ],
  )
}

resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = "${var.name_prefix}-pipeline"
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
