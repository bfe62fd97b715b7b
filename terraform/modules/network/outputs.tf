output "vpc_id" {
  description = "VPC the worker tasks run in (created or given)."
  value       = local.vpc_id
}

output "subnet_ids" {
  description = "Private subnets for the worker tasks (created or given)."
  value       = local.subnet_ids
}

output "worker_security_group_id" {
  description = "Security group for the worker tasks: no inbound, HTTPS (and extra_egress_rules) outbound."
  value       = aws_security_group.worker.id
}

output "nat_gateway_public_ip" {
  description = "Public address the tasks' traffic leaves from through the NAT gateway (null without one); allow-list it where needed."
  value       = local.use_nat ? aws_eip.nat[0].public_ip : null
}

output "vpc_endpoint_ids" {
  description = "Interface and gateway VPC endpoints by service (empty unless egress is vpc_endpoints)."
  value = merge(
    { for service, endpoint in aws_vpc_endpoint.interface : service => endpoint.id },
    local.use_endpoints ? { s3 = aws_vpc_endpoint.s3[0].id } : {},
  )
}

output "flow_log_group_name" {
  description = "CloudWatch log group holding the created VPC's flow logs (null when none)."
  value       = local.flow_log ? aws_cloudwatch_log_group.flow_log[0].name : null
}
