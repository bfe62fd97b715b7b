"""The Airflow glue beside ``airflow_ecs.executor``: version compatibility, start-up, metrics, CLI hooks."""
