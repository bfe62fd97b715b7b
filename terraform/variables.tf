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

variable "tags" {
  description = "Tags for every resource."
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

variable "image_tag" {
  description = "Tag in the created ECR repository used when image is null; tags are immutable, so use one per build."
  type        = string
  default     = "latest"
  nullable    = false
}

variable "task_cpu" {
  description = "Default task CPU units (Fargate sizes); executor_config resizes per task."
  type        = number
  default     = 1024
  nullable    = false
}

variable "task_memory" {
  description = "Default task memory (MiB), a Fargate size for task_cpu."
  type        = number
  default     = 2048
  nullable    = false
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64."
  type        = string
  default     = "X86_64"
  nullable    = false
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
