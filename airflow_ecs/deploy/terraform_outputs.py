"""The contract between terraform/ and the generator: which outputs, of which type.

``terraform output -json`` gives ``{"name": {"value": ..., "type": ..., "sensitive": ...}}``; the local ECS
writes the same shape. A missing or mistyped output is one error naming it and what was expected.

terraform/ applied as the root module gives the contract's outputs at the top level. A configuration that
calls it as a module (the examples, most real deployments) re-exports them all with one output,
``output "airflow_ecs" { value = module.airflow_ecs }``: Terraform cannot re-export a module's outputs one
by one without repeating each, and a module's value is the object of its outputs.
"""

from __future__ import annotations

import re
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
    "profiles": (dict, False),
    "teams": (dict, False),
}


# The outputs that are lists of ids, with an example of each.
ID_LISTS = {"subnet_ids": '["subnet-0a1b2c3d"]', "security_group_ids": '["sg-0123456789abcdef0"]'}


@dataclass(frozen=True)
class ProfileOutputs:
    """One queue profile as Terraform built it; None means the profile inherits the section's value."""

    name: str
    queues: tuple[str, ...]
    task_definition: str | None = None
    container_name: str | None = None
    launch_type: str | None = None
    capacity_provider_strategy: tuple[tuple[str, int, int], ...] = ()
    cpu: int | None = None
    memory: int | None = None
    gpu: int | None = None


@dataclass(frozen=True)
class TeamOutputs:
    """One Airflow team's own resources on the deployment's cluster (``teams`` output); the rest is shared."""

    name: str
    task_definition_family: str
    task_definition_arn: str
    container_name: str
    log_group_name: str
    log_stream_prefix: str
    execution_role_arn: str
    task_role_arn: str
    scheduler_policy_arn: str
    events_queue_url: str | None = None
    events_queue_arn: str | None = None


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
    profiles: tuple[ProfileOutputs, ...] = ()
    teams: tuple[TeamOutputs, ...] = ()


def _whole_number(value: Any) -> bool:
    # Terraform numbers arrive as JSON numbers: 4096 or 4096.0 are whole, True is not a number.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _strategy(items: Any, where: str) -> tuple[tuple[str, int, int], ...]:
    if not isinstance(items, list):
        raise OutputsError(f"terraform outputs: {where} is {type(items).__name__} {items!r}; expected a list of "
                           "{capacity_provider = string, weight = number, base = number}")
    strategy = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("capacity_provider"), str):
            raise OutputsError(f"terraform outputs: {where} item {item!r}; expected "
                               "{capacity_provider = string, weight = number, base = number}")
        weight, base = item.get("weight", 1), item.get("base", 0)
        if not (_whole_number(weight) and _whole_number(base)):
            raise OutputsError(f"terraform outputs: {where} item {item!r}; weight and base must be whole numbers")
        strategy.append((item["capacity_provider"], int(weight), int(base)))
    return tuple(strategy)


def _profile(name: str, value: Any) -> ProfileOutputs:
    where = f"profiles[{name!r}]"
    if not isinstance(value, Mapping):
        raise OutputsError(f"terraform outputs: {where} is {type(value).__name__} {value!r}; expected an object "
                           "{queues, task_definition, container_name, launch_type, capacity_provider_strategy, cpu, "
                           "memory, gpu}")
    queues = value.get("queues")
    if not isinstance(queues, list) or not queues or not all(isinstance(q, str) and q for q in queues):
        raise OutputsError(f"terraform outputs: {where}.queues is {queues!r}; expected a non-empty list of queue "
                           "names")
    fields: dict[str, Any] = {"name": name, "queues": tuple(queues)}
    for field in ("task_definition", "container_name", "launch_type"):
        text = value.get(field)
        if text is not None and not (isinstance(text, str) and text):
            raise OutputsError(f"terraform outputs: {where}.{field} is {type(text).__name__} {text!r}; expected a "
                               "non-empty string or null")
        fields[field] = text
    for field in ("cpu", "memory", "gpu"):
        number = value.get(field)
        if number is not None and not (_whole_number(number) and number >= 0):
            raise OutputsError(f"terraform outputs: {where}.{field} is {type(number).__name__} {number!r}; expected "
                               "a whole number or null")
        fields[field] = None if number is None else int(number)
    strategy = value.get("capacity_provider_strategy")
    fields["capacity_provider_strategy"] = () if strategy is None else _strategy(
        strategy, f"{where}.capacity_provider_strategy")
    return ProfileOutputs(**fields)


def parse_profiles(value: Mapping[str, Any]) -> tuple[ProfileOutputs, ...]:
    """The ``profiles`` output, by name; each mistyped field is named with its profile."""
    return tuple(_profile(name, value[name]) for name in sorted(value))


# An Airflow team name as render can write it: Airflow takes [a-zA-Z0-9_-]{3,50}, but the team's variables are
# AIRFLOW__<TEAM>___ECS_FARGATE__*, and no shell sets a name with a hyphen.
TEAM_NAME = re.compile(r"^[A-Za-z0-9_]{3,50}$")
TEAM_FIELDS = ("task_definition_family", "task_definition_arn", "container_name", "log_group_name",
               "log_stream_prefix", "execution_role_arn", "task_role_arn", "scheduler_policy_arn")


def _team(name: str, value: Any) -> TeamOutputs:
    where = f"teams[{name!r}]"
    if not TEAM_NAME.match(name):
        raise OutputsError(f"terraform outputs: {where}: a team name must be 3 to 50 letters, digits or underscores "
                           f"(its settings are AIRFLOW__{name.upper()}___ECS_FARGATE__*, which a hyphen makes "
                           "unsettable); rename the team")
    if not isinstance(value, Mapping):
        raise OutputsError(f"terraform outputs: {where} is {type(value).__name__} {value!r}; expected an object "
                           f"{{{', '.join(TEAM_FIELDS)}, events_queue_url, events_queue_arn}}")
    fields: dict[str, Any] = {"name": name}
    for field in (*TEAM_FIELDS, "events_queue_url", "events_queue_arn"):
        text = value.get(field)
        optional = field.startswith("events_queue")
        if not (isinstance(text, str) and text) and not (optional and text is None):
            raise OutputsError(f"terraform outputs: {where}.{field} is {type(text).__name__} {text!r}; expected a "
                               f"non-empty string{' or null' if optional else ''}")
        fields[field] = text
    return TeamOutputs(**fields)


def parse_teams(value: Mapping[str, Any]) -> tuple[TeamOutputs, ...]:
    """The ``teams`` output, by name; each mistyped field is named with its team."""
    return tuple(_team(name, value[name]) for name in sorted(value))


# The output a calling configuration re-exports the whole module with.
MODULE_OUTPUT = "airflow_ecs"


def contract_entries(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The outputs to read the contract from: the top level, or the fields of the ``airflow_ecs`` module output."""
    entry = data.get(MODULE_OUTPUT)
    if entry is None:
        return data
    module = entry.get("value") if isinstance(entry, Mapping) else None
    if not isinstance(module, Mapping):
        raise OutputsError(f"terraform outputs: {MODULE_OUTPUT!r} is {type(module).__name__} {module!r}; expected "
                           f"the whole module, as in output \"{MODULE_OUTPUT}\" {{ value = module.airflow_ecs }}")
    return {name: {"value": value} for name, value in module.items()}


def parse_outputs(data: Mapping[str, Any]) -> DeploymentOutputs:
    if not isinstance(data, Mapping):
        raise OutputsError("terraform outputs: expected the JSON object `terraform output -json` prints")
    data = contract_entries(data)
    values: dict[str, Any] = {}
    for name, (kind, required) in CONTRACT.items():
        entry = data.get(name)
        value = entry.get("value") if isinstance(entry, Mapping) else None
        if value is None:
            if required:
                raise OutputsError(f"terraform outputs: {name!r} is missing; expected a {kind.__name__} (is the root "
                                   "module in terraform/ applied, or, calling it as a module, is it re-exported as "
                                   f"output {MODULE_OUTPUT!r}?)")
            values[name] = None
            continue
        if name in ID_LISTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            # [1, 2] is a list too: name what is wrong in it, not only the container.
            wrong = value if not isinstance(value, list) else next(v for v in value if not isinstance(v, str))
            raise OutputsError(f"terraform outputs: {name!r} is {type(value).__name__} {value!r}; expected a list of "
                               f"id strings, e.g. {ID_LISTS[name]} (not {type(wrong).__name__} {wrong!r})")
        if not isinstance(value, kind):
            raise OutputsError(f"terraform outputs: {name!r} is {type(value).__name__} {value!r}; expected a "
                               f"{kind.__name__}")
        values[name] = value
    values["subnet_ids"] = tuple(values["subnet_ids"])
    values["security_group_ids"] = tuple(values["security_group_ids"])
    values["capacity_provider_strategy"] = _strategy(values["capacity_provider_strategy"],
                                                     "capacity_provider_strategy")
    values["profiles"] = parse_profiles(values["profiles"] or {})
    values["teams"] = parse_teams(values["teams"] or {})
    return DeploymentOutputs(**values)
