# The root module's outputs, one for one, so `airflow-ecs render --dir .` works on this example as well.

output "region" {
  description = "AWS Region of the deployment ([ecs_fargate] region)."
  value       = module.airflow_ecs.region
}

output "cluster_name" {
  description = "ECS cluster the tasks run on."
  value       = module.airflow_ecs.cluster_name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster ([ecs_fargate] cluster)."
  value       = module.airflow_ecs.cluster_arn
}

output "task_definition_family" {
  description = "Worker task definition family: RunTask on it runs the latest ACTIVE revision."
  value       = module.airflow_ecs.task_definition_family
}

output "task_definition_arn" {
  description = "ARN of the worker task definition revision this apply registered."
  value       = module.airflow_ecs.task_definition_arn
}

output "container_name" {
  description = "Name of the Airflow container in the task definition ([ecs_fargate] container_name)."
  value       = module.airflow_ecs.container_name
}

output "subnet_ids" {
  description = "Subnets the tasks run in ([ecs_fargate] subnets)."
  value       = module.airflow_ecs.subnet_ids
}

output "security_group_ids" {
  description = "Security groups of the tasks ([ecs_fargate] security_groups)."
  value       = module.airflow_ecs.security_group_ids
}

output "assign_public_ip" {
  description = "Whether RunTask gives each task a public IP ([ecs_fargate] assign_public_ip)."
  value       = module.airflow_ecs.assign_public_ip
}

output "capacity_provider_strategy" {
  description = "Capacity provider strategy for RunTask, a list of {capacity_provider, weight, base} (the cluster's default too)."
  value       = module.airflow_ecs.capacity_provider_strategy
}

output "log_group_name" {
  description = "CloudWatch log group of the worker containers."
  value       = module.airflow_ecs.log_group_name
}

output "log_stream_prefix" {
  description = "awslogs-stream-prefix: streams are <prefix>/<container name>/<task id>."
  value       = module.airflow_ecs.log_stream_prefix
}

output "execution_role_arn" {
  description = "ARN of the task execution role."
  value       = module.airflow_ecs.execution_role_arn
}

output "task_role_arn" {
  description = "ARN of the task role."
  value       = module.airflow_ecs.task_role_arn
}

output "scheduler_policy_arn" {
  description = "ARN of the policy to attach to the Airflow scheduler's role: what the executor needs, nothing more."
  value       = module.airflow_ecs.scheduler_policy_arn
}

output "ecr_repository_url" {
  description = "URL of the worker image repository (null when create_ecr_repository is false)."
  value       = module.airflow_ecs.ecr_repository_url
}

output "events_queue_url" {
  description = "URL of the SQS queue of task state change events (null when create_events_queue is false)."
  value       = module.airflow_ecs.events_queue_url
}

output "events_queue_arn" {
  description = "ARN of that queue (null when create_events_queue is false)."
  value       = module.airflow_ecs.events_queue_arn
}

output "profiles" {
  description = "Queue profiles for the executor ([ecs_fargate] profiles): name -> {queues, task_definition, container_name, launch_type, capacity_provider_strategy, cpu, memory, gpu}."
  value       = module.airflow_ecs.profiles
}
