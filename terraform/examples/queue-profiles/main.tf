# Three kinds of work in one deployment, picked by each task's Airflow queue:
#   default, spot -> small tasks on Fargate Spot
#   heavy         -> large on-demand Fargate tasks
#   gpu           -> one NVIDIA GPU per task on g5.xlarge instances (an EC2 capacity provider that scales from 0)
# Tasks on any other queue run as the default worker (on-demand Fargate, 1 vCPU / 2 GiB).

module "airflow_ecs" {
  source = "../.."

  region                   = var.region
  name                     = "airflow-queues"
  execution_api_server_url = var.execution_api_server_url

  profiles = {
    spot = {
      queues                     = ["default", "spot"]
      cpu                        = 512
      memory                     = 1024
      capacity_provider_strategy = [{ capacity_provider = "FARGATE_SPOT", weight = 1, base = 0 }]
    }
    heavy = {
      queues      = ["heavy"]
      cpu         = 4096
      memory      = 16384
      launch_type = "FARGATE"
    }
    gpu = {
      queues = ["gpu"]
      cpu    = 4096
      # A g5.xlarge has 16 GiB; the ECS agent and the OS keep some of it.
      memory = 15000
      gpu    = 1
      ec2 = {
        instance_type = "g5.xlarge"
        min_size      = 0
        max_size      = 4
      }
    }
  }

  tags = { project = "airflow-ecs", example = "queue-profiles" }
}
