# What a plan of this configuration must hold, with the real AWS provider. Plans only read from AWS (the
# Region's AZs, the account, the endpoint services); the set-up run creates two small VPCs and `terraform
# test` destroys them afterwards. `make test` runs this against the local ECS (moto's server, through
# AWS_ENDPOINT_URL); in a sandbox account: `terraform init && terraform test`.

variables {
  region                   = "us-east-1"
  execution_api_server_url = "http://airflow.internal:8080/execution/"
}

provider "aws" {
  region = var.region
}

# eu-west-3 (Paris) has three AZs.
provider "aws" {
  alias  = "paris"
  region = "eu-west-3"
}

# Known at plan time what AWS would only say at apply: the ARNs the assertions read.
override_resource {
  target          = module.cluster.aws_ecs_cluster.this
  override_during = plan
  values = {
    arn = "arn:aws:ecs:us-east-1:123456789012:cluster/airflow-ecs"
  }
}

override_resource {
  target          = module.worker.aws_cloudwatch_log_group.worker
  override_during = plan
  values = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/ecs/airflow-ecs/worker"
  }
}

override_resource {
  target          = module.events[0].aws_sqs_queue.events
  override_during = plan
  values = {
    arn = "arn:aws:sqs:us-east-1:123456789012:airflow-ecs-task-events"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/airflow-ecs-task-events"
  }
}

run "setup" {
  command = apply

  module {
    source = "./tests/setup"
  }
}

run "new_vpc_nat_defaults" {
  command = plan

  assert {
    condition     = output.region == "us-east-1" && output.cluster_name == "airflow-ecs" && output.task_definition_family == "airflow-ecs-worker"
    error_message = "region, cluster_name or task_definition_family is not what the contract says."
  }
  assert {
    condition     = output.container_name == "airflow-worker" && output.log_group_name == "/aws/ecs/airflow-ecs/worker" && output.log_stream_prefix == "airflow"
    error_message = "container_name, log_group_name or log_stream_prefix changed."
  }
  assert {
    condition     = output.assign_public_ip == false && output.profiles == {}
    error_message = "assign_public_ip must default to false and profiles to {}."
  }
  assert {
    condition     = jsonencode(output.capacity_provider_strategy) == jsonencode([{ capacity_provider = "FARGATE", weight = 1, base = 0 }])
    error_message = "The default strategy must be on-demand Fargate."
  }
  assert {
    condition     = length(output.subnet_ids) == 2 && length(output.security_group_ids) == 1
    error_message = "The created VPC has two private subnets and the tasks one security group."
  }
  assert {
    condition     = toset(module.cluster.capacity_providers) == toset(["FARGATE", "FARGATE_SPOT"])
    error_message = "The cluster carries exactly Fargate's two capacity providers without EC2 profiles."
  }
  # The EventBridge rule: this cluster's task state changes, and only of our worker families.
  assert {
    condition = module.events[0].event_pattern == jsonencode({
      source        = ["aws.ecs"]
      "detail-type" = ["ECS Task State Change"]
      detail = {
        clusterArn        = ["arn:aws:ecs:us-east-1:123456789012:cluster/airflow-ecs"]
        taskDefinitionArn = [{ prefix = "arn:aws:ecs:us-east-1:123456789012:task-definition/airflow-ecs-worker:" }]
      }
    })
    error_message = "The event pattern must match this cluster's ECS Task State Change events of the worker families only."
  }
}

run "new_vpc_endpoints_secrets" {
  command = plan

  variables {
    egress   = "vpc_endpoints"
    az_count = 3
    secrets = {
      DB     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/db-AbCdEf"
      FERNET = "arn:aws:ssm:us-east-1:123456789012:parameter/airflow/fernet"
    }
    tags = { team = "data" }
  }

  assert {
    condition     = toset(keys(module.network.vpc_endpoint_ids)) == toset(["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "s3"])
    error_message = "vpc_endpoints with secrets needs the ECR, Logs, Secrets Manager, SSM and S3 endpoints, and no ECS ones without EC2 profiles."
  }
  assert {
    condition     = length(output.subnet_ids) == 3
    error_message = "az_count = 3 gives three subnets."
  }
}

run "existing_vpc_none" {
  command = plan

  variables {
    create_vpc            = false
    vpc_id                = run.setup.vpc_id
    subnet_ids            = run.setup.subnet_ids
    egress                = "none"
    create_ecr_repository = false
    image                 = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shared/airflow-worker:1.0"
    image_repository_arns = ["arn:aws:ecr:us-east-1:123456789012:repository/shared/airflow-worker"]
  }

  assert {
    condition     = output.subnet_ids == tolist(run.setup.subnet_ids) && length(module.network.vpc_endpoint_ids) == 0
    error_message = "An existing VPC with egress none uses its subnets and creates no endpoints."
  }
  # An image from another private repository: the execution role may pull from exactly that one.
  assert {
    condition     = one([for s in jsondecode(module.iam.execution_policy_json).Statement : s if s.Sid == "PullWorkerImage"]).Resource == "arn:aws:ecr:us-east-1:123456789012:repository/shared/airflow-worker"
    error_message = "image_repository_arns must reach the execution role's pull statement."
  }
}

run "existing_vpc_endpoints" {
  command = plan

  variables {
    create_vpc      = false
    vpc_id          = run.setup.vpc_id
    subnet_ids      = run.setup.subnet_ids
    route_table_ids = run.setup.route_table_ids
    egress          = "vpc_endpoints"
  }

  assert {
    condition     = contains(keys(module.network.vpc_endpoint_ids), "ecr.dkr")
    error_message = "An existing VPC with DNS and vpc_endpoints gets the endpoints."
  }
}

# The network module's own refusals, planned as the module under test (expect_failures names root objects).
run "existing_vpc_without_dns_refused" {
  command = plan

  module {
    source = "./modules/network"
  }

  variables {
    name            = "airflow-ecs"
    create_vpc      = false
    vpc_id          = run.setup.no_dns_vpc_id
    subnet_ids      = run.setup.no_dns_subnet_ids
    route_table_ids = run.setup.no_dns_route_table_ids
    egress          = "vpc_endpoints"
    create_flow_log = false
  }

  expect_failures = [aws_security_group.worker]
}

run "az_count_above_the_regions_refused" {
  command = plan

  module {
    source = "./modules/network"
  }

  providers = {
    aws = aws.paris
  }

  variables {
    name            = "airflow-ecs"
    az_count        = 4
    create_flow_log = false
  }

  expect_failures = [aws_vpc.this]
}

run "spot_strategy" {
  command = plan

  variables {
    capacity_provider_strategy = [
      { capacity_provider = "FARGATE", weight = 1, base = 1 },
      { capacity_provider = "FARGATE_SPOT", weight = 3, base = 0 },
    ]
  }

  assert {
    condition     = jsonencode(output.capacity_provider_strategy[1]) == jsonencode({ capacity_provider = "FARGATE_SPOT", weight = 3, base = 0 })
    error_message = "The Spot strategy reaches the executor's outputs."
  }
}

run "spot_on_arm64_refused" {
  command = plan

  variables {
    cpu_architecture           = "ARM64"
    capacity_provider_strategy = [{ capacity_provider = "FARGATE_SPOT", weight = 1, base = 0 }]
  }

  expect_failures = [output.profiles]
}

run "profiles_ec2_gpu_endpoints" {
  command = plan

  variables {
    egress = "vpc_endpoints"
    tags   = { team = "ml" }
    profiles = {
      gpu = {
        queues = ["gpu"], cpu = 4096, memory = 15000, gpu = 1
        ec2    = { instance_type = "g5.xlarge", min_size = 0, max_size = 2 }
      }
      big = {
        queues = ["big"], cpu = 2048, memory = 4096, launch_type = "EC2"
        ec2    = { instance_type = "m7i.large", min_size = 0, max_size = 3 }
      }
      spot = {
        queues                     = ["spot"], cpu = 512, memory = 1024
        capacity_provider_strategy = [{ capacity_provider = "FARGATE_SPOT", weight = 1, base = 0 }]
      }
    }
  }

  assert {
    condition     = toset(module.cluster.capacity_providers) == toset(["FARGATE", "FARGATE_SPOT", "airflow-ecs-big", "airflow-ecs-gpu"])
    error_message = "Each ec2 profile's capacity provider is on the cluster."
  }
  # launch_type = "EC2" with an ec2 block still goes through its capacity provider (managed scaling).
  assert {
    condition     = jsonencode(output.profiles.big.capacity_provider_strategy) == jsonencode([{ capacity_provider = "airflow-ecs-big", weight = 1, base = 0 }]) && output.profiles.big.launch_type == null
    error_message = "An ec2 profile with launch_type EC2 must use its capacity provider, not the launch type."
  }
  assert {
    condition     = alltrue([for service in ["ecs", "ecs-agent", "ecs-telemetry"] : contains(keys(module.network.vpc_endpoint_ids), service)])
    error_message = "EC2 container instances behind vpc_endpoints need the ecs, ecs-agent and ecs-telemetry endpoints."
  }
  assert {
    condition = jsonencode(jsondecode(module.events[0].event_pattern).detail.taskDefinitionArn) == jsonencode([
      for family in ["airflow-ecs-worker", "airflow-ecs-big", "airflow-ecs-gpu", "airflow-ecs-spot"] :
      { prefix = "arn:aws:ecs:us-east-1:123456789012:task-definition/${family}:" }
    ])
    error_message = "The event pattern must name the worker family and every profile family."
  }
}

run "strategy_with_a_provider_we_do_not_create_refused" {
  command = plan

  variables {
    profiles = {
      other = {
        queues                     = ["other"]
        capacity_provider_strategy = [{ capacity_provider = "someone-elses-asg", weight = 1, base = 0 }]
        launch_type                = null
      }
    }
  }

  expect_failures = [output.profiles]
}

run "strategy_mixing_fargate_and_asg_refused" {
  command = plan

  variables {
    profiles = {
      gpu = {
        queues = ["gpu"], gpu = 1
        ec2    = { instance_type = "g5.xlarge" }
      }
      mixed = {
        queues = ["mixed"]
        capacity_provider_strategy = [
          { capacity_provider = "FARGATE", weight = 1, base = 0 },
          { capacity_provider = "airflow-ecs-gpu", weight = 1, base = 0 },
        ]
      }
    }
  }

  expect_failures = [output.profiles]
}

run "no_tags_no_queue" {
  command = plan

  variables {
    tags                = {}
    create_events_queue = false
    create_flow_log     = false
    profiles = {
      gpu = {
        queues = ["gpu"], cpu = 4096, memory = 15000, gpu = 1
        ec2    = { instance_type = "g5.xlarge" }
      }
    }
  }

  assert {
    condition     = output.events_queue_url == null && output.events_queue_arn == null
    error_message = "Without the events queue its outputs are null."
  }
}

# Every example, planned as users run it.
run "example_new_vpc_fargate" {
  command = plan

  module {
    source = "./examples/new-vpc-fargate"
  }

  variables {
    secrets = { DB = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/db-AbCdEf" }
  }

  assert {
    condition     = output.airflow_ecs.cluster_name == "airflow-demo"
    error_message = "The example re-exports the module's outputs whole."
  }
}

run "example_fargate_spot" {
  command = plan

  module {
    source = "./examples/fargate-spot"
  }

  assert {
    condition     = output.airflow_ecs.capacity_provider_strategy[1].capacity_provider == "FARGATE_SPOT"
    error_message = "The Spot example runs mostly on FARGATE_SPOT."
  }
}

run "example_queue_profiles" {
  command = plan

  module {
    source = "./examples/queue-profiles"
  }

  assert {
    condition     = toset(keys(output.airflow_ecs.profiles)) == toset(["spot", "heavy", "gpu"])
    error_message = "The queue-profiles example has its three profiles."
  }
}

run "example_existing_vpc" {
  command = plan

  module {
    source = "./examples/existing-vpc"
  }

  variables {
    vpc_id           = run.setup.vpc_id
    subnet_ids       = run.setup.subnet_ids
    airflow_api_cidr = "10.7.0.0/24"
    image            = "ghcr.io/example/airflow-worker:1.0"
  }

  assert {
    condition     = output.airflow_ecs.subnet_ids == tolist(run.setup.subnet_ids)
    error_message = "The existing-vpc example runs in the given subnets."
  }
}
