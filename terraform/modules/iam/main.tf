data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  ecs_arn    = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"

  secretsmanager_arns = [for arn in var.secret_arns : arn if can(regex("^arn:[a-z-]+:secretsmanager:", arn))]
  ssm_arns            = [for arn in var.secret_arns : arn if can(regex("^arn:[a-z-]+:ssm:", arn))]
  # Every scheduler's queue: each scheduler process runs under this policy and reads its own.
  events_queue_arns = distinct(compact(concat([var.events_queue_arn], var.events_queue_arns)))
  log_group_arns    = [var.log_group_arn, "${var.log_group_arn}:*"]
  # Every revision of the default worker's family and of each queue profile's.
  task_definition_arns = [
    for family in concat([var.task_definition_family], var.profile_task_definition_families) :
    "${local.ecs_arn}:task-definition/${family}:*"
  ]
}

################################################################################
# Trust: ECS tasks of this account only
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "EcsTasksOfThisAccount"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.ecs_arn}:*"]
    }
  }
}

################################################################################
# Execution role: pull the image, write the logs, read the listed secrets
################################################################################

resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-exec-"
  description        = "ECS task execution role of the Airflow workers"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid     = "RegistryLogin"
    actions = ["ecr:GetAuthorizationToken"]
    # AWS defines no resource type for GetAuthorizationToken: "*" is the only value it accepts.
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(concat(var.ecr_repository_arns, var.extra_ecr_repository_arns)) > 0 ? [1] : []

    content {
      sid       = "PullWorkerImage"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
      resources = distinct(concat(var.ecr_repository_arns, var.extra_ecr_repository_arns))
    }
  }

  statement {
    sid       = "WriteWorkerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = local.log_group_arns
  }

  dynamic "statement" {
    for_each = length(local.secretsmanager_arns) > 0 ? [1] : []

    content {
      sid       = "ReadListedSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.secretsmanager_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.ssm_arns) > 0 ? [1] : []

    content {
      sid       = "ReadListedParameters"
      actions   = ["ssm:GetParameters"]
      resources = local.ssm_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.secrets_kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "DecryptListedSecrets"
      actions   = ["kms:Decrypt"]
      resources = var.secrets_kms_key_arns
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-read-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

################################################################################
# Task role: the identity of the task code, with the policies passed in
################################################################################

resource "aws_iam_role" "task" {
  name_prefix        = "${var.name}-task-"
  description        = "ECS task role of the Airflow workers (the task code's AWS identity)"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "task" {
  for_each = var.task_role_policy_arns

  role       = aws_iam_role.task.name
  policy_arn = each.value
}

################################################################################
# Scheduler policy: exactly the calls the executor makes; attach it to the scheduler's role
################################################################################

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "RunWorkerTasksOnThisCluster"
    actions   = ["ecs:RunTask"]
    resources = local.task_definition_arns

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  # RunTask sends tags (the executor labels each task with its Airflow task key): tagging on create needs this.
  statement {
    sid       = "TagTasksAtLaunch"
    actions   = ["ecs:TagResource"]
    resources = ["${local.ecs_arn}:task/${var.cluster_name}/*"]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  statement {
    sid       = "WatchAndStopTasksOfThisCluster"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["${local.ecs_arn}:task/${var.cluster_name}/*"]
  }

  # ListTasks over a whole cluster (what the executor's adoption and `airflow-ecs status` call, with no
  # container instance) is authorized against "*": the Service Authorization Reference lists only the
  # container-instance resource type for it, which a cluster-wide call does not name. The ecs:cluster
  # condition keeps it to this cluster.
  statement {
    sid       = "ListTasksOfThisCluster"
    actions   = ["ecs:ListTasks"]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "CheckTheCluster"
    actions   = ["ecs:DescribeClusters"]
    resources = [var.cluster_arn]
  }

  statement {
    sid     = "ReadTaskDefinitions"
    actions = ["ecs:DescribeTaskDefinition"]
    # AWS defines no resource type for DescribeTaskDefinition: "*" is the only value it accepts.
    resources = ["*"]
  }

  statement {
    sid       = "PassTheWorkerRolesToEcsOnly"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn, aws_iam_role.task.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReadWorkerLogs"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = local.log_group_arns
  }

  dynamic "statement" {
    for_each = var.grant_events_queue ? [1] : []

    content {
      sid       = "ConsumeTaskStateEvents"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
      resources = local.events_queue_arns
    }
  }
}

resource "aws_iam_policy" "scheduler" {
  name_prefix = "${var.name}-scheduler-"
  description = "What the Airflow scheduler's airflow-ecs executor calls: run, watch and stop the worker tasks, read their logs and events"
  policy      = data.aws_iam_policy_document.scheduler.json
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = !var.grant_events_queue || length(local.events_queue_arns) > 0
      error_message = "grant_events_queue = true needs events_queue_arn or events_queue_arns."
    }
  }
}
