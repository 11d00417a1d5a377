output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "alarm_names" {
  description = "Every alarm of the stack."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.function_errors : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.function_throttles : a.alarm_name],
    [aws_cloudwatch_metric_alarm.kinesis_iterator_age.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.dlq_depth : a.alarm_name],
    [aws_cloudwatch_metric_alarm.pipeline_failed.alarm_name, aws_cloudwatch_metric_alarm.pipeline_timed_out.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.rejection_rate : a.alarm_name],
    [aws_cloudwatch_metric_alarm.no_data_landed.alarm_name],
  )
}
