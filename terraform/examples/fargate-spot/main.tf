# Mostly Fargate Spot: one on-demand task as a floor, then three Spot tasks for each on-demand one. No NAT:
# the tasks reach ECR, S3 and CloudWatch Logs through VPC endpoints. A Spot interruption stops the task with
# stopCode SpotInterruption; the executor reports it and Airflow's retries launch it again.

provider "aws" {
  region = var.region
}

module "airflow_ecs" {
  source = "../.."

  name                     = "airflow-spot"
  execution_api_server_url = var.execution_api_server_url
  egress                   = "vpc_endpoints"
  cpu_architecture         = "ARM64"

  capacity_provider_strategy = [
    { capacity_provider = "FARGATE", weight = 1, base = 1 },
    { capacity_provider = "FARGATE_SPOT", weight = 3, base = 0 },
  ]

  tags = { project = "airflow-ecs", example = "fargate-spot" }
}
