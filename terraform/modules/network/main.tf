data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# No state filter: an AZ that is briefly impaired must not drop out of the list and renumber the subnets.
data "aws_availability_zones" "available" {
  # Local Zones and Wavelength Zones lack Fargate; keep to the Region's own AZs.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

# The existing VPC, to check it can serve private DNS names for the interface endpoints.
data "aws_vpc" "existing" {
  count = !var.create_vpc && var.egress == "vpc_endpoints" && var.vpc_id != null ? 1 : 0

  id = var.vpc_id
}

locals {
  # Names come sorted and AWS appends new AZs at the end, so the first az_count stay the same unless pinned.
  # min(): with az_count above the Region's AZs, slice() would fail with a bare index error; the VPC's
  # precondition names the problem instead.
  azs           = length(var.availability_zones) > 0 ? var.availability_zones : slice(sort(data.aws_availability_zones.available.names), 0, min(var.az_count, length(data.aws_availability_zones.available.names)))
  use_nat       = var.create_vpc && var.egress == "nat_gateway"
  use_endpoints = var.egress == "vpc_endpoints"
  flow_log      = var.create_vpc && var.create_flow_log

  vpc_id     = var.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  subnet_ids = var.create_vpc ? aws_subnet.private[*].id : var.subnet_ids

  # Private subnets take the first blocks; the NAT gateway's public subnet the last one, so growing az_count
  # later never renumbers an existing subnet.
  subnet_newbits  = 4
  public_netnum   = pow(2, local.subnet_newbits) - 1
  route_table_ids = var.create_vpc ? aws_route_table.private[*].id : var.route_table_ids

  interface_services = concat(
    ["ecr.api", "ecr.dkr", "logs"],
    var.secrets_endpoints ? ["secretsmanager", "ssm"] : [],
    var.ecs_agent_endpoints ? ["ecs", "ecs-agent", "ecs-telemetry"] : [],
  )
}

################################################################################
# VPC with private subnets (create_vpc = true)
################################################################################

resource "aws_vpc" "this" {
  count = var.create_vpc ? 1 : 0

  cidr_block = var.vpc_cidr
  # Interface endpoints answer on the services' usual names only with private DNS, which needs both.
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = length(var.availability_zones) > 0 || var.az_count <= length(data.aws_availability_zones.available.names)
      error_message = "az_count = ${var.az_count}, but this Region has ${length(data.aws_availability_zones.available.names)} AZs (${join(", ", sort(data.aws_availability_zones.available.names))}); lower az_count or list availability_zones."
    }
  }
}

# Take every rule off the VPC's default security group so nothing lands in it by accident.
resource "aws_default_security_group" "this" {
  count = var.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-default-closed" })
}

resource "aws_subnet" "private" {
  count = var.create_vpc ? length(local.azs) : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, local.subnet_newbits, count.index)
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_route_table" "private" {
  count = var.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-private" })
}

resource "aws_route_table_association" "private" {
  count = var.create_vpc ? length(local.azs) : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

################################################################################
# Way out through one NAT gateway (egress = "nat_gateway")
################################################################################

resource "aws_internet_gateway" "this" {
  count = local.use_nat ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = var.name })
}

# Only the NAT gateway lives here; it has its own Elastic IP, so nothing gets a public address on launch.
resource "aws_subnet" "public" {
  count = local.use_nat ? 1 : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, local.subnet_newbits, local.public_netnum)
  availability_zone       = local.azs[0]
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${local.azs[0]}" })
}

resource "aws_route_table" "public" {
  count = local.use_nat ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  count = local.use_nat ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = local.use_nat ? 1 : 0

  subnet_id      = aws_subnet.public[0].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count = local.use_nat ? 1 : 0

  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.use_nat ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
  tags          = merge(var.tags, { Name = var.name })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route" "private_nat" {
  count = local.use_nat ? 1 : 0

  route_table_id         = aws_route_table.private[0].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}

################################################################################
# Worker security group: nothing comes in; HTTPS (and what extra_egress_rules adds) goes out
################################################################################

resource "aws_security_group" "worker" {
  name_prefix = "${var.name}-worker-"
  description = "Airflow ECS worker tasks: no inbound, HTTPS out"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-worker" })

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.create_vpc || (var.vpc_id != null && length(var.subnet_ids) > 0)
      error_message = "With create_vpc = false, set vpc_id and at least one subnet_ids entry."
    }
    precondition {
      condition     = var.create_vpc || var.egress != "nat_gateway"
      error_message = "egress = \"nat_gateway\" creates the NAT in a created VPC; with an existing VPC use \"none\" (it has its own way out) or \"vpc_endpoints\"."
    }
    precondition {
      condition     = length(data.aws_vpc.existing) == 0 || try(data.aws_vpc.existing[0].enable_dns_support && data.aws_vpc.existing[0].enable_dns_hostnames, false)
      error_message = "egress = \"vpc_endpoints\" in the existing VPC ${coalesce(var.vpc_id, "-")} needs enableDnsSupport and enableDnsHostnames (the endpoints' private DNS names); turn both on for the VPC, or use egress = \"none\"."
    }
    precondition {
      condition     = var.create_vpc || var.egress != "vpc_endpoints" || length(var.route_table_ids) > 0
      error_message = "egress = \"vpc_endpoints\" in an existing VPC needs route_table_ids for the S3 gateway endpoint."
    }
  }
}

resource "aws_vpc_security_group_egress_rule" "worker_https" {
  for_each = toset(var.https_egress_cidrs)

  security_group_id = aws_security_group.worker.id
  description       = "HTTPS to AWS APIs, the image registry and the Airflow API"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "worker_extra" {
  for_each = { for index, rule in var.extra_egress_rules : tostring(index) => rule }

  security_group_id = aws_security_group.worker.id
  description       = each.value.description
  ip_protocol       = "tcp"
  from_port         = each.value.from_port
  to_port           = each.value.to_port
  cidr_ipv4         = each.value.cidr_ipv4
}

# S3 (ECR keeps image layers there) through the gateway endpoint: its prefix list, not 0.0.0.0/0.
resource "aws_vpc_security_group_egress_rule" "worker_s3" {
  count = local.use_endpoints ? 1 : 0

  security_group_id = aws_security_group.worker.id
  description       = "HTTPS to S3 through the gateway endpoint (image layers)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3[0].prefix_list_id
}

################################################################################
# VPC endpoints (egress = "vpc_endpoints")
################################################################################

resource "aws_security_group" "endpoints" {
  count = local.use_endpoints ? 1 : 0

  name_prefix = "${var.name}-endpoints-"
  description = "VPC interface endpoints: HTTPS from the Airflow worker tasks only"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-endpoints" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_worker" {
  count = local.use_endpoints ? 1 : 0

  security_group_id            = aws_security_group.endpoints[0].id
  description                  = "HTTPS from the Airflow worker tasks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.worker.id
}

resource "aws_vpc_security_group_egress_rule" "worker_to_endpoints" {
  count = local.use_endpoints ? 1 : 0

  security_group_id            = aws_security_group.worker.id
  description                  = "HTTPS to the VPC interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints[0].id
}

data "aws_vpc_endpoint_service" "interface" {
  for_each = local.use_endpoints ? toset(local.interface_services) : toset([])

  service      = each.key
  service_type = "Interface"
}

resource "aws_vpc_endpoint" "interface" {
  for_each = data.aws_vpc_endpoint_service.interface

  vpc_id              = local.vpc_id
  service_name        = each.value.service_name
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

data "aws_vpc_endpoint_service" "s3" {
  count = local.use_endpoints ? 1 : 0

  service      = "s3"
  service_type = "Gateway"
}

resource "aws_vpc_endpoint" "s3" {
  count = local.use_endpoints ? 1 : 0

  vpc_id            = local.vpc_id
  service_name      = data.aws_vpc_endpoint_service.s3[0].service_name
  vpc_endpoint_type = "Gateway"
  route_table_ids   = local.route_table_ids

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

################################################################################
# VPC flow logs for the created VPC
################################################################################

resource "aws_cloudwatch_log_group" "flow_log" {
  count = local.flow_log ? 1 : 0

  name              = coalesce(var.flow_log_group_name, "/aws/vpc/${var.name}/flow-logs")
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.kms_key_arn != null
      error_message = "create_flow_log needs kms_key_arn to encrypt the flow log group."
    }
  }
}

data "aws_iam_policy_document" "flow_log_assume" {
  count = local.flow_log ? 1 : 0

  statement {
    sid     = "VpcFlowLogsFromThisAccount"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ec2:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:vpc-flow-log/*"]
    }
  }
}

resource "aws_iam_role" "flow_log" {
  count = local.flow_log ? 1 : 0

  name_prefix        = "${var.name}-flow-log-"
  description        = "Lets VPC flow logs write to their log group"
  assume_role_policy = data.aws_iam_policy_document.flow_log_assume[0].json
  tags               = var.tags
}

data "aws_iam_policy_document" "flow_log" {
  count = local.flow_log ? 1 : 0

  statement {
    sid       = "WriteFlowLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [aws_cloudwatch_log_group.flow_log[0].arn, "${aws_cloudwatch_log_group.flow_log[0].arn}:log-stream:*"]
  }
  # DescribeLogGroups has no resource type (the policy linter, from the Service Authorization Reference):
  # IAM checks it against "*", which a log-group ARN pattern would not match.
  statement {
    sid       = "FindFlowLogGroup"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "flow_log" {
  count = local.flow_log ? 1 : 0

  name   = "write-flow-log-group"
  role   = aws_iam_role.flow_log[0].id
  policy = data.aws_iam_policy_document.flow_log[0].json
}

resource "aws_flow_log" "this" {
  count = local.flow_log ? 1 : 0

  vpc_id               = aws_vpc.this[0].id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_log[0].arn
  iam_role_arn         = aws_iam_role.flow_log[0].arn

  tags = var.tags
}
