################################################################################
# General
################################################################################

variable "name" {
  description = "Name prefix of everything this configuration creates (cluster, roles, log group, queues, VPC)."
  type        = string
  default     = "airflow-ecs"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,23}$", var.name))
    error_message = "name must start with a lower-case letter and hold at most 24 lower-case letters, digits or hyphens."
  }
}

variable "region" {
  description = "AWS Region to deploy into (the provider's region; the rendered [ecs_fargate] region)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS Region code: <area>-<place>-<number>, lower case."
  }
}

variable "tags" {
  description = "Tags for every resource (the provider's default_tags, and each resource's own tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Network
################################################################################

variable "create_vpc" {
  description = "Create a VPC with private subnets in az_count AZs (true), or run in the existing vpc_id / subnet_ids (false)."
  type        = bool
  default     = true
  nullable    = false
}

variable "vpc_id" {
  description = "Existing VPC (create_vpc = false)."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Existing subnets for the tasks (create_vpc = false); private ones unless assign_public_ip is true."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "route_table_ids" {
  description = "Route tables of the existing subnets, for the S3 gateway endpoint (create_vpc = false with egress = vpc_endpoints)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "vpc_cidr" {
  description = "CIDR block of the created VPC."
  type        = string
  default     = "10.42.0.0/16"
  nullable    = false
}

variable "az_count" {
  description = "Availability zones (one private subnet each) of the created VPC; at least 2."
  type        = number
  default     = 2
  nullable    = false
}

variable "availability_zones" {
  description = "AZ names for the created VPC (two or more); empty means the Region's first az_count AZs."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "egress" {
  description = "How tasks reach ECR, CloudWatch Logs and Secrets Manager: nat_gateway (created VPC), vpc_endpoints (no internet at all), or none (the existing VPC has its own way out)."
  type        = string
  default     = "nat_gateway"
  nullable    = false

  validation {
    condition     = contains(["nat_gateway", "vpc_endpoints", "none"], var.egress)
    error_message = "egress must be one of nat_gateway, vpc_endpoints, none."
  }
}

variable "https_egress_cidrs" {
  description = "Where worker tasks may connect on port 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
  nullable    = false
}

variable "extra_egress_rules" {
  description = "More TCP egress for worker tasks, e.g. the Airflow API server on 8080: [{description, from_port, to_port, cidr_ipv4}]."
  type = list(object({
    description = string
    from_port   = number
    to_port     = number
    cidr_ipv4   = string
  }))
  default  = []
  nullable = false
}

variable "assign_public_ip" {
  description = "Give each task a public IP. Only for existing public subnets without NAT; the created subnets are private."
  type        = bool
  default     = false
  nullable    = false
}

variable "create_flow_log" {
  description = "Record the created VPC's traffic in an encrypted CloudWatch log group."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Cluster
################################################################################

variable "cluster_name" {
  description = "ECS cluster name; null means the value of name."
  type        = string
  default     = null
}

variable "create_ecs_service_linked_role" {
  description = "Create the ECS service-linked role (AWSServiceRoleForECS) before the capacity providers; true on a fresh account that has never used ECS, false where it exists (creating it again fails)."
  type        = bool
  default     = false
  nullable    = false
}

variable "capacity_provider_strategy" {
  description = "Default capacity provider strategy of the cluster and of the executor: [{capacity_provider = FARGATE | FARGATE_SPOT, weight, base}]."
  type = list(object({
    capacity_provider = string
    weight            = number
    base              = number
  }))
  default  = [{ capacity_provider = "FARGATE", weight = 1, base = 0 }]
  nullable = false
}

################################################################################
# Worker task definition
################################################################################

variable "task_definition_family" {
  description = "Task definition family; null means <name>-worker."
  type        = string
  default     = null
}

variable "container_name" {
  description = "Name of the Airflow container."
  type        = string
  default     = "airflow-worker"
  nullable    = false
}

variable "image" {
  description = "Worker image (built from docker/Dockerfile). Null with create_ecr_repository runs <repository URL>:<image_tag>."
  type        = string
  default     = null
}

variable "image_repository_arns" {
  description = "Private ECR repositories (ARNs) of an image given in image that is not in the created repository: the execution role may pull from these."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "image_tag" {
  description = "Tag in the created ECR repository used when image is null; tags are immutable, so use one per build."
  type        = string
  default     = "latest"
  nullable    = false
}

# Checked here too (not only in the worker module) so `make plan` refuses a wrong size before it needs the
# provider: the variable check runs on this file alone.
variable "task_cpu" {
  description = "Default task CPU units (Fargate sizes); executor_config resizes per task."
  type        = number
  default     = 1024
  nullable    = false

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.task_cpu)
    error_message = "task_cpu must be one of Fargate's sizes: 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "task_memory" {
  description = "Default task memory (MiB), a Fargate size for task_cpu."
  type        = number
  default     = 2048
  nullable    = false

  validation {
    condition     = var.task_memory >= 512 && var.task_memory <= 122880 && floor(var.task_memory) == var.task_memory
    error_message = "task_memory must be whole MiB from 512 to 122880 (Fargate's range; which sizes a task_cpu allows is checked at plan)."
  }
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64."
  type        = string
  default     = "X86_64"
  nullable    = false

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "ephemeral_storage_gib" {
  description = "Task ephemeral storage, 20-200 GiB."
  type        = number
  default     = 20
  nullable    = false
}

variable "execution_api_server_url" {
  description = "The Airflow API server's Execution API URL as the tasks reach it (AIRFLOW__CORE__EXECUTION_API_SERVER_URL), e.g. https://airflow.internal.example/execution/."
  type        = string
  nullable    = false
}

variable "environment" {
  description = "Plain environment variables of the Airflow container; nothing secret (see secrets)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "secrets" {
  description = "Environment variable name -> Secrets Manager secret ARN or SSM parameter ARN, read at task start; the execution role may read exactly these."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "secrets_kms_key_arns" {
  description = "Customer managed KMS keys that encrypt those secrets (the execution role may decrypt with them)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the task logs (and the VPC flow logs)."
  type        = number
  default     = 365
  nullable    = false
}

variable "log_stream_prefix" {
  description = "awslogs-stream-prefix of the Airflow container."
  type        = string
  default     = "airflow"
  nullable    = false
}

variable "create_ecr_repository" {
  description = "Create a private ECR repository for the worker image."
  type        = bool
  default     = true
  nullable    = false
}

variable "ecr_kms_key_arn" {
  description = "KMS key of the ECR repository; null uses the AWS managed key aws/ecr."
  type        = string
  default     = null
}

variable "ecr_force_delete" {
  description = "Let terraform destroy delete the ECR repository with its images."
  type        = bool
  default     = false
  nullable    = false
}

################################################################################
# IAM and events
################################################################################

variable "task_role_policy_arns" {
  description = "Policies for the task role, as static key -> policy ARN (what the DAGs' code may do in AWS)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "create_events_queue" {
  description = "Route ECS task state change events through EventBridge to an SQS queue the executor reads (it polls DescribeTasks either way)."
  type        = bool
  default     = true
  nullable    = false
}

variable "events_queue_count" {
  description = "How many schedulers run: each gets its own events queue (and each team its own per scheduler), all fed by the one EventBridge rule (5 targets at most). render writes the first queue into airflow.cfg and one env file per further scheduler."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = floor(var.events_queue_count) == var.events_queue_count && var.events_queue_count >= 1 && var.events_queue_count <= 5
    error_message = "events_queue_count must be a whole number from 1 to 5: one queue per scheduler, and EventBridge allows 5 targets per rule."
  }
}

################################################################################
# Queue profiles
################################################################################

variable "profiles" {
  description = "Queue profiles: name -> {queues, cpu, memory, gpu, launch_type, capacity_provider_strategy, ec2}. Each gets its own task definition <name>-<profile> (the default worker's container, logs and roles); an ec2 block adds an EC2 capacity provider with its Auto Scaling group. A task's Airflow queue picks its profile; null fields inherit task_cpu, task_memory and the default launch settings."
  type = map(object({
    queues      = list(string)
    cpu         = optional(number)
    memory      = optional(number)
    gpu         = optional(number, 0)
    launch_type = optional(string)
    capacity_provider_strategy = optional(list(object({
      capacity_provider = string
      weight            = optional(number, 1)
      base              = optional(number, 0)
    })))
    ec2 = optional(object({
      instance_type   = string
      gpu             = optional(bool)
      min_size        = optional(number, 0)
      max_size        = optional(number, 2)
      desired_size    = optional(number, 0)
      root_volume_gib = optional(number, 50)
    }))
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.profiles) : can(regex("^[a-z][a-z0-9-]{0,15}$", name))])
    error_message = "profiles: each profile name must start with a lower-case letter and hold at most 16 lower-case letters, digits or hyphens (it becomes part of the task definition family and capacity provider name): ${join(", ", [for name in keys(var.profiles) : name if !can(regex("^[a-z][a-z0-9-]{0,15}$", name))])}."
  }
  validation {
    condition     = alltrue([for profile in values(var.profiles) : length(profile.queues) > 0 && alltrue([for queue in profile.queues : length(trimspace(queue)) > 0])])
    error_message = "profiles: each profile needs at least one Airflow queue in queues, none of them empty: ${join(", ", [for name, profile in var.profiles : name if !(length(profile.queues) > 0 && alltrue([for queue in profile.queues : length(trimspace(queue)) > 0]))])}."
  }
  validation {
    condition     = length(flatten([for profile in values(var.profiles) : distinct(profile.queues)])) == length(distinct(flatten([for profile in values(var.profiles) : profile.queues])))
    error_message = "profiles: an Airflow queue may belong to one profile only; listed in more than one: ${join(", ", distinct([for queue in flatten([for profile in values(var.profiles) : distinct(profile.queues)]) : queue if length([for profile in values(var.profiles) : profile if contains(profile.queues, queue)]) > 1]))}."
  }
  validation {
    condition     = alltrue([for profile in values(var.profiles) : profile.launch_type == null || contains(["FARGATE", "EC2"], coalesce(profile.launch_type, "FARGATE"))])
    error_message = "profiles: launch_type must be FARGATE or EC2 (or null to use capacity_provider_strategy or the default)."
  }
  validation {
    condition     = alltrue([for profile in values(var.profiles) : profile.launch_type == null || profile.capacity_provider_strategy == null])
    error_message = "profiles: set launch_type or capacity_provider_strategy, not both (ECS refuses a RunTask with both): ${join(", ", [for name, profile in var.profiles : name if profile.launch_type != null && profile.capacity_provider_strategy != null])}."
  }
  validation {
    condition = alltrue([for profile in values(var.profiles) : profile.capacity_provider_strategy == null || (
      length(coalesce(profile.capacity_provider_strategy, [])) > 0 &&
      alltrue([for item in coalesce(profile.capacity_provider_strategy, []) : item.weight >= 0 && item.weight <= 1000 && item.base >= 0 && item.base <= 100000]) &&
      length([for item in coalesce(profile.capacity_provider_strategy, []) : item if item.base > 0]) <= 1
    )])
    error_message = "profiles: a capacity_provider_strategy needs at least one item, each with 0 <= weight <= 1000 and 0 <= base <= 100000, and at most one base above 0."
  }
  validation {
    # An EC2 profile: its own ec2 capacity, launch_type EC2, or a strategy naming a provider other than Fargate's.
    condition = alltrue([for profile in values(var.profiles) : profile.gpu == 0 || (
      profile.ec2 != null || profile.launch_type == "EC2" ||
      anytrue([for item in coalesce(profile.capacity_provider_strategy, []) : !contains(["FARGATE", "FARGATE_SPOT"], item.capacity_provider)])
    )])
    error_message = "profiles: gpu needs an EC2 profile (an ec2 block, launch_type = \"EC2\" or an EC2 capacity provider); Fargate has no GPUs: ${join(", ", [for name, profile in var.profiles : name if profile.gpu != 0 && !(profile.ec2 != null || profile.launch_type == "EC2" || anytrue([for item in coalesce(profile.capacity_provider_strategy, []) : !contains(["FARGATE", "FARGATE_SPOT"], item.capacity_provider)]))])}."
  }
  validation {
    condition     = alltrue([for profile in values(var.profiles) : profile.gpu >= 0 && floor(profile.gpu) == profile.gpu])
    error_message = "profiles: gpu must be a whole number of GPUs, 0 or more."
  }
  validation {
    condition     = alltrue([for profile in values(var.profiles) : profile.ec2 == null || coalesce(profile.launch_type, "EC2") == "EC2"])
    error_message = "profiles: a profile with an ec2 block runs on EC2; launch_type = \"FARGATE\" contradicts it."
  }
  validation {
    condition = alltrue([for profile in values(var.profiles) : profile.ec2 == null || try(
      profile.ec2.min_size >= 0 && profile.ec2.min_size <= profile.ec2.desired_size && profile.ec2.desired_size <= profile.ec2.max_size && profile.ec2.max_size >= 1 &&
      profile.ec2.root_volume_gib >= 30 && profile.ec2.root_volume_gib <= 16384,
    false)])
    error_message = "profiles: an ec2 block needs 0 <= min_size <= desired_size <= max_size, max_size >= 1, and root_volume_gib from 30 to 16384."
  }
}

################################################################################
# Teams (multi-team Airflow)
################################################################################

variable "teams" {
  description = "Airflow teams ([core] multi_team): name -> {image, task_cpu, task_memory, environment, secrets, secrets_kms_key_arns, task_role_policy_arns, execution_api_server_url}. Each team gets, on the shared cluster and network, its own task definition <name>-<team>-worker, task and execution roles, log group, events queue (its tasks' events reach only it) and scheduler policy; null fields take the root's value, environment is merged over it. Team names as Airflow takes them, lower case without hyphens (they become AIRFLOW__<TEAM>___ECS_FARGATE__* variables)."
  type = map(object({
    image                    = optional(string)
    task_cpu                 = optional(number)
    task_memory              = optional(number)
    environment              = optional(map(string), {})
    secrets                  = optional(map(string), {})
    secrets_kms_key_arns     = optional(list(string), [])
    task_role_policy_arns    = optional(map(string), {})
    execution_api_server_url = optional(string)
  }))
  default  = {}
  nullable = false

  validation {
    # Airflow's team names are [a-zA-Z0-9_-]{3,50}; a hyphen cannot be in an environment variable's name and
    # AWS resource names here are lower case, so: 3-12 lower-case letters, digits or underscores.
    condition     = alltrue([for team in keys(var.teams) : can(regex("^[a-z][a-z0-9_]{2,11}$", team))])
    error_message = "teams: each team name must start with a lower-case letter and hold 3 to 12 lower-case letters, digits or underscores (Airflow's team name, part of AIRFLOW__<TEAM>___ECS_FARGATE__* and of the team's AWS resource names): ${join(", ", [for team in keys(var.teams) : team if !can(regex("^[a-z][a-z0-9_]{2,11}$", team))])}."
  }
  validation {
    condition     = alltrue([for team in values(var.teams) : team.task_cpu == null || contains([256, 512, 1024, 2048, 4096, 8192, 16384], coalesce(team.task_cpu, 1024))])
    error_message = "teams: task_cpu must be one of Fargate's sizes: 256, 512, 1024, 2048, 4096, 8192, 16384 (or null for the root's task_cpu): ${join(", ", [for name, team in var.teams : name if team.task_cpu != null && !contains([256, 512, 1024, 2048, 4096, 8192, 16384], coalesce(team.task_cpu, 1024))])}."
  }
  validation {
    condition     = alltrue([for team in values(var.teams) : team.task_memory == null || (coalesce(team.task_memory, 2048) >= 512 && coalesce(team.task_memory, 2048) <= 122880 && floor(coalesce(team.task_memory, 2048)) == coalesce(team.task_memory, 2048))])
    error_message = "teams: task_memory must be whole MiB from 512 to 122880 (or null for the root's task_memory)."
  }
  validation {
    condition     = alltrue([for team in values(var.teams) : team.image == null || can(regex("^[^\\s]+[:@][^\\s]+$", coalesce(team.image, "x:y")))])
    error_message = "teams: image must name a tag or digest, e.g. registry/repo:1.2.3 (or null for the root's image)."
  }
  validation {
    condition     = alltrue([for team in values(var.teams) : alltrue([for arn in values(team.secrets) : can(regex("^arn:[a-z-]+:(secretsmanager|ssm):", arn))])])
    error_message = "teams: each secrets value must be a Secrets Manager secret ARN or an SSM parameter ARN."
  }
}
