"""The ``[ecs_fargate]`` section: declared once, read into one frozen object.

Each key is declared once, as a field of ``EcsConfig``: its name, Python type, default (as Airflow's config
spells it), description and the function that parses it. ``OPTIONS`` is derived from those fields, and the
dataclass default is the declared default string, parsed. Airflow lists the section through the provider
entry point (``provider.py``), the docs are generated from ``OPTIONS``, and ``load_config`` turns raw strings
into an ``EcsConfig`` or one ``ConfigError`` line naming the key, the bad value and a good example. Reading
is a pure function of a ``get(key) -> str | None`` callable, so it is tested without Airflow.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from airflow_ecs.core.errors import UserError

SECTION = "ecs_fargate"

# Fargate's documented per-account, per-Region limits: 20 launches per second sustained, 100 burst.
FARGATE_LAUNCH_RATE = 20.0
FARGATE_LAUNCH_BURST = 100

LAUNCH_TYPES = ("FARGATE", "EC2", "EXTERNAL", "MANAGED_INSTANCES")
# Our own tags identify the task instance; a user's tag may not take their place.
RESERVED_TAG_PREFIXES = ("airflow:", "aws:")
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


class ConfigError(ValueError, UserError):
    """A bad ``[ecs_fargate]`` value; the message is one line naming key, value and a good example."""

    def __init__(self, key: str, value: object, expected: str, *, show_value: bool = True):
        self.key, self.value, self.expected = key, value, expected
        shown = "(empty)" if value in (None, "") else repr(value) if show_value else "(value not shown)"
        super().__init__(f"[{SECTION}] {key} = {shown}: {expected}")


def parse_text(key: str, raw: str) -> str:
    return raw


@dataclass(frozen=True)
class Option:
    """One key as Airflow's provider config lists it, with the function that turns its raw string into the value."""

    name: str
    type: str  # "string", "boolean", "integer", "float" as Airflow's provider config spells them
    default: str | None
    description: str
    example: str | None = None
    required: bool = False
    version_added: str | None = None  # None: kept from airflow-ecs-fargate-executor 0.12
    # (key, stripped raw string) -> the typed value, or ConfigError naming the key.
    parse: Callable[[str, str], Any] = field(default=parse_text, compare=False, repr=False)


@dataclass(frozen=True)
class CapacityProviderItem:
    capacity_provider: str
    weight: int = 1
    base: int = 0

    def to_boto(self) -> dict[str, Any]:
        return {"capacityProvider": self.capacity_provider, "weight": self.weight, "base": self.base}


@dataclass(frozen=True)
class Profile:
    """One named launch profile; None means "as the section says"."""

    name: str
    queues: tuple[str, ...] = ()
    task_definition: str | None = None
    container_name: str | None = None
    launch_type: str | None = None
    capacity_provider_strategy: tuple[CapacityProviderItem, ...] | None = None
    fallback_capacity_provider_strategy: tuple[CapacityProviderItem, ...] | None = None
    platform_version: str | None = None
    cpu: int | None = None
    memory: int | None = None
    gpu: int | None = None
    subnets: tuple[str, ...] | None = None
    security_groups: tuple[str, ...] | None = None
    assign_public_ip: bool | None = None
    tags: tuple[tuple[str, str], ...] = ()


# A profile's settings are its fields; ``queues`` says which tasks it serves, the rest what they run with.
PROFILE_FIELDS = tuple(item.name for item in fields(Profile) if item.name != "name")
PROFILE_SETTINGS = tuple(name for name in PROFILE_FIELDS if name != "queues")


# --- parsing: small pure functions, each raising ConfigError with the key it was given; one per option ---


def parse_bool(key: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "t", "1", "yes", "y", "on"):
        return True
    if value in ("false", "f", "0", "no", "n", "off", ""):
        return False
    raise ConfigError(key, raw, "expected True or False")


# ECS's pattern for a capacity provider name (FARGATE, FARGATE_SPOT or one the account created).
_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def parse_number(key: str, raw: str, kind: type, minimum: float) -> Any:
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ConfigError(
            key, raw, f"expected {'a whole number' if kind is int else 'a number'}, e.g. {OPTIONS_BY_NAME[key].example}"
        ) from None
    if not math.isfinite(value):
        raise ConfigError(key, raw, f"expected a finite number, e.g. {OPTIONS_BY_NAME[key].example}")
    if value < minimum:
        raise ConfigError(key, raw, f"expected at least {minimum}, e.g. {OPTIONS_BY_NAME[key].example}")
    return value


def parse_whole(key: str, raw: str) -> int:
    """A count: at least 1."""
    return int(parse_number(key, raw, int, 1))


def parse_float(key: str, raw: str) -> float:
    return float(parse_number(key, raw, float, 0.0))


def parse_positive_float(key: str, raw: str) -> float:
    """Seconds or a rate that must be more than zero: 0 would stop every task at once (pending_timeout), sweep
    DescribeTasks at every scheduler loop into ECS's throttling (poll_interval), spin (reconcile_interval), or
    never launch (launch_rate)."""
    value = parse_float(key, raw)
    if value <= 0:
        raise ConfigError(key, raw, f"expected more than 0, e.g. {OPTIONS_BY_NAME[key].example}")
    return value


def parse_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _ids(prefix: str, spaced_example: str | None = None) -> Callable[[str, str], tuple[str, ...]]:
    """A parser of comma-separated AWS ids that all start with ``prefix``."""

    def parse(key: str, raw: str) -> tuple[str, ...]:
        items = parse_list(raw)
        for item in items:
            if any(character.isspace() for character in item):
                raise ConfigError(
                    key,
                    raw,
                    f"ids are separated by commas, not spaces, e.g. {spaced_example or OPTIONS_BY_NAME[key].example}",
                )
            if not item.startswith(prefix):
                raise ConfigError(
                    key, item, f"expected ids starting with {prefix}, e.g. {OPTIONS_BY_NAME[key].example}"
                )
        return items

    return parse


parse_subnets = _ids("subnet-")
parse_security_groups = _ids("sg-", "sg-0a1b,sg-2c3d")


def parse_launch_type(key: str, raw: str) -> str:
    launch_type = raw.upper()
    if launch_type and launch_type not in LAUNCH_TYPES:
        raise ConfigError(key, raw, f"expected one of {', '.join(LAUNCH_TYPES)} or empty")
    return launch_type


def parse_template_path(key: str, raw: str) -> str:
    if raw and not Path(raw).is_file():
        raise ConfigError(
            key,
            raw,
            "no such file; give the path of a Jinja-templated JSON file, or leave it empty for the shipped template",
        )
    return raw


def parse_url(key: str, raw: str) -> str:
    if raw and not raw.startswith(("http://", "https://")):
        raise ConfigError(key, raw, f"expected a URL, e.g. {OPTIONS_BY_NAME[key].example}")
    return raw


def parse_capacity_provider_strategy(key: str, raw: str | list | None) -> tuple[CapacityProviderItem, ...]:
    """``FARGATE_SPOT:1,FARGATE:0:1`` (name:weight[:base]) or boto3's JSON list, into typed items.

    Also used for a task's ``executor_config["capacity_provider_strategy"]``, which may be a list already.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ()
    good = 'e.g. FARGATE_SPOT:1,FARGATE:0 or [{"capacityProvider": "FARGATE", "weight": 1}]'
    items: list[CapacityProviderItem] = []
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ConfigError(key, raw, f"not valid JSON ({err.msg}); {good}") from None
    if isinstance(raw, list):
        for entry in raw:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("capacityProvider"), str):
                raise ConfigError(key, entry, f"each item needs a capacityProvider name; {good}")
            unknown = set(entry) - {"capacityProvider", "weight", "base"}
            if unknown:
                raise ConfigError(key, entry, f"unknown field {sorted(unknown)[0]!r}; {good}")
            items.append(
                _strategy_item(
                    key, entry, entry["capacityProvider"], entry.get("weight", 1), entry.get("base", 0), good
                )
            )
    elif isinstance(raw, str):
        for part in parse_list(raw):
            fields = part.split(":")
            if len(fields) > 3 or not fields[0]:
                raise ConfigError(key, part, f"expected name:weight[:base]; {good}")
            weight = fields[1] if len(fields) > 1 else 1
            base = fields[2] if len(fields) > 2 else 0
            items.append(_strategy_item(key, part, fields[0], weight, base, good))
    else:
        raise ConfigError(key, raw, f"expected a string or a list; {good}")
    names = [item.capacity_provider for item in items]
    if len(set(names)) != len(names):
        raise ConfigError(key, raw, f"a capacity provider is named twice; {good}")
    if len(items) > 20:
        raise ConfigError(key, raw, "ECS accepts at most 20 capacity providers in a strategy")
    if sum(1 for item in items if item.base) > 1:
        raise ConfigError(key, raw, "only one capacity provider in a strategy may have a base")
    return tuple(items)


def _whole_number(value: object) -> int:
    """An int, or text of one. Not int(value) alone: int(1.5) and int(True) are 1, so JSON's 1.5 and true would pass."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(value)
    return int(value)


def _strategy_item(key: str, shown: object, name: str, weight: object, base: object, good: str) -> CapacityProviderItem:
    try:
        weight_i, base_i = _whole_number(weight), _whole_number(base)
    except ValueError:
        raise ConfigError(key, shown, f"weight and base must be whole numbers; {good}") from None
    if not 0 <= weight_i <= 1000 or not 0 <= base_i <= 100000:
        raise ConfigError(key, shown, f"weight must be 0-1000 and base 0-100000; {good}")
    if not _PROVIDER_NAME.match(name.strip()):
        raise ConfigError(
            key,
            shown,
            f"capacity provider {name.strip()!r} is not a name (letters, digits, _ and -; "
            f"items separated by commas); {good}",
        )
    return CapacityProviderItem(name.strip(), weight_i, base_i)


def parse_run_task_kwargs(key: str, raw: str) -> str:
    """A JSON object of RunTask arguments, as canonical JSON; the executor's own arguments are refused. Its values
    may hold secrets (environment overrides): an error shows no value but the offending entry's name."""
    if not raw.strip():
        return ""
    example = OPTIONS_BY_NAME[key].example
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError(
            key,
            raw,
            f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); e.g. {example}",
            show_value=False,
        ) from None
    if not isinstance(data, Mapping):
        raise ConfigError(key, raw, f"expected a JSON object of RunTask arguments; e.g. {example}", show_value=False)
    reserved = sorted(set(data) & {"startedBy", "clientToken", "count"})
    if reserved:
        raise ConfigError(
            key,
            raw,
            f"{reserved[0]!r} is set by the executor (startedBy and clientToken identify the "
            "try; one Airflow task is one ECS task); remove it",
            show_value=False,
        )
    return json.dumps(data, sort_keys=True)


def parse_profiles(raw: str) -> tuple[Profile, ...]:
    """The ``profiles`` JSON into typed profiles; each error names the profile and the field."""
    if not raw.strip():
        return ()
    example = OPTIONS_BY_NAME["profiles"].example
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError("profiles", raw, f"not valid JSON ({err.msg}); e.g. {example}") from None
    if not isinstance(data, Mapping):
        raise ConfigError("profiles", raw, f"expected a JSON object of profile name -> settings; e.g. {example}")
    profiles = [_profile(str(name), settings) for name, settings in data.items()]
    owner: dict[str, str] = {}
    for profile in profiles:
        for queue in profile.queues:
            if queue in owner:
                raise ConfigError(
                    "profiles",
                    raw,
                    f"queue {queue!r} is in profiles {owner[queue]!r} and {profile.name!r}; a queue picks one profile",
                )
            owner[queue] = profile.name
    return tuple(profiles)


def parse_profiles_option(key: str, raw: str) -> tuple[Profile, ...]:
    return parse_profiles(raw)


def _profile(name: str, settings: object) -> Profile:
    def bad(field: str, value: object, expected: str) -> ConfigError:
        return ConfigError("profiles", value, f"profile {name!r}, field {field!r}: {expected}")

    if not isinstance(settings, Mapping):
        raise bad("(whole)", settings, "expected an object of settings")
    unknown = sorted(set(settings) - set(PROFILE_FIELDS))
    if unknown:
        raise bad(unknown[0], settings[unknown[0]], f"unknown field; known: {', '.join(PROFILE_FIELDS)}")
    values: dict[str, Any] = {"name": name}
    for setting in ("task_definition", "container_name", "platform_version", "launch_type"):
        if settings.get(setting) is not None:
            if not isinstance(settings[setting], str):
                raise bad(setting, settings[setting], "expected a string")
            values[setting] = settings[setting].strip()
    if values.get("launch_type") is not None:
        values["launch_type"] = values["launch_type"].upper()
        if values["launch_type"] not in LAUNCH_TYPES:
            raise bad("launch_type", settings["launch_type"], f"expected one of {', '.join(LAUNCH_TYPES)}")
    if settings.get("capacity_provider_strategy") is not None:
        if "launch_type" in values:
            raise bad(
                "launch_type",
                settings["launch_type"],
                "launch_type and capacity_provider_strategy are mutually exclusive; give one",
            )
        values["capacity_provider_strategy"] = parse_capacity_provider_strategy(
            "profiles", settings["capacity_provider_strategy"]
        )
    if settings.get("fallback_capacity_provider_strategy") is not None:
        values["fallback_capacity_provider_strategy"] = parse_capacity_provider_strategy(
            "profiles", settings["fallback_capacity_provider_strategy"]
        )
    for setting in ("cpu", "memory", "gpu"):
        value = settings.get(setting)
        if value is not None:
            if (
                isinstance(value, bool)
                or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit()))
                or int(value) <= 0
            ):
                raise bad(setting, value, "expected a positive whole number (CPU units, MiB, GPUs)")
            values[setting] = int(value)
    queues = settings.get("queues", [])
    if not isinstance(queues, list) or not all(isinstance(q, str) and q for q in queues):
        raise bad("queues", queues, "expected a list of Airflow queue names")
    values["queues"] = tuple(queues)
    for setting, prefix in (("subnets", "subnet-"), ("security_groups", "sg-")):
        value = settings.get(setting)
        if value is None:
            continue
        items = parse_list(value) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(
            isinstance(i, str) and i.startswith(prefix) and not any(c.isspace() for c in i) for i in items
        ):
            raise bad(setting, value, f"expected ids starting with {prefix}, separated by commas")
        values[setting] = tuple(items)
    if settings.get("assign_public_ip") is not None:
        if not isinstance(settings["assign_public_ip"], bool):
            raise bad("assign_public_ip", settings["assign_public_ip"], "expected true or false")
        values["assign_public_ip"] = settings["assign_public_ip"]
    tags = settings.get("tags", {})
    if not isinstance(tags, Mapping) or not all(isinstance(v, (str, int, float)) for v in tags.values()):
        raise bad("tags", tags, "expected an object of tag names to values")
    reserved = [key for key in tags if str(key).lower().startswith(RESERVED_TAG_PREFIXES)]
    if reserved:
        raise bad(
            "tags", tags, f"tag {reserved[0]!r}: names starting with airflow: or aws: are the executor's and AWS's"
        )
    values["tags"] = tuple((str(k), str(v)) for k, v in tags.items())
    return Profile(**values)


_PARSERS_BY_TYPE: dict[str, Callable[[str, str], Any]] = {
    "string": parse_text,
    "boolean": parse_bool,
    "integer": parse_whole,
    "float": parse_float,
}


def _option(
    type: str,
    default: str | None,
    description: str,
    example: str | None = None,
    *,
    required: bool = False,
    version_added: str | None = None,
    parse: Callable[[str, str], Any] | None = None,
) -> Any:
    """An ``EcsConfig`` field declaring its key: the dataclass default is ``default`` parsed (none when required);
    the field's name becomes the option's name in ``OPTIONS``."""
    option = Option("", type, default, description, example, required, version_added, parse or _PARSERS_BY_TYPE[type])
    if required:
        return field(metadata={"option": option})
    return field(default=option.parse("(default)", default or ""), metadata={"option": option})


@dataclass(frozen=True)
class EcsConfig:
    """The ``[ecs_fargate]`` section, read and checked. Each field declares its key (see ``_option``)."""

    # The keys of airflow-ecs-fargate-executor 0.12 keep their names and meaning.
    region: str = _option("string", None, "AWS Region of the cluster.", "us-east-1", required=True)
    cluster: str = _option(
        "string", None, "Name or ARN of the ECS cluster that runs the tasks.", "airflow", required=True
    )
    container_name: str = _option(
        "string",
        None,
        "Name of the Airflow container in the task definition. It receives the task's command, and only its "
        "exit code decides the task's outcome (sidecars do not).",
        "airflow-worker",
        required=True,
    )
    task_definition: str = _option(
        "string",
        None,
        "Task definition family, family:revision or ARN. Required by the shipped run_task template.",
        "airflow-worker",
    )
    launch_type: str = _option(
        "string",
        "FARGATE",
        "FARGATE, EC2, EXTERNAL or MANAGED_INSTANCES. Leave empty to use capacity_provider_strategy or the "
        "cluster's default strategy; a strategy replaces the default FARGATE.",
        "FARGATE",
        parse=parse_launch_type,
    )
    platform_version: str = _option(
        "string",
        "LATEST",
        "Fargate platform version. Sent only when the task runs on Fargate, never with EC2.",
        "1.4.0",
    )
    assign_public_ip: bool = _option("boolean", "False", "Give each task a public IP (awsvpc only).", "False")
    security_groups: tuple[str, ...] = _option(
        "string",
        "",
        "Security group ids for the tasks, comma-separated.",
        "sg-0123456789abcdef0",
        parse=parse_security_groups,
    )
    subnets: tuple[str, ...] = _option(
        "string",
        "",
        "Subnet ids for the tasks, comma-separated.",
        "subnet-0a1b2c3d,subnet-4e5f6a7b",
        parse=parse_subnets,
    )
    run_task_template: str = _option(
        "string",
        "",
        "Path of the Jinja-templated JSON run_task request. Empty: the template shipped with the package.",
        "/opt/airflow/config/run_task_template.json.j2",
        parse=parse_template_path,
    )
    # New in airflow-ecs.
    capacity_provider_strategy: tuple[CapacityProviderItem, ...] = _option(
        "string",
        "",
        "Capacity providers as name:weight[:base], comma-separated, or the JSON list boto3 takes. "
        "Mutually exclusive with a launch_type other than the default.",
        "FARGATE_SPOT:1,FARGATE:0",
        version_added="0.1.0",
        parse=parse_capacity_provider_strategy,
    )
    fallback_capacity_provider_strategy: tuple[CapacityProviderItem, ...] = _option(
        "string",
        "",
        "Strategy for relaunching a task that failed for lack of capacity (e.g. Spot to on-demand). "
        "Empty: retry with the same strategy.",
        "FARGATE:1",
        version_added="0.1.0",
        parse=parse_capacity_provider_strategy,
    )
    max_run_task_attempts: int = _option(
        "integer",
        "5",
        "How many times one task may be launched: RunTask retries after throttling, transient and capacity "
        "errors, and relaunches after an infrastructure failure, together.",
        "5",
        version_added="0.1.0",
    )
    launch_concurrency: int = _option(
        "integer",
        "10",
        "RunTask calls in flight at once, on worker threads outside the scheduler loop.",
        "10",
        version_added="0.1.0",
    )
    launch_rate: float = _option(
        "float",
        str(FARGATE_LAUNCH_RATE),
        "Most RunTask calls per second, sustained (Fargate allows 20 task launches per second per account and "
        "Region, shared by every scheduler). The executor starts here, halves its rate when ECS throttles it and "
        "climbs back as calls succeed, so several schedulers sharing the account converge on their share.",
        "20",
        version_added="0.1.0",
        parse=parse_positive_float,
    )
    launch_burst: int = _option(
        "integer",
        str(FARGATE_LAUNCH_BURST),
        "RunTask calls allowed at once before launch_rate applies (Fargate's burst is 100).",
        "100",
        version_added="0.1.0",
    )
    poll_interval: float = _option(
        "float",
        "5",
        "Seconds between DescribeTasks sweeps when no events queue is configured.",
        "5",
        version_added="0.1.0",
        parse=parse_positive_float,
    )
    pending_timeout: float = _option(
        "float",
        "600",
        "Seconds a task may stay before RUNNING (PROVISIONING, PENDING) before it is stopped and failed. "
        "The workload's token is valid for [scheduler] task_queued_timeout, 600 s by default.",
        "600",
        version_added="0.1.0",
        parse=parse_positive_float,
    )
    end_timeout: float = _option(
        "float",
        "300",
        "Seconds end() waits for running tasks when the scheduler shuts down.",
        "300",
        version_added="0.1.0",
    )
    execution_api_server_url: str = _option(
        "string",
        "",
        "Airflow's execution API as the containers reach it; put into the container environment as "
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL when set.",
        "http://airflow-api.internal:8080/execution/",
        version_added="0.1.0",
        parse=parse_url,
    )
    aws_profile: str = _option(
        "string",
        "",
        "Profile from the shared AWS config files. Empty: boto3's standard credential chain (environment, "
        "shared files, ECS/EC2 role).",
        "airflow-scheduler",
        version_added="0.1.0",
    )
    aws_conn_id: str = _option(
        "string",
        "",
        "Airflow connection holding the AWS credentials. With the amazon provider installed (the extra "
        "airflow-ecs[amazon]) its AwsBaseHook reads the connection as every Airflow AWS hook does (role_arn, "
        "assume_role_method, web identity, service_config and every other extra); without it, login = access "
        "key id, password = secret key, and the extra may set aws_session_token, region_name, profile_name and "
        "endpoint_url. Credentials are refreshed before they expire and read again after AWS answers "
        "ExpiredToken. Empty: aws_profile, else boto3's standard credential chain.",
        "aws_ecs_executor",
        version_added="0.1.0",
    )
    endpoint_url: str = _option(
        "string",
        "",
        "Endpoint for every AWS call instead of AWS's own; for the local ECS and tests.",
        "http://127.0.0.1:5000",
        version_added="0.1.0",
        parse=parse_url,
    )
    events_queue_url: str = _option(
        "string",
        "",
        "SQS queue receiving the cluster's ECS Task State Change events. Empty: track tasks by polling.",
        "https://sqs.us-east-1.amazonaws.com/123456789012/airflow-ecs-events",
        version_added="0.1.0",
        parse=parse_url,
    )
    events_queue_exclusive: bool = _option(
        "boolean",
        "False",
        "True when this scheduler is the only reader of events_queue_url (one queue per scheduler, as render "
        "writes it): an event of a task it does not track is deleted. False (a queue shared by several "
        "schedulers): such an event is handed back for its owner, so an event of a task nobody tracks any more "
        "is received again until the queue's dead-letter queue takes it.",
        "True",
        version_added="0.1.0",
    )
    reconcile_interval: float = _option(
        "float",
        "60",
        "With an events queue: seconds between DescribeTasks sweeps that catch a lost event.",
        "60",
        version_added="0.1.0",
        parse=parse_positive_float,
    )
    check_health_on_startup: bool = _option(
        "boolean",
        "True",
        "Check at start-up that the cluster, task definitions and containers exist and can be reached, and stop "
        "the scheduler with one line when they cannot. Throttling and transient AWS errors are retried for up to "
        "two minutes first. False starts without calling AWS (as AwsEcsExecutor's key of the same name does); a "
        "wrong setting then fails each task instead.",
        "True",
        version_added="0.1.0",
    )
    # Canonical JSON of an object (a string keeps the config hashable); see run_task_extra.
    run_task_kwargs: str = _option(
        "string",
        "",
        "Extra RunTask arguments as a JSON object, merged into every request after the run_task template (dicts "
        "key by key, containers by name) and before each task's executor_config; checked by botocore's RunTask "
        "model. AwsEcsExecutor's key of the same name and meaning.",
        '{"propagateTags": "TASK_DEFINITION", "enableExecuteCommand": true}',
        version_added="0.1.0",
        parse=parse_run_task_kwargs,
    )
    profiles: tuple[Profile, ...] = _option(
        "string",
        "",
        f"Launch profiles as JSON: profile name -> settings, each optional ({', '.join(PROFILE_SETTINGS)}) and the "
        "Airflow queues it serves (queues). A profile "
        "with its own launch_type or capacity_provider_strategy falls back only to its own "
        "fallback_capacity_provider_strategy, never to the section's. A task's queue picks its profile and "
        "its executor_config refines it; a queue in no profile uses the profile named default, else this "
        "section's own settings. airflow-ecs render writes it from Terraform's profiles output.",
        '{"heavy": {"queues": ["heavy"], "cpu": 4096, "memory": 16384}}',
        version_added="0.1.0",
        parse=parse_profiles_option,
    )

    def run_task_extra(self) -> dict[str, Any]:
        return json.loads(self.run_task_kwargs) if self.run_task_kwargs else {}

    def profile_for_queue(self, queue: str) -> Profile | None:
        """The profile serving ``queue``; else the one named ``default``; else None (the section itself)."""
        fallback = None
        for profile in self.profiles:
            if queue in profile.queues:
                return profile
            if profile.name == "default":
                fallback = profile
        return fallback

    def launch_views(self) -> list[EcsConfig]:
        """The config as each profile sees it (the section's own first), one per task definition and container."""
        views: dict[tuple[str, str], EcsConfig] = {}
        for profile in (None, *self.profiles):
            view = self.for_profile(profile)
            views.setdefault((view.task_definition, view.container_name), view)
        return list(views.values())

    def for_profile(self, profile: Profile | None) -> EcsConfig:
        """This config as a task of ``profile`` sees it: the profile's settings over the section's."""
        if profile is None:
            return self
        changes: dict[str, Any] = {
            name: getattr(profile, name)
            for name in (
                "task_definition",
                "container_name",
                "platform_version",
                "subnets",
                "security_groups",
                "assign_public_ip",
            )
            if getattr(profile, name) is not None
        }
        # The section's fallback is for the section's capacity (e.g. FARGATE_SPOT -> FARGATE): a profile with
        # capacity of its own (a GPU/EC2 provider) falls back only to the fallback it names itself.
        if profile.capacity_provider_strategy is not None:
            changes.update(
                capacity_provider_strategy=profile.capacity_provider_strategy,
                launch_type="",
                fallback_capacity_provider_strategy=(),
            )
        elif profile.launch_type is not None:
            changes.update(
                launch_type=profile.launch_type, capacity_provider_strategy=(), fallback_capacity_provider_strategy=()
            )
        if profile.fallback_capacity_provider_strategy is not None:
            changes.update(fallback_capacity_provider_strategy=profile.fallback_capacity_provider_strategy)
        return dataclasses.replace(self, **changes)

    @property
    def runs_on_fargate(self) -> bool:
        return uses_fargate(self.launch_type, self.capacity_provider_strategy)

    def template_values(self) -> dict[str, Any]:
        """The config as the run_task template sees it (``conf.*``): lists as lists, strategies in boto3 form."""
        values = dataclasses.asdict(self)
        values["security_groups"] = list(self.security_groups)
        values["subnets"] = list(self.subnets)
        values["capacity_provider_strategy"] = [item.to_boto() for item in self.capacity_provider_strategy]
        values["fallback_capacity_provider_strategy"] = [
            item.to_boto() for item in self.fallback_capacity_provider_strategy
        ]
        values["runs_on_fargate"] = self.runs_on_fargate
        values.pop("profiles")  # a template renders one task, of one profile: for_profile() already applied it
        values["run_task_kwargs"] = self.run_task_extra()
        return values


OPTIONS: tuple[Option, ...] = tuple(
    dataclasses.replace(item.metadata["option"], name=item.name) for item in fields(EcsConfig)
)
OPTIONS_BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


def uses_fargate(launch_type: str, strategy: tuple[CapacityProviderItem, ...] | list) -> bool:
    """True when ECS will place the task on Fargate, the only case that accepts ``platformVersion``."""
    if strategy:
        names = [
            item.capacity_provider if isinstance(item, CapacityProviderItem) else item["capacityProvider"]
            for item in strategy
        ]
        return all(name in FARGATE_PROVIDERS for name in names)
    return launch_type == "FARGATE"


def load_config(get: Callable[[str], str | None]) -> EcsConfig:
    """Read and check every key. ``get(key)`` returns the raw configured string, or None when unset."""
    raw: dict[str, str] = {}
    for option in OPTIONS:
        value = get(option.name)
        if value is None:
            value = option.default if option.default is not None else ""
        raw[option.name] = value.strip()
        if option.required and not raw[option.name]:
            raise ConfigError(option.name, value, f"required; e.g. {option.example}")
    values: dict[str, Any] = {option.name: option.parse(option.name, raw[option.name]) for option in OPTIONS}

    # What no one key decides alone.
    if values["capacity_provider_strategy"]:
        if values["launch_type"] not in ("", "FARGATE"):
            raise ConfigError(
                "launch_type",
                raw["launch_type"],
                "launch_type and capacity_provider_strategy are mutually exclusive in RunTask; leave launch_type empty",
            )
        values["launch_type"] = ""  # the strategy replaces the default FARGATE launch type
    if values["aws_conn_id"] and values["aws_profile"]:
        raise ConfigError(
            "aws_conn_id",
            values["aws_conn_id"],
            "set aws_conn_id or aws_profile, not both (a connection's extra may name a profile_name)",
        )
    return EcsConfig(**values)


def airflow_getter(conf: Any) -> Callable[[str], str | None]:
    """Adapt Airflow's config (``conf`` or an executor's team-aware ``ExecutorConf``) to ``load_config``.

    ``AIRFLOW__ECS_FARGATE__<KEY>`` environment variables come through Airflow's own lookup.
    """

    def get(key: str) -> str | None:
        return conf.get(SECTION, key, fallback=None)

    return get


def unknown_keys(section: Mapping[str, object] | Iterable[str]) -> list[str]:
    """Keys set in ``[ecs_fargate]`` that this version does not know (typos are reported, not ignored)."""
    return sorted(key for key in section if key.lower() not in OPTIONS_BY_NAME)


def check_known_keys(section: Mapping[str, object]) -> None:
    """A typo such as ``subnet = ...`` would otherwise be ignored and the default used: refuse it."""
    unknown = unknown_keys(section)
    if unknown:
        near = difflib.get_close_matches(unknown[0].lower(), OPTIONS_BY_NAME, n=1)
        hint = f"did you mean {near[0]}?" if near else f"known keys: {', '.join(OPTIONS_BY_NAME)}"
        # An unknown key may be a credential put in the wrong place (aws_secret_access_key): never echo its value.
        raise ConfigError(unknown[0], section[unknown[0]], f"not a key of [{SECTION}]; {hint}", show_value=False)
