output "queue_url" {
  description = "URL of the first SQS queue of ECS task state change events (the only one with queue_count = 1)."
  value       = aws_sqs_queue.events[0].url
}

output "queue_arn" {
  description = "ARN of that queue."
  value       = aws_sqs_queue.events[0].arn
}

output "queue_urls" {
  description = "URLs of every events queue, one per scheduler, in order."
  value       = aws_sqs_queue.events[*].url
}

output "queue_arns" {
  description = "ARNs of those queues, in the same order."
  value       = aws_sqs_queue.events[*].arn
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue (shared by every events queue) for events that failed max_receive_count times."
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
