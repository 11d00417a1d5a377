output "topic_arn" {
  description = "ARN of the summaries-and-alerts topic."
  value       = aws_sns_topic.this.arn
}

output "topic_name" {
  description = "Name of the topic."
  value       = aws_sns_topic.this.name
}
