# Test set-up for tests/*.tftest.hcl: two existing VPCs the way users have them, one with DNS support and
# hostnames (what VPC interface endpoints need) and one without. Applied by `terraform test` and destroyed
# after it (in the local ECS, or in a sandbox account: VPCs, subnets and route tables cost nothing).

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 6.0"
    }
  }
}

variable "region" {
  description = "AWS Region of the test VPCs."
  type        = string
}

provider "aws" {
  region = var.region
}

data "aws_availability_zones" "available" {
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

resource "aws_vpc" "dns" {
  cidr_block           = "10.7.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "airflow-ecs-test-dns" }
}

resource "aws_subnet" "dns" {
  count = 2

  vpc_id            = aws_vpc.dns.id
  cidr_block        = cidrsubnet(aws_vpc.dns.cidr_block, 8, count.index)
  availability_zone = sort(data.aws_availability_zones.available.names)[count.index]
}

resource "aws_route_table" "dns" {
  vpc_id = aws_vpc.dns.id
}

resource "aws_vpc" "no_dns" {
  cidr_block           = "10.8.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = false
  tags                 = { Name = "airflow-ecs-test-no-dns" }
}

resource "aws_subnet" "no_dns" {
  vpc_id            = aws_vpc.no_dns.id
  cidr_block        = cidrsubnet(aws_vpc.no_dns.cidr_block, 8, 0)
  availability_zone = sort(data.aws_availability_zones.available.names)[0]
}

resource "aws_route_table" "no_dns" {
  vpc_id = aws_vpc.no_dns.id
}

output "vpc_id" {
  description = "VPC with DNS support and hostnames."
  value       = aws_vpc.dns.id
}

output "subnet_ids" {
  description = "Its two subnets."
  value       = aws_subnet.dns[*].id
}

output "route_table_ids" {
  description = "Its route table."
  value       = [aws_route_table.dns.id]
}

output "no_dns_vpc_id" {
  description = "VPC without DNS hostnames."
  value       = aws_vpc.no_dns.id
}

output "no_dns_subnet_ids" {
  description = "Its subnet."
  value       = [aws_subnet.no_dns.id]
}

output "no_dns_route_table_ids" {
  description = "Its route table."
  value       = [aws_route_table.no_dns.id]
}
