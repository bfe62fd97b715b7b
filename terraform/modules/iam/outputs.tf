output "execution_role_arn" {
  description = "ARN of the task execution role."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "ARN of the task role."
  value       = aws_iam_role.task.arn
}

output "scheduler_policy_arn" {
  description = "ARN of the customer managed policy to attach to the Airflow scheduler's role."
  value       = aws_iam_policy.scheduler.arn
}
