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
}
