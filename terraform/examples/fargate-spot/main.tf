# Mostly Fargate Spot: one on-demand task as a floor, then three Spot tasks for each on-demand one. No NAT:
# the tasks reach ECR, S3 and CloudWatch Logs through VPC endpoints. A Spot interruption stops the task with
# stopCode SpotInterruption; the executor reports it and Airflow's retries launch it again. X86_64 (the
# default): Fargate Spot does not run ARM64 tasks.

module "airflow_ecs" {
  source = "../.."

  region                   = var.region
  name                     = "airflow-spot"
  execution_api_server_url = var.execution_api_server_url
  egress                   = "vpc_endpoints"

  capacity_provider_strategy = [
    { capacity_provider = "FARGATE", weight = 1, base = 1 },
    { capacity_provider = "FARGATE_SPOT", weight = 3, base = 0 },
  ]

  tags = { project = "airflow-ecs", example = "fargate-spot" }
}
