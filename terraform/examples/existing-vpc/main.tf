# Run in subnets you already have (with their own NAT or proxy); VPC interface endpoints are optional here.

module "airflow_ecs" {
  source = "../.."

  region                   = var.region
  name                     = "airflow-shared"
  create_vpc               = false
  vpc_id                   = var.vpc_id
  subnet_ids               = var.subnet_ids
  egress                   = "none"
  execution_api_server_url = var.execution_api_server_url

  # The API server listens on 8080 inside the VPC, not behind TLS on 443.
  extra_egress_rules = [{
    description = "Airflow Execution API"
    from_port   = 8080
    to_port     = 8080
    cidr_ipv4   = var.airflow_api_cidr
  }]

  create_ecr_repository = false
  image                 = var.image

  tags = { project = "airflow-ecs", example = "existing-vpc" }
}
