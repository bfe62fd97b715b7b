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

output "scheduler_policy_json" {
  description = "The scheduler policy document (JSON), e.g. to attach inline instead of scheduler_policy_arn."
  value       = data.aws_iam_policy_document.scheduler.json
}

output "execution_policy_json" {
  description = "The execution role's inline policy document (JSON)."
  value       = data.aws_iam_policy_document.execution.json
}
