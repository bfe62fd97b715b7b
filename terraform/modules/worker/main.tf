data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  log_group_name = coalesce(var.log_group_name, "/aws/ecs/${var.name}/worker")
  # The key policy names the log groups by ARN; built from names so the key need not wait for the groups.
  kms_log_group_arns = [
    for name in concat([local.log_group_name], var.kms_extra_log_group_names) :
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${name}"
  ]

  image = var.image != null ? var.image : (var.create_ecr_repository ? "${aws_ecr_repository.this[0].repository_url}:${var.image_tag}" : null)

  environment = merge(var.environment, {
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL = var.execution_api_server_url
  })

  # The Airflow container, the same in the default task definition and in every profile's.
  container = {
    name      = var.container_name
    image     = local.image
    essential = true
    # The executor gives each task its command through RunTask overrides; the image's entrypoint runs it.
    environment = [for key in sort(keys(local.environment)) : { name = key, value = local.environment[key] }]
    secrets     = [for key in sort(keys(var.secrets)) : { name = key, valueFrom = var.secrets[key] }]
    # Airflow writes under AIRFLOW_HOME (/opt/airflow: logs, airflow.cfg, the task runner's temporary files)
    # and Python under /tmp; a read-only root filesystem makes the task fail before it starts.
    readonlyRootFilesystem = false
    # An init process reaps the task runner's child processes and forwards SIGTERM on StopTask.
    linuxParameters = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.worker.name
        awslogs-region        = local.region
        awslogs-stream-prefix = var.log_stream_prefix
      }
    }
  }
}

################################################################################
# KMS key for the log groups
################################################################################

data "aws_iam_policy_document" "kms" {
  # Without this statement nobody in the account could manage the key: key policies are not inherited.
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" is this key and nothing else

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsTheseLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      # No kms:Describe*: DescribeKey carries no encryption context, so under the condition below it never applied.
    ]
    resources = ["*"] # this key

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.kms_log_group_arns
    }
  }
}

resource "aws_kms_key" "logs" {
  description             = "Encrypts the ${var.name} Airflow worker log groups"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json

  tags = var.tags
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

################################################################################
# Log group of the worker containers
################################################################################

resource "aws_cloudwatch_log_group" "worker" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn

  tags = var.tags
}

################################################################################
# ECR repository for the worker image
################################################################################

resource "aws_ecr_repository" "this" {
  count = var.create_ecr_repository ? 1 : 0

  name                 = "${var.name}-worker"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.ecr_kms_key_arn
  }

  tags = var.tags
}

################################################################################
# Task definition
################################################################################

resource "aws_ecs_task_definition" "this" {
  family                   = var.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.task_cpu)
  memory                   = tostring(var.task_memory)
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  dynamic "ephemeral_storage" {
    for_each = var.ephemeral_storage_gib > 20 ? [var.ephemeral_storage_gib] : []

    content {
      size_in_gib = ephemeral_storage.value
    }
  }

  container_definitions = jsonencode([local.container])
  # A replacement registers the new revision and leaves the old one ACTIVE: tasks already running (or being
  # launched by the scheduler) on it keep their revision instead of failing on an INACTIVE one.
  skip_destroy = true

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.task_size_valid
      error_message = "task_memory ${var.task_memory} is not a Fargate size for task_cpu ${var.task_cpu}; allowed: ${join(", ", [for m in local.task_memory_choices : tostring(m)])}."
    }
    precondition {
      condition     = local.image != null
      error_message = "Set image, or create_ecr_repository = true to run <repository URL>:<image_tag>."
    }
  }
}

################################################################################
# One task definition per queue profile
################################################################################

resource "aws_ecs_task_definition" "profile" {
  for_each = var.profiles

  family                   = each.value.family
  requires_compatibilities = each.value.ec2 ? ["EC2"] : ["FARGATE"]
  # awsvpc on EC2 too: every task gets its own ENI with the worker security group, as on Fargate.
  network_mode       = "awsvpc"
  cpu                = tostring(each.value.cpu)
  memory             = tostring(each.value.memory)
  execution_role_arn = var.execution_role_arn
  task_role_arn      = var.task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Fargate only: on EC2 the task's storage is the instance's volume.
  dynamic "ephemeral_storage" {
    for_each = !each.value.ec2 && var.ephemeral_storage_gib > 20 ? [var.ephemeral_storage_gib] : []

    content {
      size_in_gib = ephemeral_storage.value
    }
  }

  # The GPU requirement only when there is one: the key is left out otherwise.
  container_definitions = jsonencode([merge(local.container, {
    for key, value in { resourceRequirements = [{ type = "GPU", value = tostring(each.value.gpu) }] } :
    key => value if each.value.gpu > 0
  })])
  skip_destroy = true # as above

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !contains(keys(local.profile_size_errors), each.key)
      error_message = lookup(local.profile_size_errors, each.key, "")
    }
    precondition {
      condition     = each.value.family != var.family
      error_message = "profile ${each.key}: family ${each.value.family} is the default worker's; name the profile differently."
    }
    precondition {
      condition     = local.image != null
      error_message = "Set image, or create_ecr_repository = true to run <repository URL>:<image_tag>."
    }
  }
}
