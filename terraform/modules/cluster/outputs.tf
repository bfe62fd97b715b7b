output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "default_capacity_provider_strategy" {
  description = "The cluster's default capacity provider strategy, as a list of {capacity_provider, weight, base} in the order given."
  value       = var.default_capacity_provider_strategy
}

output "capacity_providers_attachment_id" {
  description = "ID of the capacity providers attachment; depend on it before launching tasks on FARGATE_SPOT."
  value       = aws_ecs_cluster_capacity_providers.this.id
}

output "capacity_providers" {
  description = "Every capacity provider of the cluster: FARGATE, FARGATE_SPOT and the extra ones."
  value       = aws_ecs_cluster_capacity_providers.this.capacity_providers
}

output "service_linked_role_arn" {
  description = "ARN of the ECS service-linked role when create_service_linked_role is true, else null."
  value       = var.create_service_linked_role ? aws_iam_service_linked_role.ecs[0].arn : null
}
