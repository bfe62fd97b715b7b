# Teams (multi-team Airflow) on one cluster: what a plan must hold with the real AWS provider, and what the
# variables refuse. `make test` runs this against the local ECS (moto's server, through AWS_ENDPOINT_URL).

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

run "two_teams_on_one_cluster" {
  command = plan

  variables {
    teams = {
      team_a = {
        environment           = { TEAM_MARK = "a" }
        task_role_policy_arns = { s3 = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" }
      }
      team_b = { task_cpu = 512, task_memory = 1024, execution_api_server_url = "http://team-b.internal:8080/execution/" }
    }
  }

  assert {
    condition     = output.teams.team_a.task_definition_family == "airflow-ecs-team-a-worker" && output.teams.team_b.task_definition_family == "airflow-ecs-team-b-worker"
    error_message = "Each team has its own task definition family, <name>-<team with hyphens>-worker."
  }
  assert {
    condition     = output.teams.team_a.log_group_name == "/aws/ecs/airflow-ecs/team_a/worker" && output.teams.team_b.log_group_name == "/aws/ecs/airflow-ecs/team_b/worker"
    error_message = "Each team writes to its own log group."
  }
  assert {
    condition     = output.teams.team_a.container_name == output.container_name && output.teams.team_a.log_stream_prefix == output.log_stream_prefix
    error_message = "A team's task definition has the deployment's container name and stream prefix."
  }
  # Each team's events reach only its own queue; the deployment's queue never sees a team's task.
  assert {
    condition = jsonencode(jsondecode(module.team_events["team_a"].event_pattern).detail.taskDefinitionArn) == jsonencode([
      { prefix = "arn:aws:ecs:us-east-1:123456789012:task-definition/airflow-ecs-team-a-worker:" }
    ])
    error_message = "team_a's event rule must match team_a's family only."
  }
  assert {
    condition = jsonencode(jsondecode(module.events[0].event_pattern).detail.taskDefinitionArn) == jsonencode([
      { prefix = "arn:aws:ecs:us-east-1:123456789012:task-definition/airflow-ecs-worker:" }
    ])
    error_message = "The deployment's event rule must not match a team's family."
  }
  assert {
    condition     = length(module.team_iam) == 2 && length(module.team_events) == 2 && length(module.team_worker) == 2
    error_message = "Each team gets its own roles and scheduler policy, task definition and log group, and events queue."
  }
}

run "teams_without_the_events_queue" {
  command = plan

  variables {
    create_events_queue = false
    teams               = { team_a = {} }
  }

  assert {
    condition     = output.teams.team_a.events_queue_url == null && output.teams.team_a.events_queue_arn == null && length(module.team_events) == 0
    error_message = "Without create_events_queue no team has a queue, and its queue outputs are null."
  }
}

run "no_teams" {
  command = plan

  assert {
    condition     = output.teams == {} && length(module.team_iam) == 0
    error_message = "Without teams the output is empty and nothing per team is created."
  }
}

run "team_name_with_a_hyphen_refused" {
  command = plan

  variables {
    teams = { "team-a" = {} }
  }

  expect_failures = [var.teams]
}

run "team_size_not_fargates_refused" {
  command = plan

  variables {
    teams = { team_a = { task_cpu = 300 } }
  }

  expect_failures = [var.teams]
}

run "team_names_too_long_with_the_deployments_refused" {
  command = plan

  variables {
    name  = "a-long-deployment-name-x"
    teams = { team_abcdefg = {} }
  }

  expect_failures = [output.teams]
}
