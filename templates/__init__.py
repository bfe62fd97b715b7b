"""Jinja templates shipped with airflow-ecs (installed as airflow_ecs.templates)."""
