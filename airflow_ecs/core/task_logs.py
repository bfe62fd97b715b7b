"""Where a task's output is in CloudWatch Logs, read from what ECS says ran, never guessed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_ecs.core.containers import container_named


def task_id(task_arn: str) -> str:
    """The id at the end of ``arn:...:task/<cluster>/<id>`` (or the old ``task/<id>`` form)."""
    return task_arn.rsplit("/", 1)[-1]


def stream_name(prefix: str | None, container_name: str, task_arn: str) -> str:
    """The awslogs driver names streams ``<awslogs-stream-prefix>/<container name>/<task id>``."""
    return f"{prefix}/{container_name}/{task_id(task_arn)}" if prefix else task_id(task_arn)


def awslogs_stream(task_definition: Mapping[str, Any], container_name: str, task_arn: str) -> tuple[str, str] | None:
    """(log group, stream) of the container under the awslogs driver, or None if it logs elsewhere."""
    container = container_named(task_definition.get("containerDefinitions"), container_name)
    log_config = (container or {}).get("logConfiguration") or {}
    options = log_config.get("options") or {}
    if log_config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
        return None
    return options["awslogs-group"], stream_name(options.get("awslogs-stream-prefix"), container_name, task_arn)


def container_name_of(task: Mapping[str, Any], default: str) -> str:
    """The Airflow container's name as the request named it (its override), else the configured one."""
    overrides = (task.get("overrides") or {}).get("containerOverrides") or []
    for override in overrides:
        if override.get("command"):
            return str(override["name"])
    return default
