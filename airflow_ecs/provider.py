"""Provider metadata, so Airflow lists the ``[ecs_fargate]`` section with its defaults.

Airflow discovers it through the ``apache_airflow_provider`` entry point in pyproject.toml; the options
come from the one declaration in ``config.OPTIONS``.
"""

from __future__ import annotations

from typing import Any

from airflow_ecs import __version__
from airflow_ecs.core.config import OPTIONS, SECTION


def get_provider_info() -> dict[str, Any]:
    options: dict[str, dict[str, Any]] = {}
    for option in OPTIONS:
        options[option.name] = {
            "description": option.description,
            "version_added": option.version_added,
            "type": option.type,
            "example": option.example,
            "default": option.default,
        }
    return {
        "package-name": "airflow-ecs",
        "name": "airflow-ecs",
        "description": "Runs every Airflow task as its own ECS or Fargate task.",
        "versions": [__version__],
        "executors": ["airflow_ecs.executor.EcsFargateExecutor"],
        "cli": ["airflow_ecs.glue.airflow_cli.get_cli_commands"],
        "config": {
            SECTION: {
                "description": "The ECS/Fargate executor (airflow_ecs.executor.EcsFargateExecutor).",
                "options": options,
            }
        },
    }
