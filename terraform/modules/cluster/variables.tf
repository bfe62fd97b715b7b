variable "name" {
  description = "ECS cluster name."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.name))
    error_message = "name must be 1-255 letters, digits, hyphens or underscores (ECS cluster name rules)."
  }
}

variable "default_capacity_provider_strategy" {
  description = "The cluster's default capacity provider strategy, used by RunTask calls that name neither a strategy nor a launch type."
  type = list(object({
    capacity_provider = string
    weight            = number
    base              = number
  }))
  default  = [{ capacity_provider = "FARGATE", weight = 1, base = 0 }]
  nullable = false

  validation {
    condition     = length(var.default_capacity_provider_strategy) > 0 && alltrue([for item in var.default_capacity_provider_strategy : contains(["FARGATE", "FARGATE_SPOT"], item.capacity_provider)])
    error_message = "default_capacity_provider_strategy needs at least one item, each with capacity_provider FARGATE or FARGATE_SPOT."
  }
  validation {
    condition     = alltrue([for item in var.default_capacity_provider_strategy : item.weight >= 0 && item.weight <= 1000 && item.base >= 0 && item.base <= 100000])
    error_message = "Each strategy item needs 0 <= weight <= 1000 and 0 <= base <= 100000."
  }
  validation {
    condition     = length([for item in var.default_capacity_provider_strategy : item if item.base > 0]) <= 1
    error_message = "Only one item of default_capacity_provider_strategy may have a base above 0 (an ECS rule)."
  }
  validation {
    condition     = length(distinct([for item in var.default_capacity_provider_strategy : item.capacity_provider])) == length(var.default_capacity_provider_strategy)
    error_message = "Each capacity provider may appear once in default_capacity_provider_strategy."
  }
}

variable "extra_capacity_providers" {
  description = "More capacity providers for the cluster besides FARGATE and FARGATE_SPOT, e.g. the EC2 capacity providers of queue profiles."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(setintersection(var.extra_capacity_providers, ["FARGATE", "FARGATE_SPOT"])) == 0 && length(distinct(var.extra_capacity_providers)) == length(var.extra_capacity_providers)
    error_message = "extra_capacity_providers must not repeat a name or list FARGATE or FARGATE_SPOT (the cluster always has those)."
  }
}

variable "extra_capacity_provider_replacement_keys" {
  description = "One value per extra capacity provider that changes when it is replaced (e.g. its Auto Scaling group ARN): the cluster's capacity provider association is replaced with it."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "create_service_linked_role" {
  description = "Create the ECS service-linked role (AWSServiceRoleForECS) before the capacity providers: on a fresh account; creating it where it exists fails."
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
