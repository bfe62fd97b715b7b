variable "name" {
  description = "Name prefix of the EventBridge rule and the SQS queues."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,30}$", var.name))
    error_message = "name must start with a letter and hold at most 31 letters, digits or hyphens."
  }
}

variable "cluster_arn" {
  description = "ECS cluster whose task state changes are routed to the queue."
  type        = string
  nullable    = false
}

variable "task_definition_families" {
  description = "Task definition families whose task state changes are routed to the queue (the worker's and each profile's)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.task_definition_families) > 0
    error_message = "task_definition_families needs at least one family: with none, the rule would match no task."
  }
}

variable "queue_count" {
  description = "Events queues, one per scheduler: the rule sends every event to each (EventBridge allows 5 targets per rule). Each scheduler reads its own, with [ecs_fargate] events_queue_exclusive = True."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = floor(var.queue_count) == var.queue_count && var.queue_count >= 1 && var.queue_count <= 5
    error_message = "queue_count must be a whole number from 1 to 5 (one queue per scheduler; EventBridge allows 5 targets per rule)."
  }
}

variable "message_retention_seconds" {
  description = "How long an unread event stays in the queue; the executor's DescribeTasks sweep covers anything older."
  type        = number
  default     = 86400
  nullable    = false

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be from 60 to 1209600 (14 days)."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a received event stays hidden before another receive may see it."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be from 0 to 43200."
  }
}

variable "max_receive_count" {
  description = "Receives after which an event moves to the dead-letter queue. A scheduler on its own queue receives an event once; N schedulers sharing one queue receive it about N times before its owner deletes it, so keep this well above the number of schedulers sharing a queue."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be from 1 to 1000."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the queues; null uses SQS managed encryption (SSE-SQS). A customer managed key must let events.amazonaws.com use it."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of this module."
  type        = map(string)
  default     = {}
  nullable    = false
}
