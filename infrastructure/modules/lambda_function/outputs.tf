output "arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
  # Consumers (an event source mapping, a state machine, a schedule) are created only once the
  # role can act.
  depends_on = [aws_iam_role_policy.this]
}

output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "invoke_arn" {
  description = "Invoke ARN of the function (API Gateway integration)."
  value       = aws_lambda_function.this.invoke_arn
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the function's log group."
  value       = aws_cloudwatch_log_group.this.arn
}
