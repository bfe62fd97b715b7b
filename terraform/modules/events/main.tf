locals {
  # arn:<partition>:ecs:<region>:<account>: from the cluster ARN, so the pattern needs no data source.
  ecs_arn_prefix = join(":", slice(split(":", var.cluster_arn), 0, 5))

  # SSE-SQS unless a customer managed key is given; the two settings exclude each other.
  sqs_managed_sse = var.kms_key_arn == null
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-task-events-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = local.sqs_managed_sse ? true : null
  kms_master_key_id         = var.kms_key_arn

  tags = var.tags
}

resource "aws_sqs_queue" "events" {
  name                       = "${var.name}-task-events"
  message_retention_seconds  = var.message_retention_seconds
  visibility_timeout_seconds = var.visibility_timeout_seconds
  # Long polling: the executor's consumer thread waits on the queue instead of spinning.
  receive_wait_time_seconds = 20
  sqs_managed_sse_enabled   = local.sqs_managed_sse ? true : null
  kms_master_key_id         = var.kms_key_arn

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.events.arn]
  })
}

resource "aws_cloudwatch_event_rule" "task_state" {
  name        = "${var.name}-task-state"
  description = "ECS task state changes of the Airflow cluster, for the airflow-ecs executor"

  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    # Only our worker families (any revision): other workloads on the cluster never reach the queue.
    detail = {
      clusterArn        = [var.cluster_arn]
      taskDefinitionArn = [for family in var.task_definition_families : { prefix = "${local.ecs_arn_prefix}:task-definition/${family}:" }]
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "queue" {
  rule      = aws_cloudwatch_event_rule.task_state.name
  target_id = "airflow-ecs-events-queue"
  arn       = aws_sqs_queue.events.arn
}

data "aws_iam_policy_document" "queue" {
  statement {
    sid       = "OnlyTheTaskStateRuleSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.task_state.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.queue.json
}
