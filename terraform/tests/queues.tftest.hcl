# One events queue per scheduler: what a plan must hold with 1 and 3 queues, what the variable refuses, and
# that the scheduler policy covers every queue. `make test` runs this against the local ECS (moto's server,
# through AWS_ENDPOINT_URL). That an existing single-queue state is moved, not replaced, is proven by an
# apply and a plan in tests/test_terraform_provider.py (a plan-only test cannot hold a state).

variables {
  region                   = "us-east-1"
  execution_api_server_url = "http://airflow.internal:8080/execution/"
  create_flow_log          = false
}

provider "aws" {
  region = var.region
}

# Known at plan time what AWS would only say at apply: the cluster ARN the event patterns are built from.
override_resource {
  target          = module.cluster.aws_ecs_cluster.this
  override_during = plan
  values = {
    arn = "arn:aws:ecs:us-east-1:123456789012:cluster/airflow-ecs"
  }
}

run "one_queue_by_default" {
  command = plan

  assert {
    condition     = length(module.events[0].queue_urls) == 1 && length(output.events_queue_urls) == 1
    error_message = "Without events_queue_count there is one queue, as before one queue per scheduler."
  }
}

run "three_schedulers_three_queues_for_the_deployment_and_each_team" {
  command = plan

  variables {
    events_queue_count = 3
    teams              = { team_a = {} }
  }

  assert {
    condition     = length(module.events[0].queue_urls) == 3 && length(module.events[0].queue_arns) == 3
    error_message = "events_queue_count = 3 makes three queues."
  }
  assert {
    condition     = length(output.events_queue_urls) == 3
    error_message = "events_queue_urls lists one queue per scheduler."
  }
  assert {
    condition     = length(module.team_events["team_a"].queue_urls) == 3
    error_message = "Every scheduler runs every team's executor: each team has one queue per scheduler too."
  }
}

run "more_queues_than_a_rule_has_targets_is_refused" {
  command = plan

  variables {
    events_queue_count = 6
  }

  expect_failures = [var.events_queue_count]
}

run "no_queue_is_refused" {
  command = plan

  variables {
    events_queue_count = 0
  }

  expect_failures = [var.events_queue_count]
}

run "a_fraction_of_a_queue_is_refused" {
  command = plan

  variables {
    events_queue_count = 1.5
  }

  expect_failures = [var.events_queue_count]
}

# The scheduler policy, applied on its own (to the local ECS; `terraform test` destroys it after) with the
# queues' ARNs given: every scheduler's queue is in it. Applied: the roles it passes are known only then.
run "the_scheduler_policy_covers_every_queue" {
  command = apply

  module {
    source = "./modules/iam"
  }

  variables {
    name                   = "airflow-ecs"
    cluster_name           = "airflow-ecs"
    cluster_arn            = "arn:aws:ecs:us-east-1:123456789012:cluster/airflow-ecs"
    task_definition_family = "airflow-ecs-worker"
    log_group_arn          = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/ecs/airflow-ecs/worker"
    grant_events_queue     = true
    events_queue_arns = [
      "arn:aws:sqs:us-east-1:123456789012:airflow-ecs-task-events",
      "arn:aws:sqs:us-east-1:123456789012:airflow-ecs-task-events-2",
      "arn:aws:sqs:us-east-1:123456789012:airflow-ecs-task-events-3",
    ]
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(output.scheduler_policy_json).Statement : statement.Resource if statement.Sid == "ConsumeTaskStateEvents"
      ])) == toset([
      "arn:aws:sqs:us-east-1:123456789012:airflow-ecs-task-events",
      "arn:aws:sqs:us-east-1:123456789012:airflow-ecs-task-events-2",
      "arn:aws:sqs:us-east-1:123456789012:airflow-ecs-task-events-3",
    ])
    error_message = "The scheduler policy must let the schedulers read every events queue, and only those."
  }
}
