variable "name" {
  description = "Name prefix of the roles and the scheduler policy."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,30}$", var.name))
    error_message = "name must start with a letter and hold at most 31 letters, digits or hyphens."
  }
}

variable "cluster_name" {
  description = "ECS cluster the scheduler runs tasks on; task and container-instance ARNs are scoped to it."
  type        = string
  nullable    = false
}

variable "cluster_arn" {
  description = "ARN of that ECS cluster (the ecs:cluster condition of RunTask and ListTasks)."
  type        = string
  nullable    = false
}

variable "task_definition_family" {
  description = "Worker task definition family; RunTask is allowed on its revisions (and those of profile_task_definition_families) only."
  type        = string
  nullable    = false
}

variable "profile_task_definition_families" {
  description = "Task definition families of the queue profiles; RunTask is allowed on their revisions too."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "log_group_arn" {
  description = "ARN of the worker log group, without the trailing :* (as aws_cloudwatch_log_group.arn gives it)."
  type        = string
  nullable    = false
}

variable "ecr_repository_arns" {
  description = "ECR repositories the execution role may pull from."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "secret_arns" {
  description = "Secrets Manager secret and SSM parameter ARNs the execution role may read (the task definition's secrets)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.secret_arns : can(regex("^arn:[a-z-]+:(secretsmanager|ssm):", arn))])
    error_message = "Each secret_arns entry must be a Secrets Manager or SSM ARN."
  }
}

variable "secrets_kms_key_arns" {
  description = "Customer managed KMS keys that encrypt those secrets; the execution role may decrypt with them (not needed for AWS managed keys)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "task_role_policy_arns" {
  description = "Policies for the task role (the Airflow task code's AWS identity), as a map of any static key -> policy ARN."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "grant_events_queue" {
  description = "Give the scheduler policy access to the events queue (true when the queue is created)."
  type        = bool
  default     = false
  nullable    = false
}

variable "events_queue_arn" {
  description = "ARN of the SQS queue of ECS task state change events; used when grant_events_queue is true."
  type        = string
  default     = null
}

variable "events_queue_arns" {
  description = "ARNs of more events queues (one per scheduler) the scheduler policy covers besides events_queue_arn; used when grant_events_queue is true."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "tags" {
  description = "Tags for every resource of this module."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "extra_ecr_repository_arns" {
  description = "More private ECR repositories the execution role may pull from (an image kept outside the created repository)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.extra_ecr_repository_arns : can(regex("^arn:[a-z-]+:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", arn))])
    error_message = "extra_ecr_repository_arns: each entry must be an ECR repository ARN, arn:<partition>:ecr:<region>:<account>:repository/<name>."
  }
}
