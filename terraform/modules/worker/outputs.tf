output "task_definition_family" {
  description = "Family of the worker task definition."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_arn" {
  description = "ARN of the worker task definition, with its revision."
  value       = aws_ecs_task_definition.this.arn
}

output "container_name" {
  description = "Name of the Airflow container in the task definition."
  value       = var.container_name
}

output "image" {
  description = "Image the task definition runs."
  value       = local.image
}

output "log_group_name" {
  description = "CloudWatch log group of the worker containers."
  value       = aws_cloudwatch_log_group.worker.name
}

output "log_group_arn" {
  description = "ARN of the worker log group (without the trailing :*)."
  value       = aws_cloudwatch_log_group.worker.arn
}

output "log_stream_prefix" {
  description = "awslogs-stream-prefix of the Airflow container."
  value       = var.log_stream_prefix
}

output "kms_key_arn" {
  description = "KMS key that encrypts the log groups."
  value       = aws_kms_key.logs.arn
}

output "ecr_repository_url" {
  description = "URL of the created ECR repository (null when not created)."
  value       = var.create_ecr_repository ? aws_ecr_repository.this[0].repository_url : null
}

output "ecr_repository_arn" {
  description = "ARN of the created ECR repository (null when not created)."
  value       = var.create_ecr_repository ? aws_ecr_repository.this[0].arn : null
}

output "profile_task_definitions" {
  description = "Task definition of each queue profile: name -> {family, arn}."
  value       = { for name, definition in aws_ecs_task_definition.profile : name => { family = definition.family, arn = definition.arn } }
}
