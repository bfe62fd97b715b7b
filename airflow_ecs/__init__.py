"""airflow-ecs: every Airflow 3 task as its own ECS or Fargate task.

The data flow: terraform outputs (``deploy.terraform_outputs``) -> ``deploy.generator`` -> the
``[ecs_fargate]`` section (``core.config``) and the run_task template (``core.run_task_request``) -> ``executor``
(launching through ``aws.launcher`` under ``aws.rate_limit``, tracking with ``core.tracking``) -> ECS
(``aws.ecs_api``) -> state back to Airflow. README's "How it fits together" lists each subpackage.
"""

__version__ = "0.1.0"
