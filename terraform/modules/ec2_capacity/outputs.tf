output "capacity_provider_name" {
  description = "Name of the ECS capacity provider; add it to the cluster and name it in a capacity provider strategy."
  value       = aws_ecs_capacity_provider.this.name
}

output "autoscaling_group_arn" {
  description = "ARN of the Auto Scaling group behind the capacity provider."
  value       = aws_autoscaling_group.this.arn
}

output "launch_template_id" {
  description = "ID of the instances' launch template."
  value       = aws_launch_template.this.id
}

output "instance_role_arn" {
  description = "ARN of the instances' IAM role (AmazonEC2ContainerServiceforEC2Role)."
  value       = aws_iam_role.instance.arn
}

output "ami_parameter_name" {
  description = "Public SSM parameter the AMI is read from at apply time."
  value       = local.ami_parameter
}
