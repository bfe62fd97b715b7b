# A new VPC with private subnets in two AZs, one NAT gateway, on-demand Fargate, the events queue and an ECR
# repository: the whole stack from nothing.

module "airflow_ecs" {
  source = "../.."

  region                   = var.region
  name                     = "airflow-demo"
  execution_api_server_url = var.execution_api_server_url
  egress                   = "nat_gateway"
  az_count                 = 2

  secrets = var.secrets

  tags = { project = "airflow-ecs", example = "new-vpc-fargate" }
}
