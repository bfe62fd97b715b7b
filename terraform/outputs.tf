# Exactly the keys of CONTRACT in airflow_ecs/terraform_outputs.py: `airflow-ecs render` reads these.
# Nothing secret: secret values live in Secrets Manager / SSM and only their ARNs reach the task definition.

output "region" {
  description = "AWS Region of the deployment ([ecs_fargate] region)."
  value       = var.region
}

output "cluster_name" {
  description = "ECS cluster the tasks run on."
  value       = module.cluster.cluster_name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster ([ecs_fargate] cluster)."
  value       = module.cluster.cluster_arn
}

output "task_definition_family" {
  description = "Worker task definition family: RunTask on it runs the latest ACTIVE revision."
  value       = module.worker.task_definition_family
}

output "task_definition_arn" {
  description = "ARN of the worker task definition revision this apply registered."
  value       = module.worker.task_definition_arn
}

output "container_name" {
  description = "Name of the Airflow container in the task definition ([ecs_fargate] container_name)."
  value       = module.worker.container_name
}

output "subnet_ids" {
  description = "Subnets the tasks run in ([ecs_fargate] subnets)."
  value       = module.network.subnet_ids
}

output "security_group_ids" {
  description = "Security groups of the tasks ([ecs_fargate] security_groups)."
  value       = [module.network.worker_security_group_id]
}

output "assign_public_ip" {
  description = "Whether RunTask gives each task a public IP ([ecs_fargate] assign_public_ip)."
  value       = var.assign_public_ip
}

output "capacity_provider_strategy" {
  description = "Capacity provider strategy for RunTask, a list of {capacity_provider, weight, base} (the cluster's default too)."
  value       = module.cluster.default_capacity_provider_strategy
}

output "log_group_name" {
  description = "CloudWatch log group of the worker containers."
  value       = module.worker.log_group_name
}

output "log_stream_prefix" {
  description = "awslogs-stream-prefix: streams are <prefix>/<container name>/<task id>."
  value       = module.worker.log_stream_prefix
}

output "execution_role_arn" {
  description = "ARN of the task execution role."
  value       = module.iam.execution_role_arn
}

output "task_role_arn" {
  description = "ARN of the task role."
  value       = module.iam.task_role_arn
}

output "scheduler_policy_arn" {
  description = "ARN of the policy to attach to the Airflow scheduler's role: what the executor needs, nothing more."
  value       = module.iam.scheduler_policy_arn
}

output "ecr_repository_url" {
  description = "URL of the worker image repository (null when create_ecr_repository is false)."
  value       = module.worker.ecr_repository_url
}

output "events_queue_url" {
  description = "URL of the SQS queue of task state change events (null when create_events_queue is false)."
  value       = var.create_events_queue ? module.events[0].queue_url : null
}

output "events_queue_arn" {
  description = "ARN of that queue (null when create_events_queue is false)."
  value       = var.create_events_queue ? module.events[0].queue_arn : null
}

output "events_queue_urls" {
  description = "URLs of the events queues, one per scheduler (events_queue_count), the first being events_queue_url; empty when create_events_queue is false. Each is read by one scheduler only."
  value       = var.create_events_queue ? module.events[0].queue_urls : []
}

output "profiles" {
  precondition {
    condition     = length(local.strategy_errors) == 0
    error_message = join("; ", local.strategy_errors)
  }
  precondition {
    condition     = !(local.uses_spot && var.cpu_architecture == "ARM64")
    error_message = "Fargate Spot runs X86_64 tasks only: with FARGATE_SPOT in a strategy, set cpu_architecture = \"X86_64\"."
  }

  description = "Queue profiles for the executor ([ecs_fargate] profiles): name -> {queues, task_definition (family), container_name, launch_type, capacity_provider_strategy ([{capacity_provider, weight, base}], empty to inherit), cpu, memory, gpu}; empty without profiles."
  value = {
    for name, profile in var.profiles : name => {
      queues                     = profile.queues
      task_definition            = module.worker.profile_task_definitions[name].family
      container_name             = module.worker.container_name
      launch_type                = local.profile_launch_type[name]
      capacity_provider_strategy = local.profile_strategy[name]
      cpu                        = coalesce(profile.cpu, var.task_cpu)
      memory                     = coalesce(profile.memory, var.task_memory)
      gpu                        = profile.gpu
    }
  }
}

output "teams" {
  precondition {
    condition     = length(local.team_name_errors) == 0
    error_message = join("; ", local.team_name_errors)
  }

  description = "Airflow teams ([<team>=ecs_fargate] sections): team -> {task_definition_family, task_definition_arn, container_name, log_group_name, log_stream_prefix, execution_role_arn, task_role_arn, scheduler_policy_arn, events_queue_url, events_queue_arn (null without create_events_queue), events_queue_urls (one per scheduler, empty without create_events_queue)}; empty without teams. The cluster, network and launch settings are the deployment's."
  value = {
    for team in keys(local.teams) : team => {
      task_definition_family = module.team_worker[team].task_definition_family
      task_definition_arn    = module.team_worker[team].task_definition_arn
      container_name         = module.team_worker[team].container_name
      log_group_name         = module.team_worker[team].log_group_name
      log_stream_prefix      = module.team_worker[team].log_stream_prefix
      execution_role_arn     = module.team_iam[team].execution_role_arn
      task_role_arn          = module.team_iam[team].task_role_arn
      scheduler_policy_arn   = module.team_iam[team].scheduler_policy_arn
      events_queue_url       = var.create_events_queue ? module.team_events[team].queue_url : null
      events_queue_arn       = var.create_events_queue ? module.team_events[team].queue_arn : null
      events_queue_urls      = var.create_events_queue ? module.team_events[team].queue_urls : []
    }
  }
}
