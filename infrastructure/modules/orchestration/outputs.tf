output "state_machine_arn" {
  description = "ARN of the daily pipeline state machine."
  value       = aws_sfn_state_machine.pipeline.arn
}

output "state_machine_name" {
  description = "Name of the daily pipeline state machine."
  value       = aws_sfn_state_machine.pipeline.name
}

output "state_machine_log_group" {
  description = "Log group of the state machine's execution history."
  value       = aws_cloudwatch_log_group.state_machine.name
}

output "schedule_names" {
  description = "The schedules, in group schedule_group."
  value       = { for key, schedule in aws_scheduler_schedule.daily : key => schedule.name }
}

output "schedule_group" {
  description = "Scheduler group of the schedules."
  value       = aws_scheduler_schedule_group.this.name
}
