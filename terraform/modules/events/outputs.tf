output "queue_url" {
  description = "URL of the SQS queue of ECS task state change events."
  value       = aws_sqs_queue.events.url
}

output "queue_arn" {
  description = "ARN of that queue."
  value       = aws_sqs_queue.events.arn
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue for events that failed max_receive_count times."
  value       = aws_sqs_queue.dead_letter.arn
}

output "rule_arn" {
  description = "ARN of the EventBridge rule."
  value       = aws_cloudwatch_event_rule.task_state.arn
}

output "event_pattern" {
  description = "The EventBridge rule's event pattern (JSON)."
  value       = aws_cloudwatch_event_rule.task_state.event_pattern
}
