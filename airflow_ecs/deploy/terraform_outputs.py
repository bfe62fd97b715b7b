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
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from airflow_ecs.core.errors import UserError


class OutputsError(ValueError, UserError):
    """Terraform outputs that break the contract: one line naming the output and what was expected."""


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


PROFILE_OUTPUT_FIELDS = tuple(item.name for item in fields(ProfileOutputs) if item.name != "name")


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
    # One per scheduler; empty from a Terraform older than one queue per scheduler (one queue, maybe shared).
    events_queue_urls: tuple[str, ...] = ()


# A team's fields: those without a default are required strings, those with one may be null (the queue list
# is read on its own).
TEAM_FIELDS = tuple(item.name for item in fields(TeamOutputs) if item.name != "name" and item.default is MISSING)
TEAM_OPTIONAL_FIELDS = tuple(
    item.name for item in fields(TeamOutputs) if item.default is not MISSING and item.name != "events_queue_urls"
)


def queue_urls(value: Any, where: str, first: str | None) -> tuple[str, ...]:
    """``events_queue_urls``: one URL per scheduler, the first being ``events_queue_url`` (which render writes
    into airflow.cfg), each once (a queue read by two schedulers is not theirs alone)."""
    if not isinstance(value, list) or not all(isinstance(url, str) and url for url in value):
        raise OutputsError(
            f"terraform outputs: {where} is {type(value).__name__} {value!r}; expected a list of queue URLs, "
            "one per scheduler"
        )
    if len(set(value)) != len(value):
        raise OutputsError(f"terraform outputs: {where} lists a queue twice: {value!r}; each scheduler needs its own")
    if (value[0] if value else None) != first:
        raise OutputsError(
            f"terraform outputs: {where} starts with {value[0] if value else None!r} but events_queue_url is "
            f"{repr(first) if first else 'missing'}; the first queue must be events_queue_url"
        )
    return tuple(value)


def _whole_number(value: Any) -> bool:
    # Terraform numbers arrive as JSON numbers: 4096 or 4096.0 are whole, True is not a number.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _strategy(items: Any, where: str) -> tuple[tuple[str, int, int], ...]:
    if not isinstance(items, list):
        raise OutputsError(
            f"terraform outputs: {where} is {type(items).__name__} {items!r}; expected a list of "
            "{capacity_provider = string, weight = number, base = number}"
        )
    strategy = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("capacity_provider"), str):
            raise OutputsError(
                f"terraform outputs: {where} item {item!r}; expected "
                "{capacity_provider = string, weight = number, base = number}"
            )
        weight, base = item.get("weight", 1), item.get("base", 0)
        if not (_whole_number(weight) and _whole_number(base)):
            raise OutputsError(f"terraform outputs: {where} item {item!r}; weight and base must be whole numbers")
        strategy.append((item["capacity_provider"], int(weight), int(base)))
    return tuple(strategy)


def _profile(name: str, value: Any) -> ProfileOutputs:
    where = f"profiles[{name!r}]"
    if not isinstance(value, Mapping):
        raise OutputsError(
            f"terraform outputs: {where} is {type(value).__name__} {value!r}; expected an object "
            f"{{{', '.join(PROFILE_OUTPUT_FIELDS)}}}"
        )
    queues = value.get("queues")
    if not isinstance(queues, list) or not queues or not all(isinstance(q, str) and q for q in queues):
        raise OutputsError(f"terraform outputs: {where}.queues is {queues!r}; expected a non-empty list of queue names")
    fields: dict[str, Any] = {"name": name, "queues": tuple(queues)}
    for key in ("task_definition", "container_name", "launch_type"):
        text = value.get(key)
        if text is not None and not (isinstance(text, str) and text):
            raise OutputsError(
                f"terraform outputs: {where}.{key} is {type(text).__name__} {text!r}; expected a "
                "non-empty string or null"
            )
        fields[key] = text
    for key in ("cpu", "memory", "gpu"):
        number = value.get(key)
        if number is not None and not (_whole_number(number) and number >= 0):
            raise OutputsError(
                f"terraform outputs: {where}.{key} is {type(number).__name__} {number!r}; expected "
                "a whole number or null"
            )
        fields[key] = None if number is None else int(number)
    strategy = value.get("capacity_provider_strategy")
    fields["capacity_provider_strategy"] = (
        () if strategy is None else _strategy(strategy, f"{where}.capacity_provider_strategy")
    )
    return ProfileOutputs(**fields)


def parse_profiles(value: Mapping[str, Any]) -> tuple[ProfileOutputs, ...]:
    """The ``profiles`` output, by name; each mistyped field is named with its profile."""
    return tuple(_profile(name, value[name]) for name in sorted(value))


@dataclass(frozen=True)
class Output:
    """How one output of terraform/ is read: its JSON type, whether it must be there, the example of an id list,
    and the function that turns its value into the ``DeploymentOutputs`` field (named for its errors)."""

    kind: type
    required: bool = True
    ids_example: str | None = None
    convert: Callable[[Any, str], Any] | None = None


def _output(
    kind: type,
    *,
    required: bool = True,
    default: Any = None,
    ids_example: str | None = None,
    convert: Callable[[Any, str], Any] | None = None,
) -> Any:
    """A ``DeploymentOutputs`` field declaring its output; an optional one absent is ``default``."""
    metadata = {"output": Output(kind, required, ids_example, convert)}
    return field(metadata=metadata) if required else field(default=default, metadata=metadata)


# An Airflow team name as render can write it: Airflow takes [a-zA-Z0-9_-]{3,50}, but the team's variables are
# AIRFLOW__<TEAM>___ECS_FARGATE__*, and no shell sets a name with a hyphen.
TEAM_NAME = re.compile(r"^[A-Za-z0-9_]{3,50}$")


def _team(name: str, value: Any) -> TeamOutputs:
    where = f"teams[{name!r}]"
    if not TEAM_NAME.match(name):
        raise OutputsError(
            f"terraform outputs: {where}: a team name must be 3 to 50 letters, digits or underscores "
            f"(its settings are AIRFLOW__{name.upper()}___ECS_FARGATE__*, which a hyphen makes "
            "unsettable); rename the team"
        )
    if not isinstance(value, Mapping):
        raise OutputsError(
            f"terraform outputs: {where} is {type(value).__name__} {value!r}; expected an object "
            f"{{{', '.join((*TEAM_FIELDS, *TEAM_OPTIONAL_FIELDS))}}}"
        )
    values: dict[str, Any] = {"name": name}
    for field_name in (*TEAM_FIELDS, *TEAM_OPTIONAL_FIELDS):
        text = value.get(field_name)
        optional = field_name in TEAM_OPTIONAL_FIELDS
        if not (isinstance(text, str) and text) and not (optional and text is None):
            raise OutputsError(
                f"terraform outputs: {where}.{field_name} is {type(text).__name__} {text!r}; expected "
                f"a non-empty string{' or null' if optional else ''}"
            )
        values[field_name] = text
    if value.get("events_queue_urls") is not None:
        values["events_queue_urls"] = queue_urls(
            value["events_queue_urls"], f"{where}.events_queue_urls", values["events_queue_url"]
        )
    return TeamOutputs(**values)


def parse_teams(value: Mapping[str, Any]) -> tuple[TeamOutputs, ...]:
    """The ``teams`` output, by name; each mistyped field is named with its team."""
    return tuple(_team(name, value[name]) for name in sorted(value))


def _id_list(value: Any, name: str) -> tuple[str, ...]:
    return tuple(value)


def _profiles(value: Any, name: str) -> tuple[ProfileOutputs, ...]:
    return parse_profiles(value)


def _teams(value: Any, name: str) -> tuple[TeamOutputs, ...]:
    return parse_teams(value)


@dataclass(frozen=True)
class DeploymentOutputs:
    """The contract between terraform/ and the generator: one field per output, declared with how it is read."""

    region: str = _output(str)
    cluster_name: str = _output(str)
    cluster_arn: str = _output(str)
    task_definition_family: str = _output(str)
    task_definition_arn: str = _output(str)
    container_name: str = _output(str)
    subnet_ids: tuple[str, ...] = _output(list, ids_example='["subnet-0a1b2c3d"]', convert=_id_list)
    security_group_ids: tuple[str, ...] = _output(list, ids_example='["sg-0123456789abcdef0"]', convert=_id_list)
    assign_public_ip: bool = _output(bool)
    capacity_provider_strategy: tuple[tuple[str, int, int], ...] = _output(list, convert=_strategy)
    log_group_name: str = _output(str)
    log_stream_prefix: str = _output(str)
    execution_role_arn: str = _output(str)
    task_role_arn: str = _output(str)
    scheduler_policy_arn: str = _output(str)
    ecr_repository_url: str | None = _output(str, required=False)
    events_queue_url: str | None = _output(str, required=False)
    events_queue_arn: str | None = _output(str, required=False)
    # Empty from a Terraform older than one queue per scheduler: its one queue may be shared.
    events_queue_urls: tuple[str, ...] = _output(list, required=False, default=(), convert=_id_list)
    profiles: tuple[ProfileOutputs, ...] = _output(dict, required=False, default=(), convert=_profiles)
    teams: tuple[TeamOutputs, ...] = _output(dict, required=False, default=(), convert=_teams)


OUTPUTS: dict[str, Output] = {item.name: item.metadata["output"] for item in fields(DeploymentOutputs)}
# name -> (JSON type, required), as the tests and the Terraform checks read the contract.
CONTRACT: dict[str, tuple[type, bool]] = {name: (output.kind, output.required) for name, output in OUTPUTS.items()}


# The output a calling configuration re-exports the whole module with.
MODULE_OUTPUT = "airflow_ecs"


def contract_entries(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The outputs to read the contract from: the top level, or the fields of the ``airflow_ecs`` module output."""
    entry = data.get(MODULE_OUTPUT)
    if entry is None:
        return data
    module = entry.get("value") if isinstance(entry, Mapping) else None
    if not isinstance(module, Mapping):
        raise OutputsError(
            f"terraform outputs: {MODULE_OUTPUT!r} is {type(module).__name__} {module!r}; expected "
            f'the whole module, as in output "{MODULE_OUTPUT}" {{ value = module.airflow_ecs }}'
        )
    return {name: {"value": value} for name, value in module.items()}


def parse_outputs(data: Mapping[str, Any]) -> DeploymentOutputs:
    if not isinstance(data, Mapping):
        raise OutputsError("terraform outputs: expected the JSON object `terraform output -json` prints")
    data = contract_entries(data)
    values: dict[str, Any] = {}
    for name, output in OUTPUTS.items():
        entry = data.get(name)
        value = entry.get("value") if isinstance(entry, Mapping) else None
        kind = output.kind
        if value is None:
            if output.required:
                raise OutputsError(
                    f"terraform outputs: {name!r} is missing; expected a {kind.__name__} (is the root "
                    "module in terraform/ applied, or, calling it as a module, is it re-exported as "
                    f"output {MODULE_OUTPUT!r}?)"
                )
            continue  # the field's default
        if output.ids_example and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            # [1, 2] is a list too: name what is wrong in it, not only the container.
            wrong = value if not isinstance(value, list) else next(v for v in value if not isinstance(v, str))
            raise OutputsError(
                f"terraform outputs: {name!r} is {type(value).__name__} {value!r}; expected a list of "
                f"id strings, e.g. {output.ids_example} (not {type(wrong).__name__} {wrong!r})"
            )
        if not isinstance(value, kind):
            raise OutputsError(
                f"terraform outputs: {name!r} is {type(value).__name__} {value!r}; expected a {kind.__name__}"
            )
        values[name] = output.convert(value, name) if output.convert else value
    if "events_queue_urls" in values:
        values["events_queue_urls"] = queue_urls(
            list(values["events_queue_urls"]), "'events_queue_urls'", values.get("events_queue_url")
        )
    return DeploymentOutputs(**values)
