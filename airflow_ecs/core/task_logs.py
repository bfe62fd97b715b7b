"""Where a task's output is in CloudWatch Logs, read from what ECS says ran, never guessed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def task_id(task_arn: str) -> str:
    """The id at the end of ``arn:...:task/<cluster>/<id>`` (or the old ``task/<id>`` form)."""
    return task_arn.rsplit("/", 1)[-1]


def container_definition(task_definition: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    """The container definition called ``name`` in a DescribeTaskDefinition answer, or None."""
    for container in (task_definition or {}).get("containerDefinitions") or []:
        if container.get("name") == name:
            return container
    return None


def awslogs_stream(task_definition: Mapping[str, Any], container_name: str, task_arn: str) -> tuple[str, str] | None:
    """(log group, stream) of the container under the awslogs driver, or None if it logs elsewhere.

    The awslogs driver names streams ``<awslogs-stream-prefix>/<container name>/<task id>``.
    """
    container = container_definition(task_definition, container_name)
    log_config = (container or {}).get("logConfiguration") or {}
    options = log_config.get("options") or {}
    if log_config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
        return None
    prefix = options.get("awslogs-stream-prefix")
    stream = f"{prefix}/{container_name}/{task_id(task_arn)}" if prefix else task_id(task_arn)
    return options["awslogs-group"], stream


def container_name_of(task: Mapping[str, Any], default: str) -> str:
    """The Airflow container's name as the request named it (its override), else the configured one."""
    overrides = (task.get("overrides") or {}).get("containerOverrides") or []
    for override in overrides:
        if override.get("command"):
            return str(override["name"])
    return default
