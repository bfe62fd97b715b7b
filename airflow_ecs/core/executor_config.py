"""A task's ``executor_config``: validated into ``TaskSettings`` and applied to its RunTask request.

The seed's promise is ``executor_config=dict(cpu=256, memory=512)``. Everything here is checked before any
AWS call, so a bad value fails that one task with a message naming the key and what would be right.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_ecs.core.config import (
    RESERVED_TAG_PREFIXES,
    ConfigError,
    Profile,
    parse_capacity_provider_strategy,
    uses_fargate,
)
from airflow_ecs.core.containers import container_named
from airflow_ecs.core.fargate_sizes import describe_invalid, is_valid

KNOWN_KEYS = (
    "cpu",
    "memory",
    "ephemeral_storage",
    "gpu",
    "environment",
    "capacity_provider_strategy",
    "tags",
    "overrides",
    "run_task_kwargs",
)
# Set by the executor: startedBy and clientToken identify the try (tracking, idempotency), and one Airflow
# task is one ECS task.
RESERVED_RUN_TASK_KWARGS = ("startedBy", "clientToken", "count")


def run_task_arguments() -> frozenset[str]:
    """RunTask's own argument names (botocore's model): AwsEcsExecutor's executor_config puts them at the top
    level, and so may ours (they are merged as ``run_task_kwargs``)."""
    global _RUN_TASK_ARGUMENTS
    if _RUN_TASK_ARGUMENTS is None:
        import botocore.session

        shape = botocore.session.get_session().get_service_model("ecs").operation_model("RunTask").input_shape
        _RUN_TASK_ARGUMENTS = frozenset(shape.members)
    return _RUN_TASK_ARGUMENTS


_RUN_TASK_ARGUMENTS: frozenset[str] | None = None


def reserved_entry(kwargs: Mapping[str, Any]) -> str | None:
    """The first RunTask argument in ``kwargs`` that only the executor may set, or None."""
    reserved = sorted(set(kwargs) & set(RESERVED_RUN_TASK_KWARGS))
    return reserved[0] if reserved else None


class ExecutorConfigError(ValueError):
    def __init__(self, key: str, value: object, expected: str):
        self.key, self.value = key, value
        super().__init__(f"executor_config[{key!r}] = {value!r}: {expected}")


@dataclass(frozen=True)
class TaskSettings:
    cpu: int | None = None
    memory: int | None = None
    ephemeral_storage: int | None = None
    gpu: int | None = None
    environment: tuple[tuple[str, str], ...] = ()
    capacity_provider_strategy: tuple[dict[str, Any], ...] | None = None
    tags: tuple[tuple[str, str], ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    run_task_kwargs: Mapping[str, Any] = field(default_factory=dict)


_CPU_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*vcpu\s*$", re.IGNORECASE)
_MEMORY_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gb|gib|mb|mib)\s*$", re.IGNORECASE)


def parse_cpu(value: object) -> int:
    """CPU units from 1024, "1024" or "1 vCPU" (the forms ECS itself accepts)."""
    if isinstance(value, bool):
        raise ExecutorConfigError("cpu", value, "expected CPU units such as 256, 1024 or '1 vCPU'")
    if isinstance(value, int):
        units = value
    elif isinstance(value, str) and value.strip().isdigit():
        units = int(value)
    elif isinstance(value, str) and (match := _CPU_TEXT.match(value)):
        units = int(float(match.group(1)) * 1024)
    else:
        raise ExecutorConfigError("cpu", value, "expected CPU units such as 256, 1024 or '1 vCPU'")
    if units <= 0:
        raise ExecutorConfigError("cpu", value, "expected a positive number of CPU units, e.g. 256")
    return units


def parse_memory(value: object) -> int:
    """MiB from 2048, "2048" or "2 GB"."""
    if isinstance(value, bool):
        raise ExecutorConfigError("memory", value, "expected MiB such as 512, 2048 or '2 GB'")
    if isinstance(value, int):
        mib = value
    elif isinstance(value, str) and value.strip().isdigit():
        mib = int(value)
    elif isinstance(value, str) and (match := _MEMORY_TEXT.match(value)):
        amount, unit = float(match.group(1)), match.group(2).lower()
        mib = int(amount * 1024) if unit in ("gb", "gib") else int(amount)
    else:
        raise ExecutorConfigError("memory", value, "expected MiB such as 512, 2048 or '2 GB'")
    if mib <= 0:
        raise ExecutorConfigError("memory", value, "expected a positive size in MiB, e.g. 512")
    return mib


def _whole_number(key: str, value: object, low: int, high: int, unit: str) -> int:
    if isinstance(value, bool) or (not isinstance(value, int) and not (isinstance(value, str) and value.isdigit())):
        raise ExecutorConfigError(key, value, f"expected a whole number of {unit} from {low} to {high}")
    number = int(value)
    if not low <= number <= high:
        raise ExecutorConfigError(key, value, f"expected {low}-{high} {unit}")
    return number


def _tag_mapping(value: object) -> object:
    """RunTask's (and AwsEcsExecutor's) ``[{"key": k, "value": v}]`` as ``{k: v}``; anything else unchanged."""
    if isinstance(value, list) and all(isinstance(item, Mapping) and set(item) == {"key", "value"} for item in value):
        return {item["key"]: item["value"] for item in value}
    return value


def _string_pairs(key: str, value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ExecutorConfigError(key, value, "expected a dict of names to string values, e.g. {'STAGE': 'prod'}")
    pairs = []
    for name, item in value.items():
        if not isinstance(name, str) or not name:
            raise ExecutorConfigError(key, value, f"name {name!r} must be a non-empty string")
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise ExecutorConfigError(key, value, f"value of {name!r} must be a string or a number")
        pairs.append((name, str(item)))
    return tuple(pairs)


def parse_executor_config(raw: object) -> TaskSettings:
    """Validate the keys and types of one task's executor_config (the Fargate size check needs the request)."""
    if raw is None:
        return TaskSettings()
    if not isinstance(raw, Mapping):
        raise ExecutorConfigError("(whole)", raw, f"expected a dict with keys among {', '.join(KNOWN_KEYS)}")
    top_level = sorted(set(raw) - set(KNOWN_KEYS) & run_task_arguments())  # AwsEcsExecutor's form
    unknown = sorted(set(raw) - set(KNOWN_KEYS) - run_task_arguments())
    if unknown:
        raise ExecutorConfigError(
            unknown[0],
            raw[unknown[0]],
            f"unknown key; known keys: {', '.join(KNOWN_KEYS)} or a RunTask argument such as propagateTags",
        )
    if top_level:
        raw = {key: value for key, value in raw.items() if key not in top_level} | {
            "run_task_kwargs": deep_merge({key: raw[key] for key in top_level}, raw.get("run_task_kwargs") or {})
        }
    settings: dict[str, Any] = {}
    if raw.get("cpu") is not None:
        settings["cpu"] = parse_cpu(raw["cpu"])
    if raw.get("memory") is not None:
        settings["memory"] = parse_memory(raw["memory"])
    if raw.get("ephemeral_storage") is not None:
        settings["ephemeral_storage"] = _whole_number("ephemeral_storage", raw["ephemeral_storage"], 21, 200, "GiB")
    if raw.get("gpu") is not None:
        settings["gpu"] = _whole_number("gpu", raw["gpu"], 1, 16, "GPUs")
    if raw.get("environment") is not None:
        settings["environment"] = _string_pairs("environment", raw["environment"])
    if raw.get("capacity_provider_strategy") is not None:
        try:
            items = parse_capacity_provider_strategy("capacity_provider_strategy", raw["capacity_provider_strategy"])
        except ConfigError as err:
            raise ExecutorConfigError("capacity_provider_strategy", err.value, err.expected) from None
        if not items:
            raise ExecutorConfigError(
                "capacity_provider_strategy",
                raw["capacity_provider_strategy"],
                "expected at least one capacity provider, e.g. 'FARGATE_SPOT:1'",
            )
        settings["capacity_provider_strategy"] = tuple(item.to_boto() for item in items)
    if raw.get("tags") is not None:
        tags = _string_pairs("tags", _tag_mapping(raw["tags"]))
        for name, value in tags:
            if name.lower().startswith(RESERVED_TAG_PREFIXES) or len(name) > 128 or len(value) > 256:
                raise ExecutorConfigError(
                    "tags",
                    dict(tags),
                    f"tag {name!r}: keys are 1-128 characters not "
                    "starting with 'airflow:' or 'aws:', values at most 256",
                )
        settings["tags"] = tags
    for key in ("overrides", "run_task_kwargs"):
        if raw.get(key) is not None:
            if not isinstance(raw[key], Mapping):
                raise ExecutorConfigError(key, raw[key], "expected a dict in the shape of boto3's run_task arguments")
            settings[key] = copy.deepcopy(dict(raw[key]))
    reserved = reserved_entry(settings.get("run_task_kwargs", {}))
    if reserved:
        # Only the offending entry: the rest (overrides, environment values) may hold what must not be logged.
        raise ExecutorConfigError(
            "run_task_kwargs",
            {reserved: raw["run_task_kwargs"][reserved]},
            f"{reserved!r} is set by the executor (startedBy and clientToken identify the "
            "try; one Airflow task is one ECS task); remove it",
        )
    return TaskSettings(**settings)


def with_profile(settings: TaskSettings, profile: Profile | None) -> TaskSettings:
    """The task's settings over its profile's: executor_config refines the profile, key by key."""
    if profile is None:
        return settings
    tags = dict(profile.tags)
    tags.update(dict(settings.tags))
    return dataclasses.replace(
        settings,
        cpu=settings.cpu if settings.cpu is not None else profile.cpu,
        memory=settings.memory if settings.memory is not None else profile.memory,
        gpu=settings.gpu if settings.gpu is not None else profile.gpu,
        tags=tuple(tags.items()),
    )


def deep_merge(base: Any, extra: Any) -> Any:
    """Merge ``extra`` into ``base``: dicts key by key, lists of named items (containers) by name.

    Other lists and scalars from ``extra`` replace those in ``base``. Neither input is changed.
    """
    if isinstance(base, Mapping) and isinstance(extra, Mapping):
        merged = dict(base)
        for key, value in extra.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(extra, list) and _named(base) and _named(extra):
        merged_list = [dict(item) for item in base]
        positions = {item["name"]: index for index, item in enumerate(merged_list)}
        for item in extra:
            if item["name"] in positions:
                index = positions[item["name"]]
                merged_list[index] = deep_merge(merged_list[index], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(extra)


def _named(items: list) -> bool:
    return bool(items) and all(isinstance(item, Mapping) and "name" in item for item in items)


def container_override(request: dict[str, Any], container_name: str) -> dict[str, Any]:
    """The request's override for the Airflow container, created if the template had none."""
    overrides = request.setdefault("overrides", {})
    containers = overrides.setdefault("containerOverrides", [])
    container = container_named(containers, container_name)
    if container is not None:
        return container
    container = {"name": container_name}
    containers.append(container)
    return container


def merge_environment(container: dict[str, Any], pairs: tuple[tuple[str, str], ...] | list) -> None:
    """Set variables in a container override, replacing same-named ones and keeping the rest."""
    environment = [item for item in container.get("environment", []) if item.get("name") not in dict(pairs)]
    environment.extend({"name": name, "value": value} for name, value in pairs)
    container["environment"] = environment


def request_runs_on_fargate(request: Mapping[str, Any]) -> bool | None:
    """True/False when the request says where it runs; None when the cluster's default strategy decides."""
    strategy = request.get("capacityProviderStrategy")
    if strategy:
        return uses_fargate("", strategy)
    if request.get("launchType"):
        return request["launchType"] == "FARGATE"
    return None


def check_task_size_overrides(overrides: Mapping[str, Any]) -> None:
    """``overrides={"cpu": "300", "memory": "512"}`` gets the same Fargate size check as ``cpu=``/``memory=``.

    Only when both are given: with one, the task definition's other size applies, which is not known here."""
    if overrides.get("cpu") is None or overrides.get("memory") is None:
        return
    try:
        cpu, memory = parse_cpu(overrides["cpu"]), parse_memory(overrides["memory"])
    except ExecutorConfigError as error:
        raise ExecutorConfigError(
            "overrides", {"cpu": overrides["cpu"], "memory": overrides["memory"]}, str(error).split(": ", 1)[-1]
        ) from None
    if not is_valid(cpu, memory):
        raise ExecutorConfigError(
            "overrides", {"cpu": overrides["cpu"], "memory": overrides["memory"]}, describe_invalid(cpu, memory)
        )


def check_container_names(request: Mapping[str, Any], names: list[str] | None, task_definition: str) -> None:
    """Every container override must name a container of the task definition: ECS refuses the task otherwise.
    ``names`` None: the definition was not read (nothing to check against)."""
    if names is None:
        return
    for override in (request.get("overrides") or {}).get("containerOverrides") or []:
        if override.get("name") not in names:
            raise ExecutorConfigError(
                "overrides",
                {"containerOverrides": [{"name": override.get("name")}]},
                f"task definition {task_definition!r} has no container "
                f"{override.get('name')!r} (it has {', '.join(names)})",
            )


def merge_run_task_kwargs(request: Mapping[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """RunTask arguments over a request (deeply; containers by name). A strategy replaces the launch type:
    RunTask takes one or the other."""
    result = deep_merge(request, kwargs)
    if "capacityProviderStrategy" in kwargs and "launchType" not in kwargs:
        result.pop("launchType", None)
    return result


def apply_settings(request: Mapping[str, Any], settings: TaskSettings, container_name: str) -> dict[str, Any]:
    """The request with the task's settings applied; raises ExecutorConfigError for what ECS would refuse."""
    result = copy.deepcopy(dict(request))
    if settings.run_task_kwargs:
        result = merge_run_task_kwargs(result, settings.run_task_kwargs)
    if settings.overrides:
        result["overrides"] = deep_merge(result.get("overrides", {}), settings.overrides)
    if settings.capacity_provider_strategy is not None:
        result.pop("launchType", None)
        result["capacityProviderStrategy"] = [dict(item) for item in settings.capacity_provider_strategy]
    fargate = request_runs_on_fargate(result)
    if not fargate:
        result.pop("platformVersion", None)  # ECS refuses platformVersion outside Fargate

    container = container_override(result, container_name)
    if settings.overrides and fargate is not False and settings.cpu is None and settings.memory is None:
        check_task_size_overrides(result["overrides"])
    if settings.cpu is not None or settings.memory is not None:
        if fargate is not False:
            if settings.cpu is None or settings.memory is None:
                key = "memory" if settings.memory is None else "cpu"
                raise ExecutorConfigError(
                    key,
                    None,
                    "Fargate sizes a task by cpu and memory together; give both, e.g. dict(cpu=256, memory=512)",
                )
            if not is_valid(settings.cpu, settings.memory):
                raise ExecutorConfigError(
                    "cpu/memory", (settings.cpu, settings.memory), describe_invalid(settings.cpu, settings.memory)
                )
        # Task-level sizes are strings and container-level ones integers in the RunTask API.
        if settings.cpu is not None:
            result["overrides"]["cpu"] = str(settings.cpu)
            container["cpu"] = settings.cpu
        if settings.memory is not None:
            result["overrides"]["memory"] = str(settings.memory)
            container["memory"] = settings.memory
    if settings.ephemeral_storage is not None:
        if fargate is False:
            raise ExecutorConfigError(
                "ephemeral_storage",
                settings.ephemeral_storage,
                "ephemeral storage overrides work only on Fargate; size the EC2 instance's disk",
            )
        result["overrides"]["ephemeralStorage"] = {"sizeInGiB": settings.ephemeral_storage}
    if settings.gpu is not None:
        if fargate is not False:
            raise ExecutorConfigError(
                "gpu", settings.gpu, "Fargate has no GPUs; run the task on an EC2 capacity provider or launch_type EC2"
            )
        requirements = [r for r in container.get("resourceRequirements", []) if r.get("type") != "GPU"]
        requirements.append({"type": "GPU", "value": str(settings.gpu)})
        container["resourceRequirements"] = requirements
    if settings.environment:
        merge_environment(container, settings.environment)
    if settings.tags:
        tags = [tag for tag in result.get("tags", []) if tag.get("key") not in dict(settings.tags)]
        tags.extend({"key": key, "value": value} for key, value in settings.tags)
        result["tags"] = tags
    return result
