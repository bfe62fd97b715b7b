data "aws_region" "current" {}

locals {
  cluster_name        = coalesce(var.cluster_name, var.name)
  family              = coalesce(var.task_definition_family, "${var.name}-worker")
  log_group_name      = "/aws/ecs/${var.name}/worker"
  flow_log_group_name = "/aws/vpc/${var.name}/flow-logs"
  create_flow_log     = var.create_vpc && var.create_flow_log
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
  https_egress_cidrs = var.https_egress_cidrs
  extra_egress_rules = var.extra_egress_rules

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
  log_group_arn          = module.worker.log_group_arn
  ecr_repository_arns    = var.create_ecr_repository ? [module.worker.ecr_repository_arn] : []
  secret_arns            = values(var.secrets)
  secrets_kms_key_arns   = var.secrets_kms_key_arns
  task_role_policy_arns  = var.task_role_policy_arns
  grant_events_queue     = var.create_events_queue
  events_queue_arn       = var.create_events_queue ? module.events[0].queue_arn : null

  tags = var.tags
}

module "events" {
  source = "./modules/events"
  count  = var.create_events_queue ? 1 : 0

  name        = var.name
  cluster_arn = module.cluster.cluster_arn

  tags = var.tags
}

# The created subnets are private (their way out is NAT or endpoints): a public IP there does nothing.
check "public_ip_needs_public_subnets" {
  assert {
    condition     = !(var.assign_public_ip && var.create_vpc)
    error_message = "assign_public_ip = true has no effect in the created private subnets; it is meant for existing public subnets."
  }
}
