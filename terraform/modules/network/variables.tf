variable "name" {
  description = "Name prefix for every network resource."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,30}$", var.name))
    error_message = "name must start with a letter and hold at most 31 letters, digits or hyphens."
  }
}

variable "create_vpc" {
  description = "Create a VPC with private subnets (true) or use the existing vpc_id and subnet_ids (false)."
  type        = bool
  default     = true
  nullable    = false
}

variable "vpc_id" {
  description = "Existing VPC to run the tasks in; used only when create_vpc is false."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Existing private subnets for the tasks; used only when create_vpc is false. Two or more AZs recommended."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "Every subnet_ids entry must look like subnet-0123456789abcdef0."
  }
}

variable "route_table_ids" {
  description = "Route tables of the existing subnets, for the S3 gateway endpoint; used only when create_vpc is false and egress is vpc_endpoints."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "vpc_cidr" {
  description = "CIDR block of the created VPC; private subnets take the first /20s (for a /16), the public subnet for the NAT gateway a later one."
  type        = string
  default     = "10.42.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 24
    error_message = "vpc_cidr must be an IPv4 CIDR block of /24 or larger, e.g. 10.42.0.0/16."
  }
}

variable "az_count" {
  description = "Number of availability zones (one private subnet each) for the created VPC."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number from 2 to 6: Fargate tasks should be able to land in more than one AZ."
  }
}

variable "availability_zones" {
  description = "AZ names for the created VPC's private subnets (two or more); empty means the Region's first az_count AZs."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.availability_zones) == 0 || length(distinct(var.availability_zones)) >= 2
    error_message = "availability_zones must list two or more distinct AZ names, or be empty."
  }
}

variable "egress" {
  description = "How tasks reach AWS APIs and the image registry: \"nat_gateway\" (created VPC only), \"vpc_endpoints\" (interface endpoints for ECR, Logs and, with secrets, Secrets Manager/SSM, plus an S3 gateway endpoint), or \"none\" (the existing VPC already has a way out)."
  type        = string
  default     = "nat_gateway"
  nullable    = false

  validation {
    condition     = contains(["nat_gateway", "vpc_endpoints", "none"], var.egress)
    error_message = "egress must be one of nat_gateway, vpc_endpoints, none."
  }
}

variable "secrets_endpoints" {
  description = "With egress = vpc_endpoints, also create Secrets Manager and SSM endpoints (needed when the task definition references secrets)."
  type        = bool
  default     = false
  nullable    = false
}

variable "ecs_agent_endpoints" {
  description = "Also create the ecs, ecs-agent and ecs-telemetry interface endpoints (egress = vpc_endpoints with EC2 container instances)."
  type        = bool
  default     = false
  nullable    = false
}

variable "https_egress_cidrs" {
  description = "IPv4 CIDR blocks the worker tasks may reach on port 443 (AWS APIs, the registry, the Airflow API server over TLS)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
  nullable    = false

  validation {
    condition     = alltrue([for cidr in var.https_egress_cidrs : can(cidrnetmask(cidr))])
    error_message = "Every https_egress_cidrs entry must be an IPv4 CIDR block such as 10.0.0.0/8."
  }
}

variable "extra_egress_rules" {
  description = "More egress for the worker tasks, e.g. the Airflow API server's port: TCP from_port..to_port to cidr_ipv4."
  type = list(object({
    description = string
    from_port   = number
    to_port     = number
    cidr_ipv4   = string
  }))
  default  = []
  nullable = false

  validation {
    condition = alltrue([for rule in var.extra_egress_rules :
      rule.from_port >= 1 && rule.to_port <= 65535 && rule.from_port <= rule.to_port && can(cidrnetmask(rule.cidr_ipv4))
    ])
    error_message = "Each extra_egress_rules entry needs 1 <= from_port <= to_port <= 65535 and an IPv4 CIDR block."
  }
}

variable "create_flow_log" {
  description = "Record the created VPC's traffic in a CloudWatch log group (VPC flow logs)."
  type        = bool
  default     = true
  nullable    = false
}

variable "flow_log_group_name" {
  description = "Name of the CloudWatch log group for VPC flow logs."
  type        = string
  default     = null
}

variable "flow_log_retention_days" {
  description = "Days to keep VPC flow logs."
  type        = number
  default     = 365
  nullable    = false
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow log group; its key policy must admit CloudWatch Logs for that group."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of this module."
  type        = map(string)
  default     = {}
  nullable    = false
}
