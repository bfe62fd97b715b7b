locals {
  # arn:<partition>:ecs:<region>:<account>: from the cluster ARN, so the pattern needs no data source.
  ecs_arn_prefix = join(":", slice(split(":", var.cluster_arn), 0, 5))

  # SSE-SQS unless a customer managed key is given; the two settings exclude each other.
  sqs_managed_sse = var.kms_key_arn == null

  # The first queue keeps the name (and target id) of the single queue this module made before queue_count:
  # an upgraded state moves it (moved blocks below) instead of replacing it.
  queue_suffix = [for index in range(var.queue_count) : index == 0 ? "" : "-${index + 1}"]
}

# One dead-letter queue for every events queue: it holds what no scheduler could handle, which an operator
# looks at in one place (one alarm, one redrive: SQS moves each message back to the queue it came from).
resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-task-events-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = local.sqs_managed_sse ? true : null
  kms_master_key_id         = var.kms_key_arn

  tags = var.tags
}

# One queue per scheduler: the rule sends every event to each, and each scheduler reads only its own, so it
# receives its tasks' events once and deletes the rest (none of them is anyone else's copy).
resource "aws_sqs_queue" "events" {
  count = var.queue_count

  name                       = "${var.name}-task-events${local.queue_suffix[count.index]}"
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

moved {
  from = aws_sqs_queue.events
  to   = aws_sqs_queue.events[0]
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = aws_sqs_queue.events[*].arn
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

# EventBridge allows five targets per rule, hence queue_count's bound.
resource "aws_cloudwatch_event_target" "queue" {
  count = var.queue_count

  rule      = aws_cloudwatch_event_rule.task_state.name
  target_id = "airflow-ecs-events-queue${local.queue_suffix[count.index]}"
  arn       = aws_sqs_queue.events[count.index].arn
}

moved {
  from = aws_cloudwatch_event_target.queue
  to   = aws_cloudwatch_event_target.queue[0]
}

data "aws_iam_policy_document" "queue" {
  count = var.queue_count

  statement {
    sid       = "OnlyTheTaskStateRuleSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events[count.index].arn]

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
  count = var.queue_count

  queue_url = aws_sqs_queue.events[count.index].id
  policy    = data.aws_iam_policy_document.queue[count.index].json
}

moved {
  from = aws_sqs_queue_policy.events
  to   = aws_sqs_queue_policy.events[0]
}
