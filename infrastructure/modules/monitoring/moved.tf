# Stacks created before the alarms on one metric became one resource over a map of specs hold
# them under one address per kind. These blocks carry each alarm over to its key (its name after
# the prefix), so the next plan moves them instead of deleting and recreating every alarm. The
# keys are those the root stack passes: the four functions (function_names) and the two
# dead-letter queues (dlq_names).

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["ingest-trigger"]
  to   = aws_cloudwatch_metric_alarm.single_metric["ingest-trigger-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["ingest-trigger"]
  to   = aws_cloudwatch_metric_alarm.single_metric["ingest-trigger-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["product-fetch"]
  to   = aws_cloudwatch_metric_alarm.single_metric["product-fetch-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["product-fetch"]
  to   = aws_cloudwatch_metric_alarm.single_metric["product-fetch-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["transformer"]
  to   = aws_cloudwatch_metric_alarm.single_metric["transformer-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["transformer"]
  to   = aws_cloudwatch_metric_alarm.single_metric["transformer-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_errors["report-generator"]
  to   = aws_cloudwatch_metric_alarm.single_metric["report-generator-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.function_throttles["report-generator"]
  to   = aws_cloudwatch_metric_alarm.single_metric["report-generator-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.kinesis_iterator_age
  to   = aws_cloudwatch_metric_alarm.single_metric["fetch-tasks-iterator-age"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dlq_depth["fetch"]
  to   = aws_cloudwatch_metric_alarm.single_metric["fetch-dlq-not-empty"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dlq_depth["async"]
  to   = aws_cloudwatch_metric_alarm.single_metric["async-dlq-not-empty"]
}

moved {
  from = aws_cloudwatch_metric_alarm.pipeline_failed
  to   = aws_cloudwatch_metric_alarm.single_metric["pipeline-executions-failed"]
}

moved {
  from = aws_cloudwatch_metric_alarm.pipeline_timed_out
  to   = aws_cloudwatch_metric_alarm.single_metric["pipeline-executions-timed-out"]
}
