# A new VPC with private subnets in two AZs, one NAT gateway, on-demand Fargate, the events queue and an ECR
# repository: the whole stack from nothing.

provider "aws" {
  region = var.region
}

module "airflow_ecs" {
  source = "../.."

  name                     = "airflow-demo"
  execution_api_server_url = var.execution_api_server_url
  egress                   = "nat_gateway"
  az_count                 = 2

  secrets = var.secrets

  tags = { project = "airflow-ecs", example = "new-vpc-fargate" }
}
