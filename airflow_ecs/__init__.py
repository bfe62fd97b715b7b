"""airflow-ecs: every Airflow 3 task as its own ECS or Fargate task.

The data flow, one module each: terraform outputs (``terraform_outputs``) -> ``generator`` -> the
``[ecs_fargate]`` section (``config``) and the run_task template (``run_task_request``) -> ``executor``
(launching through ``launcher`` under ``rate_limit``, tracking with ``task_state``/``diagnosis``) -> ECS
(``ecs_api``) -> state back to Airflow.
"""

__version__ = "0.1.0"
