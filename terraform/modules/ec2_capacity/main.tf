data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition

  # The public SSM parameters AWS keeps pointed at the latest ECS-optimized Amazon Linux 2023 AMIs.
  ami_variant   = var.gpu ? "gpu/" : (var.cpu_architecture == "ARM64" ? "arm64/" : "")
  ami_parameter = "/aws/service/ecs/optimized-ami/amazon-linux-2023/${local.ami_variant}recommended/image_id"

  # The agent joins this cluster and gives a stopped task's containers the same 120 s grace as Fargate's
  # maximum, so Airflow's task runner can report before SIGKILL; the GPU AMI offers its GPUs once enabled.
  ecs_config = concat(
    # ECS_AWSVPC_BLOCK_IMDS: awsvpc tasks cannot reach the instance metadata (and the instance role's credentials).
    ["ECS_CLUSTER=${var.cluster_name}", "ECS_ENABLE_TASK_IAM_ROLE=true", "ECS_CONTAINER_STOP_TIMEOUT=120s", "ECS_AWSVPC_BLOCK_IMDS=true"],
    var.gpu ? ["ECS_ENABLE_GPU_SUPPORT=true"] : [],
  )
  user_data = <<-EOT
    #!/bin/bash
    cat >> /etc/ecs/ecs.config <<'CONFIG'
    ${join("\n", local.ecs_config)}
    CONFIG
  EOT
}

data "aws_ssm_parameter" "ami" {
  name = local.ami_parameter
}

################################################################################
# Instance role: what the ECS agent on the instance needs, through AWS's managed policy
################################################################################

# AWS documents no aws:SourceAccount/SourceArn for EC2 assuming an instance profile's role (unlike ECS tasks),
# so the trust names the service alone; who may pass the role (iam:PassRole) decides which instances get it.
data "aws_iam_policy_document" "ec2_assume" {
  statement {
    sid     = "Ec2InstancesWithThisProfile"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name_prefix        = "${substr(var.name, 0, 32)}-ec2-"
  description        = "EC2 container instances of the ${var.name} capacity provider"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ecs_agent" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  name_prefix = "${substr(var.name, 0, 32)}-ec2-"
  role        = aws_iam_role.instance.name
  tags        = var.tags
}

################################################################################
# Launch template and Auto Scaling group
################################################################################

resource "aws_launch_template" "this" {
  name_prefix            = "${var.name}-"
  description            = "ECS container instances of the ${var.name} capacity provider"
  image_id               = nonsensitive(data.aws_ssm_parameter.ami.value) # a public AMI ID
  instance_type          = var.instance_type
  vpc_security_group_ids = var.security_group_ids
  user_data              = base64encode(local.user_data)
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }

  # IMDSv2 only, one hop: the agent on the host reaches it, task containers (awsvpc) do not; tasks use the task role.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.root_volume_gib
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  # EC2 refuses a tag specification with no tags: only when there are some.
  dynamic "tag_specifications" {
    for_each = length(var.tags) > 0 ? ["volume"] : []

    content {
      resource_type = tag_specifications.value
      tags          = var.tags
    }
  }

  tags = var.tags
}

resource "aws_autoscaling_group" "this" {
  name_prefix           = "${var.name}-"
  min_size              = var.min_size
  max_size              = var.max_size
  desired_capacity      = var.desired_size
  vpc_zone_identifier   = var.subnet_ids
  health_check_type     = "EC2"
  protect_from_scale_in = var.managed_termination_protection

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # ECS managed scaling looks for this tag, and sets the desired capacity from then on.
  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }

  dynamic "tag" {
    for_each = var.tags

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

################################################################################
# Capacity provider
################################################################################

resource "aws_ecs_capacity_provider" "this" {
  name = var.name

  auto_scaling_group_provider {
    auto_scaling_group_arn         = aws_autoscaling_group.this.arn
    managed_termination_protection = var.managed_termination_protection ? "ENABLED" : "DISABLED"

    managed_scaling {
      status                    = "ENABLED"
      target_capacity           = var.target_capacity
      minimum_scaling_step_size = 1
      maximum_scaling_step_size = max(1, min(var.max_size, 10))
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.min_size <= var.desired_size && var.desired_size <= var.max_size
      error_message = "Need min_size <= desired_size <= max_size; got ${var.min_size}, ${var.desired_size}, ${var.max_size}."
    }
    precondition {
      condition     = !(var.gpu && var.cpu_architecture == "ARM64")
      error_message = "The ECS-optimized GPU AMI is X86_64 only; use cpu_architecture = X86_64 with gpu = true."
    }
  }
}
