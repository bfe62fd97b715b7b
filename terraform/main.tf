locals {
  cluster_name        = coalesce(var.cluster_name, var.name)
  family              = coalesce(var.task_definition_family, "${var.name}-worker")
  log_group_name      = "/aws/ecs/${var.name}/worker"
  flow_log_group_name = "/aws/vpc/${var.name}/flow-logs"
  create_flow_log     = var.create_vpc && var.create_flow_log

  # Queue profiles. An EC2 profile has its own ec2 capacity, launch_type EC2, or a non-Fargate strategy.
  profile_family = { for name, profile in var.profiles : name => "${var.name}-${name}" }
  profile_is_ec2 = {
    for name, profile in var.profiles : name => profile.ec2 != null || profile.launch_type == "EC2" || anytrue([
      for item in coalesce(profile.capacity_provider_strategy, []) : !contains(["FARGATE", "FARGATE_SPOT"], item.capacity_provider)
    ])
  }
  ec2_profiles = { for name, profile in var.profiles : name => profile.ec2 if profile.ec2 != null }
  # What RunTask sends for a profile: the strategy given, else its own EC2 capacity provider, else nothing
  # (the profile inherits the default launch settings, or uses its launch_type).
  profile_strategy = {
    for name, profile in var.profiles : name => (
      profile.capacity_provider_strategy != null ? [
        for item in profile.capacity_provider_strategy : { capacity_provider = item.capacity_provider, weight = item.weight, base = item.base }
      ] :
      # An ec2 block runs on its own capacity provider even with launch_type = "EC2": RunTask with a launch type
      # would bypass the provider, and its Auto Scaling group (from min_size 0) would never scale out.
      profile.ec2 != null ? [
        { capacity_provider = module.ec2_capacity[name].capacity_provider_name, weight = 1, base = 0 }
      ] : []
    )
  }
  # RunTask takes a strategy or a launch type, never both: the strategy wins.
  profile_launch_type = { for name, profile in var.profiles : name => length(local.profile_strategy[name]) > 0 ? null : profile.launch_type }

  # The capacity providers this configuration puts on the cluster, by kind: a strategy may name only these,
  # and never Fargate's together with an Auto Scaling group's (ECS refuses the mix at RunTask).
  fargate_providers = ["FARGATE", "FARGATE_SPOT"]
  ec2_providers     = [for name in sort(keys(local.ec2_profiles)) : "${var.name}-${name}"]
  strategy_errors = concat(
    flatten([for name, profile in var.profiles : [
      for item in coalesce(profile.capacity_provider_strategy, []) :
      "profile ${name}: capacity provider ${item.capacity_provider} is not one this configuration creates (${join(", ", concat(local.fargate_providers, local.ec2_providers))})"
      if !contains(concat(local.fargate_providers, local.ec2_providers), item.capacity_provider)
    ]]),
    [for name, profile in var.profiles : "profile ${name}: a strategy cannot mix Fargate and Auto Scaling group capacity providers"
      if length(setintersection([for item in coalesce(profile.capacity_provider_strategy, []) : item.capacity_provider], local.fargate_providers)) > 0 &&
      length(setintersection([for item in coalesce(profile.capacity_provider_strategy, []) : item.capacity_provider], local.ec2_providers)) > 0
    ],
  )
  # Teams: one prefix per team for its AWS names (underscores, which Airflow team names may hold, become hyphens).
  team_prefix    = { for team in keys(var.teams) : team => "${var.name}-${replace(team, "_", "-")}" }
  team_family    = { for team in keys(var.teams) : team => "${local.team_prefix[team]}-worker" }
  team_log_group = { for team in keys(var.teams) : team => "/aws/ecs/${var.name}/${team}/worker" }
  team_name_errors = [
    for team in sort(keys(var.teams)) :
    "teams: ${team}: ${local.team_prefix[team]} (name-team) is ${length(local.team_prefix[team])} characters; the team's role and queue names allow 31: shorten name or the team's name"
    if length(local.team_prefix[team]) > 31
  ]
  # The teams whose names fit. Only these are built: a team whose names are too long is then refused by the
  # teams output's precondition, in one line, instead of by each module's name check in terms of its own inputs.
  teams = { for team, settings in var.teams : team => settings if length(local.team_prefix[team]) <= 31 }

  # Fargate Spot runs X86_64 tasks only.
  uses_spot = anytrue(concat(
    [for item in var.capacity_provider_strategy : item.capacity_provider == "FARGATE_SPOT"],
    [for profile in values(var.profiles) : anytrue([for item in coalesce(profile.capacity_provider_strategy, []) : item.capacity_provider == "FARGATE_SPOT"])],
  ))
}

module "network" {
  source = "./modules/network"

  name               = var.name
  create_vpc         = var.create_vpc
  vpc_id             = var.vpc_id
  subnet_ids         = var.subnet_ids
  route_table_ids    = var.route_table_ids
  vpc_cidr           = var.vpc_cidr
  az_count           = var.az_count
  availability_zones = var.availability_zones
  egress             = var.egress
  secrets_endpoints  = length(var.secrets) > 0
  # EC2 container instances behind vpc_endpoints reach ECS only through the ecs, ecs-agent and ecs-telemetry endpoints.
  ecs_agent_endpoints = length(local.ec2_profiles) > 0
  https_egress_cidrs  = var.https_egress_cidrs
  extra_egress_rules  = var.extra_egress_rules

  create_flow_log         = var.create_flow_log
  flow_log_group_name     = local.flow_log_group_name
  flow_log_retention_days = var.log_retention_days
  kms_key_arn             = module.worker.kms_key_arn

  tags = var.tags
}

module "cluster" {
  source = "./modules/cluster"

  name                               = local.cluster_name
  default_capacity_provider_strategy = var.capacity_provider_strategy
  extra_capacity_providers           = [for name in sort(keys(local.ec2_profiles)) : module.ec2_capacity[name].capacity_provider_name]
  create_service_linked_role         = var.create_ecs_service_linked_role
  # A replaced capacity provider keeps its name: its Auto Scaling group's ARN tells the cluster to re-attach.
  extra_capacity_provider_replacement_keys = [for name in sort(keys(local.ec2_profiles)) : module.ec2_capacity[name].autoscaling_group_arn]

  tags = var.tags
}

module "worker" {
  source = "./modules/worker"

  name                     = var.name
  family                   = local.family
  container_name           = var.container_name
  image                    = var.image
  image_tag                = var.image_tag
  execution_role_arn       = module.iam.execution_role_arn
  task_role_arn            = module.iam.task_role_arn
  task_cpu                 = var.task_cpu
  task_memory              = var.task_memory
  cpu_architecture         = var.cpu_architecture
  ephemeral_storage_gib    = var.ephemeral_storage_gib
  execution_api_server_url = var.execution_api_server_url
  environment              = var.environment
  secrets                  = var.secrets

  profiles = {
    for name, profile in var.profiles : name => {
      family = local.profile_family[name]
      cpu    = coalesce(profile.cpu, var.task_cpu)
      memory = coalesce(profile.memory, var.task_memory)
      gpu    = profile.gpu
      ec2    = local.profile_is_ec2[name]
    }
  }

  log_group_name            = local.log_group_name
  log_stream_prefix         = var.log_stream_prefix
  log_retention_days        = var.log_retention_days
  kms_extra_log_group_names = local.create_flow_log ? [local.flow_log_group_name] : []

  create_ecr_repository = var.create_ecr_repository
  ecr_kms_key_arn       = var.ecr_kms_key_arn
  ecr_force_delete      = var.ecr_force_delete

  tags = var.tags
}

module "iam" {
  source = "./modules/iam"

  name                   = var.name
  cluster_name           = module.cluster.cluster_name
  cluster_arn            = module.cluster.cluster_arn
  task_definition_family = local.family
  # Every profile's family: the policy must not wait for the task definitions, so the names, not the resources.
  profile_task_definition_families = [for name in sort(keys(var.profiles)) : local.profile_family[name]]
  log_group_arn                    = module.worker.log_group_arn
  ecr_repository_arns              = var.create_ecr_repository ? [module.worker.ecr_repository_arn] : []
  extra_ecr_repository_arns        = var.image_repository_arns
  secret_arns                      = values(var.secrets)
  secrets_kms_key_arns             = var.secrets_kms_key_arns
  task_role_policy_arns            = var.task_role_policy_arns
  grant_events_queue               = var.create_events_queue
  events_queue_arns                = var.create_events_queue ? module.events[0].queue_arns : []

  tags = var.tags
}

module "events" {
  source = "./modules/events"
  count  = var.create_events_queue ? 1 : 0

  name        = var.name
  cluster_arn = module.cluster.cluster_arn
  queue_count = var.events_queue_count
  # Only our worker families: other workloads on the cluster never fill the executor's queue (nor do the
  # teams' tasks, whose events go to each team's own queue).
  task_definition_families = concat([local.family], [for name in sort(keys(var.profiles)) : local.profile_family[name]])

  tags = var.tags
}

# An EC2 capacity provider per profile with an ec2 block: instances in the task subnets, behind the worker
# security group (no inbound), joining this cluster.
module "ec2_capacity" {
  source   = "./modules/ec2_capacity"
  for_each = local.ec2_profiles

  name               = "${var.name}-${each.key}"
  cluster_name       = module.cluster.cluster_name
  instance_type      = each.value.instance_type
  gpu                = coalesce(each.value.gpu, var.profiles[each.key].gpu > 0)
  cpu_architecture   = var.cpu_architecture
  subnet_ids         = module.network.subnet_ids
  security_group_ids = [module.network.worker_security_group_id]
  min_size           = each.value.min_size
  max_size           = each.value.max_size
  desired_size       = each.value.desired_size
  root_volume_gib    = each.value.root_volume_gib

  tags = var.tags
}

# The created subnets are private (their way out is NAT or endpoints): a public IP there does nothing.
check "public_ip_needs_public_subnets" {
  assert {
    condition     = !(var.assign_public_ip && var.create_vpc)
    error_message = "assign_public_ip = true has no effect in the created private subnets; it is meant for existing public subnets."
  }
}

################################################################################
# Teams (multi-team Airflow): on the shared cluster and network, each team has its own task definition, task
# and execution roles, log group, events queue and scheduler policy. Its tasks run as the team's role, write
# to the team's log group, and their events reach only the team's executor.
################################################################################

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

module "team_iam" {
  source   = "./modules/iam"
  for_each = local.teams

  name                   = local.team_prefix[each.key]
  cluster_name           = module.cluster.cluster_name
  cluster_arn            = module.cluster.cluster_arn
  task_definition_family = local.team_family[each.key]
  # Built from the name: the team's worker module takes this module's roles, and for_each modules referring to
  # each other's outputs both ways would form a cycle (the root's single worker and iam modules do not).
  log_group_arn = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${local.team_log_group[each.key]}"
  # The shared image's repository, unless the team runs its own image from elsewhere.
  ecr_repository_arns       = var.create_ecr_repository && each.value.image == null ? [module.worker.ecr_repository_arn] : []
  extra_ecr_repository_arns = var.image_repository_arns
  secret_arns               = values(each.value.secrets)
  secrets_kms_key_arns      = each.value.secrets_kms_key_arns
  task_role_policy_arns     = each.value.task_role_policy_arns
  grant_events_queue        = var.create_events_queue
  events_queue_arns         = var.create_events_queue ? module.team_events[each.key].queue_arns : []

  tags = merge(var.tags, { "airflow:team" = each.key })
}

module "team_worker" {
  source   = "./modules/worker"
  for_each = local.teams

  name                     = local.team_prefix[each.key]
  family                   = local.team_family[each.key]
  container_name           = var.container_name
  image                    = coalesce(each.value.image, module.worker.image)
  execution_role_arn       = module.team_iam[each.key].execution_role_arn
  task_role_arn            = module.team_iam[each.key].task_role_arn
  task_cpu                 = coalesce(each.value.task_cpu, var.task_cpu)
  task_memory              = coalesce(each.value.task_memory, var.task_memory)
  cpu_architecture         = var.cpu_architecture
  ephemeral_storage_gib    = var.ephemeral_storage_gib
  execution_api_server_url = coalesce(each.value.execution_api_server_url, var.execution_api_server_url)
  # The task runner parses the team's DAG bundle, whose config names the team: Airflow refuses that outside
  # multi-team mode.
  environment = merge(var.environment, each.value.environment, { AIRFLOW__CORE__MULTI_TEAM = "True" })
  secrets     = each.value.secrets

  log_group_name        = local.team_log_group[each.key]
  log_stream_prefix     = var.log_stream_prefix
  log_retention_days    = var.log_retention_days
  create_ecr_repository = false

  tags = merge(var.tags, { "airflow:team" = each.key })
}

module "team_events" {
  source   = "./modules/events"
  for_each = var.create_events_queue ? local.teams : {}

  name                     = local.team_prefix[each.key]
  cluster_arn              = module.cluster.cluster_arn
  task_definition_families = [local.team_family[each.key]]
  # Each scheduler runs every team's executor: each needs its own queue of each team's events too.
  queue_count = var.events_queue_count

  tags = merge(var.tags, { "airflow:team" = each.key })
}
