"""The contract between terraform/ and the generator: which outputs, of which type.

``terraform output -json`` gives ``{"name": {"value": ..., "type": ..., "sensitive": ...}}``; the local ECS
writes the same shape. A missing or mistyped output is one error naming it and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class OutputsError(ValueError):
    pass


# name -> (python type, required)
CONTRACT: dict[str, tuple[type, bool]] = {
    "region": (str, True),
    "cluster_name": (str, True),
    "cluster_arn": (str, True),
    "task_definition_family": (str, True),
    "task_definition_arn": (str, True),
    "container_name": (str, True),
    "subnet_ids": (list, True),
    "security_group_ids": (list, True),
    "assign_public_ip": (bool, True),
    "capacity_provider_strategy": (list, True),
    "log_group_name": (str, True),
    "log_stream_prefix": (str, True),
    "execution_role_arn": (str, True),
    "task_role_arn": (str, True),
    "scheduler_policy_arn": (str, True),
    "ecr_repository_url": (str, False),
    "events_queue_url": (str, False),
    "events_queue_arn": (str, False),
}


@dataclass(frozen=True)
class DeploymentOutputs:
    region: str
    cluster_name: str
    cluster_arn: str
    task_definition_family: str
    task_definition_arn: str
    container_name: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    assign_public_ip: bool
    capacity_provider_strategy: tuple[tuple[str, int, int], ...]
    log_group_name: str
    log_stream_prefix: str
    execution_role_arn: str
    task_role_arn: str
    scheduler_policy_arn: str
    ecr_repository_url: str | None = None
    events_queue_url: str | None = None
    events_queue_arn: str | None = None


def parse_outputs(data: Mapping[str, Any]) -> DeploymentOutputs:
    if not isinstance(data, Mapping):
        raise OutputsError("terraform outputs: expected the JSON object `terraform output -json` prints")
    values: dict[str, Any] = {}
    for name, (kind, required) in CONTRACT.items():
        entry = data.get(name)
        value = entry.get("value") if isinstance(entry, Mapping) else None
        if value is None:
            if required:
                raise OutputsError(f"terraform outputs: {name!r} is missing; expected a {kind.__name__} "
                                   "(is the root module in terraform/ applied?)")
            values[name] = None
            continue
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, (str, dict)) for v in value)):
            raise OutputsError(f"terraform outputs: {name!r} is {type(value).__name__} {value!r}; expected a "
                               f"{kind.__name__}")
        values[name] = value
    values["subnet_ids"] = tuple(values["subnet_ids"])
    values["security_group_ids"] = tuple(values["security_group_ids"])
    strategy = []
    for item in values["capacity_provider_strategy"]:
        if not isinstance(item, Mapping) or not isinstance(item.get("capacity_provider"), str):
            raise OutputsError(f"terraform outputs: capacity_provider_strategy item {item!r}; expected "
                               "{capacity_provider = string, weight = number, base = number}")
        strategy.append((item["capacity_provider"], int(item.get("weight", 1)), int(item.get("base", 0))))
    values["capacity_provider_strategy"] = tuple(strategy)
    return DeploymentOutputs(**values)
