variable "name" {
  description = "Name prefix for the log group, KMS key alias and ECR repository."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name))
    error_message = "name must start with a lower-case letter and hold at most 31 lower-case letters, digits or hyphens (ECR repository names are lower case)."
  }
}

variable "family" {
  description = "Task definition family; the scheduler's RunTask permission is scoped to it."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.family))
    error_message = "family must be 1-255 letters, digits, hyphens or underscores."
  }
}

variable "container_name" {
  description = "Name of the Airflow container in the task definition ([ecs_fargate] container_name)."
  type        = string
  default     = "airflow-worker"
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.container_name))
    error_message = "container_name must be 1-255 letters, digits, hyphens or underscores."
  }
}

variable "image" {
  description = "Worker image reference (repository:tag or @digest). Null with create_ecr_repository means <created repository URL>:<image_tag>."
  type        = string
  default     = null

  validation {
    condition     = var.image == null || can(regex("^[^\\s]+[:@][^\\s]+$", var.image))
    error_message = "image must name a tag or digest, e.g. registry/repo:1.2.3 or registry/repo@sha256:<digest>."
  }
}

variable "image_tag" {
  description = "Tag of the image in the created ECR repository, used when image is null. Tags are immutable there: use a new tag per build."
  type        = string
  default     = "latest"
  nullable    = false
}

variable "execution_role_arn" {
  description = "Task execution role: pulls the image, writes the logs, reads the secrets."
  type        = string
  nullable    = false
}

variable "task_role_arn" {
  description = "Task role: the AWS identity of the Airflow task code."
  type        = string
  nullable    = false
}

variable "task_cpu" {
  description = "Task CPU units (Fargate: 256, 512, 1024, 2048, 4096, 8192, 16384); executor_config can resize per task."
  type        = number
  default     = 1024
  nullable    = false

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.task_cpu)
    error_message = "task_cpu must be one of Fargate's sizes: 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "task_memory" {
  description = "Task memory in MiB; must be a size Fargate allows with task_cpu (e.g. 1024 CPU: 2048-8192 in steps of 1024)."
  type        = number
  default     = 2048
  nullable    = false
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64 (Graviton, cheaper; needs an arm64 image). The OS family is LINUX: Airflow has no Windows image."
  type        = string
  default     = "X86_64"
  nullable    = false

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "ephemeral_storage_gib" {
  description = "Task ephemeral storage in GiB: 20 (Fargate's default, no setting) or 21-200."
  type        = number
  default     = 20
  nullable    = false

  validation {
    condition     = var.ephemeral_storage_gib >= 20 && var.ephemeral_storage_gib <= 200 && floor(var.ephemeral_storage_gib) == var.ephemeral_storage_gib
    error_message = "ephemeral_storage_gib must be a whole number from 20 to 200."
  }
}

variable "execution_api_server_url" {
  description = "URL of the Airflow API server's Execution API as the tasks reach it, e.g. https://airflow.internal.example/execution/ (AIRFLOW__CORE__EXECUTION_API_SERVER_URL)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^https?://[^\\s/]+", var.execution_api_server_url))
    error_message = "execution_api_server_url must be an http:// or https:// URL, e.g. https://airflow.internal.example/execution/."
  }
}

variable "environment" {
  description = "Plain environment variables of the Airflow container. Nothing secret here: use secrets."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for key in keys(var.environment) : !can(regex("(?i)(PASSWORD|SECRET|TOKEN|FERNET_KEY|PRIVATE_KEY|CONN_URI)", key))])
    error_message = "environment holds a name that looks secret (password, secret, token, fernet key, private key, connection URI): pass it in secrets as a Secrets Manager or SSM ARN."
  }
}

variable "secrets" {
  description = "Environment variable name -> Secrets Manager secret ARN or SSM parameter ARN; the value is fetched at task start by the execution role, never stored here."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for arn in values(var.secrets) : can(regex("^arn:[a-z-]+:(secretsmanager:[a-z0-9-]+:[0-9]+:secret:|ssm:[a-z0-9-]+:[0-9]+:parameter/)", arn))])
    error_message = "Each secrets value must be a Secrets Manager secret ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:...) or an SSM parameter ARN (arn:<partition>:ssm:<region>:<account>:parameter/...)."
  }
}

variable "log_group_name" {
  description = "CloudWatch log group of the worker containers (awslogs-group); null means /aws/ecs/<name>/worker."
  type        = string
  default     = null
}

variable "log_stream_prefix" {
  description = "awslogs-stream-prefix: streams are named <prefix>/<container name>/<task id>."
  type        = string
  default     = "airflow"
  nullable    = false

  validation {
    condition     = can(regex("^[^:*/]{1,100}$", var.log_stream_prefix))
    error_message = "log_stream_prefix must be 1-100 characters without ':', '*' or '/'."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the task logs (one of the values CloudWatch Logs accepts)."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "kms_extra_log_group_names" {
  description = "Other log groups (in this account and Region) the created KMS key may encrypt, e.g. the VPC flow log group."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the log KMS key is deleted after destroy."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be from 7 to 30."
  }
}

variable "create_ecr_repository" {
  description = "Create a private ECR repository for the worker image (scan on push, immutable tags, KMS encryption)."
  type        = bool
  default     = true
  nullable    = false
}

variable "ecr_kms_key_arn" {
  description = "KMS key for the ECR repository; null uses the AWS managed key aws/ecr."
  type        = string
  default     = null
}

variable "ecr_force_delete" {
  description = "Let terraform destroy delete the ECR repository while it still holds images."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Tags for every resource of this module."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "profiles" {
  description = "Queue profiles, each its own task definition with this module's container, log group and roles: name -> {family, cpu, memory, gpu, ec2}. ec2 = true makes an EC2 task definition (awsvpc; gpu adds a GPU resource requirement); otherwise cpu/memory must be a Fargate size."
  type = map(object({
    family = string
    cpu    = number
    memory = number
    gpu    = optional(number, 0)
    ec2    = optional(bool, false)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for profile in values(var.profiles) : can(regex("^[a-zA-Z0-9_-]{1,255}$", profile.family))])
    error_message = "Each profile family must be 1-255 letters, digits, hyphens or underscores."
  }
  validation {
    condition     = alltrue([for profile in values(var.profiles) : profile.gpu == 0 || profile.ec2])
    error_message = "profiles: gpu needs ec2 = true; Fargate has no GPUs: ${join(", ", [for name, profile in var.profiles : name if profile.gpu != 0 && !profile.ec2])}."
  }
  validation {
    condition     = length(distinct([for profile in values(var.profiles) : profile.family])) == length(var.profiles)
    error_message = "Each profile needs its own family."
  }
}
