# Fargate's task sizes, in a file of their own (no resources) so tests evaluate them with the real Terraform core.
# The same table as airflow_ecs/fargate_sizes.py; tests/test_terraform_static.py compares the two.

locals {
  # CPU units -> the memory (MiB) Fargate allows with it.
  fargate_memory = {
    "256"   = [512, 1024, 2048]
    "512"   = range(1024, 4097, 1024)
    "1024"  = range(2048, 8193, 1024)
    "2048"  = range(4096, 16385, 1024)
    "4096"  = range(8192, 30721, 1024)
    "8192"  = range(16384, 61441, 4096)
    "16384" = range(32768, 122881, 8192)
  }

  task_memory_choices = try(local.fargate_memory[tostring(var.task_cpu)], [])
  task_size_valid     = contains(local.task_memory_choices, var.task_memory)
}

locals {
  # Each Fargate profile's size against the same table; EC2 profiles size against their instances instead.
  profile_memory_choices = { for name, profile in var.profiles : name => try(local.fargate_memory[tostring(profile.cpu)], []) }
  profile_size_errors = {
    for name, profile in var.profiles : name => (
      length(local.profile_memory_choices[name]) == 0
      ? "profile ${name}: cpu ${profile.cpu} is not a Fargate size; use one of ${join(", ", formatlist("%d", sort(formatlist("%05d", keys(local.fargate_memory)))))}, or give the profile an ec2 block."
      : "profile ${name}: memory ${profile.memory} is not a Fargate size for cpu ${profile.cpu}; allowed: ${join(", ", [for m in local.profile_memory_choices[name] : tostring(m)])}."
    ) if !profile.ec2 && !contains(local.profile_memory_choices[name], profile.memory)
  }
}
