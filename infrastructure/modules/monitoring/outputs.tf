output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "alarm_names" {
  description = "Every alarm of the stack."
  value = concat(
    flatten([for group in local.single_metric_alarm_groups : [for name in keys(group) : aws_cloudwatch_metric_alarm.single_metric[name].alarm_name]]),
    [for a in aws_cloudwatch_metric_alarm.rejection_rate : a.alarm_name],
    [aws_cloudwatch_metric_alarm.no_data_landed.alarm_name],
  )
}
