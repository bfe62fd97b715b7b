# ECS creates AWSServiceRoleForECS by itself on first use, but not always before an Auto Scaling group
# capacity provider needs it on a fresh account: create it first when asked.
resource "aws_iam_service_linked_role" "ecs" {
  count = var.create_service_linked_role ? 1 : 0

  aws_service_name = "ecs.amazonaws.com"
  description      = "ECS service-linked role, created by ${var.name}"

  tags = var.tags
}

# What identifies each extra capacity provider's backing: when one is replaced (same name, new Auto Scaling
# group), the cluster's association must be replaced with it, or the old provider cannot be deleted.
resource "terraform_data" "capacity_provider_replacement" {
  input = var.extra_capacity_provider_replacement_keys
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  # Per-task CPU, memory and network metrics in CloudWatch: what sizing executor_config needs.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name = aws_ecs_cluster.this.name
  # Fargate's two, plus the EC2 capacity providers of queue profiles (profiles name them in their strategy).
  capacity_providers = concat(["FARGATE", "FARGATE_SPOT"], var.extra_capacity_providers)

  dynamic "default_capacity_provider_strategy" {
    for_each = var.default_capacity_provider_strategy

    content {
      capacity_provider = default_capacity_provider_strategy.value.capacity_provider
      weight            = default_capacity_provider_strategy.value.weight
      base              = default_capacity_provider_strategy.value.base
    }
  }

  depends_on = [aws_iam_service_linked_role.ecs]

  lifecycle {
    replace_triggered_by = [terraform_data.capacity_provider_replacement]
  }
}
