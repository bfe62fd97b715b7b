variable "name" {
  description = "Name of the capacity provider, and prefix of its Auto Scaling group, launch template and instance role."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.name)) && !can(regex("^(?i)(aws|ecs|fargate)", var.name))
    error_message = "name must be 1-255 letters, digits, hyphens or underscores, and not start with aws, ecs or fargate (ECS reserves those prefixes for capacity providers)."
  }
}

variable "cluster_name" {
  description = "ECS cluster the instances join (ECS_CLUSTER in their agent configuration)."
  type        = string
  nullable    = false
}

variable "instance_type" {
  description = "EC2 instance type, e.g. g5.xlarge for one NVIDIA A10G GPU."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like family.size, e.g. g5.xlarge or m7i.2xlarge."
  }
}

variable "gpu" {
  description = "Boot the ECS-optimized GPU AMI (NVIDIA driver and container toolkit) instead of the standard one."
  type        = bool
  default     = false
  nullable    = false
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64: which ECS-optimized AMI to boot (the GPU AMI is X86_64 only)."
  type        = string
  default     = "X86_64"
  nullable    = false

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "subnet_ids" {
  description = "Private subnets the Auto Scaling group launches instances in (the task subnets)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids needs at least one subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups of the instances' own network interface (tasks get theirs through awsvpc)."
  type        = list(string)
  nullable    = false
}

variable "min_size" {
  description = "Fewest instances; 0 lets the group scale to nothing when no task needs it."
  type        = number
  default     = 0
  nullable    = false
}

variable "max_size" {
  description = "Most instances managed scaling may run."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.max_size >= 1
    error_message = "max_size must be at least 1."
  }
}

variable "desired_size" {
  description = "Instances at creation; afterwards ECS managed scaling sets the desired capacity."
  type        = number
  default     = 0
  nullable    = false
}

variable "root_volume_gib" {
  description = "Size of the encrypted gp3 root volume in GiB (images and task storage live there)."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = var.root_volume_gib >= 30 && var.root_volume_gib <= 16384
    error_message = "root_volume_gib must be from 30 (the ECS-optimized AMI's snapshot size) to 16384."
  }
}

variable "target_capacity" {
  description = "Managed scaling target: the percentage of instances that should be running tasks (100 packs them fully)."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.target_capacity >= 1 && var.target_capacity <= 100
    error_message = "target_capacity must be from 1 to 100."
  }
}

variable "managed_termination_protection" {
  description = "Keep ECS from scaling in an instance that still runs a task (protects running Airflow tasks; needs managed scaling, which is on)."
  type        = bool
  default     = true
  nullable    = false
}

variable "tags" {
  description = "Tags for every resource of this module (propagated to the instances)."
  type        = map(string)
  default     = {}
  nullable    = false
}
