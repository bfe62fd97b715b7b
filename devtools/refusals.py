"""Every refusal a user can meet, with its exact line: the input beside what the code says for it.

``docs/refusals.md`` is generated from ``catalogue()`` by ``python -m devtools.reference_docs``; each line is
produced by running the real check on the input, so the page cannot drift from the code, and
``tests/test_refusals.py`` proves every ``raise`` of a refusal in the checking modules is reached by some entry.
Pure: no AWS, no Airflow, no files outside a temporary directory.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE = {
    "region": "us-east-1",
    "cluster": "airflow",
    "container_name": "airflow-worker",
    "task_definition": "airflow-worker",
    "subnets": "subnet-0a1b2c3d",
    "security_groups": "sg-0123456789abcdef0",
}
TEMPLATE_PATH = "/opt/airflow/run_task_template.json.j2"
FARGATE_REQUEST: dict[str, Any] = {
    "cluster": "airflow",
    "taskDefinition": "airflow-worker",
    "launchType": "FARGATE",
    "platformVersion": "LATEST",
    "overrides": {"containerOverrides": [{"name": "airflow-worker", "command": ["python", "-c", "pass"]}]},
}


@dataclass(frozen=True)
class Refusal:
    section: str
    given: str
    line: str


def _line(action: Callable[[], Any]) -> str:
    try:
        action()
    except ValueError as error:  # every refusal class here is a ValueError
        return str(error)
    raise AssertionError("accepted; a refusal catalogue entry must be refused")


# --- [ecs_fargate]: what the scheduler refuses at start and `airflow-ecs check` exits 2 with ---

SETTINGS: list[dict[str, str]] = [
    {"region": ""},
    {"cluster": ""},
    {"container_name": ""},
    {"assign_public_ip": "maybe"},
    {"max_run_task_attempts": "five"},
    {"max_run_task_attempts": "0"},
    {"launch_concurrency": "1e3"},
    {"launch_burst": "0"},
    {"launch_rate": "0"},
    {"launch_rate": "nan"},
    {"poll_interval": "0"},
    {"pending_timeout": "0"},
    {"end_timeout": "-1"},
    {"reconcile_interval": "fast"},
    {"launch_type": "SPOT"},
    {"launch_type": "EC2", "capacity_provider_strategy": "FARGATE:1"},
    {"subnets": "subnet-0a1b2c3d subnet-4e5f6a7b"},
    {"subnets": "vpc-0a1b2c3d"},
    {"security_groups": "default"},
    {"capacity_provider_strategy": "lol what"},
    {"capacity_provider_strategy": "FARGATE:1:0:7"},
    {"capacity_provider_strategy": "FARGATE:one"},
    {"capacity_provider_strategy": "FARGATE:1001"},
    {"capacity_provider_strategy": "FARGATE:1,FARGATE:2"},
    {"capacity_provider_strategy": "FARGATE_SPOT:1:1,FARGATE:1:1"},
    {"capacity_provider_strategy": ",".join(f"cp{i}:1" for i in range(21))},
    {"capacity_provider_strategy": '[{"capacityProvider": "FARGATE"'},
    {"capacity_provider_strategy": '[{"weight": 1}]'},
    {"capacity_provider_strategy": '[{"capacityProvider": "FARGATE", "wieght": 1}]'},
    {"capacity_provider_strategy": "{}"},
    {"fallback_capacity_provider_strategy": "FARGATE:x"},
    {"aws_conn_id": "aws_default", "aws_profile": "airflow"},
    {"run_task_template": "/no/such/template.json.j2"},
    {"endpoint_url": "localhost:5000"},
    {"execution_api_server_url": "api:8080"},
    {"events_queue_url": "queue"},
    {"run_task_kwargs": '{"propagateTags": '},
    {"run_task_kwargs": '["propagateTags"]'},
    {"run_task_kwargs": '{"count": 2}'},
    {"task_definition": ""},
    {"subnet": "subnet-0a1b2c3d"},
    {"aws_secret_access_key": "..."},
]

PROFILES: list[str] = [
    '{"heavy": ',
    '["heavy"]',
    '{"heavy": ["heavy"]}',
    '{"heavy": {"queue": ["heavy"]}}',
    '{"heavy": {"task_definition": 3}}',
    '{"heavy": {"launch_type": "SPOT"}}',
    '{"heavy": {"launch_type": "EC2", "capacity_provider_strategy": "FARGATE:1"}}',
    '{"heavy": {"cpu": "lots"}}',
    '{"heavy": {"queues": "heavy"}}',
    '{"heavy": {"subnets": "subnet-1 subnet-2"}}',
    '{"heavy": {"assign_public_ip": "yes"}}',
    '{"heavy": {"tags": ["team"]}}',
    '{"heavy": {"tags": {"airflow:team": "data"}}}',
    '{"a": {"queues": ["heavy"]}, "b": {"queues": ["heavy"]}}',
    '{"heavy": {"queues": ["heavy"], "cpu": 300, "memory": 512}}',
]


def _settings_line(values: dict[str, str]) -> str:
    from airflow_ecs.glue.startup import check_settings

    merged = {**BASE, **values}
    return _line(lambda: check_settings(merged, merged.get))


def _settings_given(values: dict[str, str]) -> str:
    return ", ".join(
        f"{key} = {value}" if len(value) < 80 else f"{key} = {value[:40]}…" for key, value in values.items()
    )


# --- executor_config: the one task fails with this line in its event log ---

EXECUTOR_CONFIGS: list[Any] = [
    "cpu=256",
    {"cpu": True},
    {"memory": True},
    {"cpu": "lots"},
    {"cpu": 0},
    {"memory": "2 TB"},
    {"memory": 0},
    {"cpu": 256},
    {"memory": 512},
    {"cpu": 256, "memory": 4096},
    {"overrides": {"cpu": "300", "memory": "512"}},
    {"overrides": {"cpu": "lots", "memory": "512"}},
    {"ephemeral_storage": 500},
    {"ephemeral_storage": "big"},
    {"gpu": 1},
    {"gpu": 17},
    {"environment": ["A=1"]},
    {"environment": {"": "1"}},
    {"environment": {"A": None}},
    {"capacity_provider_strategy": "FARGATE:x"},
    {"capacity_provider_strategy": ""},
    {"tags": {"airflow:dag_id": "x"}},
    {"overrides": ["cpu"]},
    {"count": 2},
    {"cpuu": 256},
]
EC2_REQUEST = {**{k: v for k, v in FARGATE_REQUEST.items() if k != "platformVersion"}, "launchType": "EC2"}
EC2_EXECUTOR_CONFIGS: list[Any] = [{"ephemeral_storage": 50}]


def _executor_config_line(raw: Any, request: dict) -> str:
    from airflow_ecs.core.executor_config import apply_settings, parse_executor_config

    return _line(lambda: apply_settings(request, parse_executor_config(raw), "airflow-worker"))


def _container_line() -> str:
    from airflow_ecs.core.executor_config import apply_settings, check_container_names, parse_executor_config

    raw = {"overrides": {"containerOverrides": [{"name": "sidecar", "command": ["true"]}]}}
    return _line(
        lambda: check_container_names(
            apply_settings(FARGATE_REQUEST, parse_executor_config(raw), "airflow-worker"),
            ["airflow-worker"],
            "airflow-worker",
        )
    )


# --- the run_task template: the scheduler refuses to start (or one task fails) ---

TEMPLATES: list[str] = [
    '{"cluster": {{ conf.cluster | tojson }}',
    '{"cluster": {{ conf.cluster | tojson }},\n "taskDefinition": {{ conf.no_such_key | tojson }}}',
    "{% if %}",
    '["cluster"]',
    '{"taskDefinition": {{ conf.task_definition | tojson }}, "tags": {"team": "data"}}',
    '{"taskDefinition": {{ conf.task_definition | tojson }}, "count": 2}',
    '{"taskDefinition": {{ conf.task_definition | tojson }}, "launchType": 7}',
    '{"cluster": {{ conf.cluster | tojson }}}',
    '{"taskDefinition": {{ conf.task_definition | tojson }}, "overrides": {"containerOverrides": {"name": "x"}}}',
]


def _template_line(source: str) -> str:
    """What the scheduler (and check) says of a run_task_template file with this text."""
    from airflow_ecs.glue.startup import check_settings

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "run_task_template.json.j2"
        path.write_text(source)
        values = {**BASE, "run_task_template": str(path)}
        return _line(lambda: check_settings(values, values.get)).replace(str(path), TEMPLATE_PATH)


def _request_limit_lines() -> Iterator[tuple[str, str]]:
    from airflow_ecs.core.run_task_request import validate

    huge = copy.deepcopy(FARGATE_REQUEST)
    huge["overrides"]["containerOverrides"][0]["environment"] = [{"name": "BIG", "value": "x" * 9000}]
    yield "an environment of 9,000 characters", _line(lambda: validate(huge))
    tagged = {**FARGATE_REQUEST, "tags": [{"key": f"t{i}", "value": "v"} for i in range(51)]}
    yield "51 tags", _line(lambda: validate(tagged))


# --- terraform outputs: `airflow-ecs render` (and `apply`) exits 2 with this line ---


def _outputs() -> dict:
    return {
        "region": {"value": "eu-west-1"},
        "cluster_name": {"value": "airflow"},
        "cluster_arn": {"value": "arn:aws:ecs:eu-west-1:123456789012:cluster/airflow"},
        "task_definition_family": {"value": "airflow-worker"},
        "task_definition_arn": {"value": "arn:aws:ecs:eu-west-1:123456789012:task-definition/airflow-worker:1"},
        "container_name": {"value": "airflow-worker"},
        "subnet_ids": {"value": ["subnet-0a1b2c3d"]},
        "security_group_ids": {"value": ["sg-0123456789abcdef0"]},
        "assign_public_ip": {"value": False},
        "capacity_provider_strategy": {"value": [{"capacity_provider": "FARGATE", "weight": 1, "base": 0}]},
        "log_group_name": {"value": "/airflow-ecs/worker"},
        "log_stream_prefix": {"value": "airflow"},
        "execution_role_arn": {"value": "arn:aws:iam::123456789012:role/execution"},
        "task_role_arn": {"value": "arn:aws:iam::123456789012:role/task"},
        "scheduler_policy_arn": {"value": "arn:aws:iam::123456789012:policy/scheduler"},
    }


_QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/airflow-team-a-task-events"
OUTPUT_CHANGES: list[tuple[str, Any]] = [
    ("cluster_name", None),
    ("cluster_name", 42),
    ("subnet_ids", [1, 2]),
    ("subnet_ids", [{"id": "subnet-1"}]),
    ("subnet_ids", "subnet-0a1b2c3d"),
    ("capacity_provider_strategy", "FARGATE"),
    ("capacity_provider_strategy", [{"weight": 1}]),
    ("capacity_provider_strategy", [{"capacity_provider": "F", "weight": "heavy"}]),
    ("profiles", {"heavy": ["heavy"]}),
    ("profiles", {"heavy": {"queues": []}}),
    ("profiles", {"heavy": {"queues": ["heavy"], "launch_type": ""}}),
    ("profiles", {"heavy": {"queues": ["heavy"], "cpu": 1.5}}),
    ("profiles", {"heavy": {"queues": ["heavy"], "cpu": 0}}),
    ("profiles", {"heavy": {"queues": ["heavy"], "capacity_provider_strategy": "FARGATE"}}),
    ("teams", {"team-a": {}}),
    ("teams", {"team_a": ["airflow-team-a-worker"]}),
    ("teams", {"team_a": {"task_definition_family": ""}}),
    ("airflow_ecs", "cluster"),
    ("events_queue_urls", [""]),
    ("events_queue_urls", [_QUEUE, _QUEUE]),
    ("events_queue_urls", [_QUEUE]),  # with no events_queue_url
    (
        "teams",
        {
            "team_a": {
                "task_definition_family": "airflow-team-a-worker",
                "task_definition_arn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/airflow-team-a-worker:1",
                "container_name": "airflow-worker",
                "log_group_name": "/airflow-ecs/team_a/worker",
                "log_stream_prefix": "airflow",
                "execution_role_arn": "arn:aws:iam::123456789012:role/team-a-execution",
                "task_role_arn": "arn:aws:iam::123456789012:role/team-a-task",
                "scheduler_policy_arn": "arn:aws:iam::123456789012:policy/team-a-scheduler",
                "events_queue_url": _QUEUE,
                "events_queue_urls": [_QUEUE, f"{_QUEUE}-2"],  # two schedulers' queues; the deployment has none
            }
        },
    ),
]


def _outputs_line(name: str, value: Any) -> tuple[str, str]:
    from airflow_ecs.deploy.generator import render_files
    from airflow_ecs.deploy.terraform_outputs import parse_outputs

    data = _outputs()
    if name == "airflow_ecs":
        data = {name: {"value": value}}
    elif value is None:
        del data[name]
    else:
        data[name] = {"value": value}
    shown = f"{name} missing" if value is None else f"{name} = {json.dumps(value)}"
    return shown, _line(lambda: render_files(parse_outputs(data), TEMPLATE_PATH))


def _render_file_lines() -> Iterator[tuple[str, str]]:
    from airflow_ecs.cli.render import read_outputs
    from airflow_ecs.deploy.generator import refuse_what_is_not_ours

    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "airflow"
        out.mkdir()
        (out / "airflow.cfg").write_text("[core]\n")
        (out / "link.cfg").symlink_to(out / "airflow.cfg")
        (Path(directory) / "file").write_text("")

        def shown(line: str) -> str:
            return line.replace(directory, "$HOME")

        yield (
            "--out $AIRFLOW_HOME (it holds the user's airflow.cfg)",
            shown(_line(lambda: refuse_what_is_not_ours(["airflow.cfg"], out))),
        )
        yield "--out DIR where a target is a symlink", shown(_line(lambda: refuse_what_is_not_ours(["link.cfg"], out)))
        yield (
            "--outputs DIR/airflow.cfg --out DIR",
            shown(_line(lambda: refuse_what_is_not_ours(["airflow.cfg"], out, (out / "airflow.cfg",)))),
        )
        yield "--out FILE", shown(_line(lambda: refuse_what_is_not_ours(["airflow.cfg"], Path(directory) / "file")))
        (Path(directory) / "broken.json").write_text("{not json")
        yield (
            "--outputs FILE that is not JSON",
            shown(_line(lambda: read_outputs(str(Path(directory) / "broken.json"), None))),
        )
    yield "no --outputs and no --dir", _line(lambda: read_outputs(None, None))


def _config_file_lines() -> Iterator[tuple[str, str]]:
    from airflow_ecs.glue.startup import file_section

    cases = [
        ("no such file", None),
        ("a duplicated option", "[ecs_fargate]\nregion = a\nregion = b\n"),
        ("a duplicated section", "[ecs_fargate]\n[ecs_fargate]\n"),
        ("not an ini file", "region = a\n"),
        ("a line that is not key = value", "[ecs_fargate]\nregion\n"),
        ("no [ecs_fargate] section", "[core]\n"),
    ]
    with tempfile.TemporaryDirectory() as directory:
        for given, text in cases:
            path = Path(directory) / "airflow.cfg"
            if text is not None:
                path.write_text(text)
            yield (
                f"--config with {given}",
                _line(functools.partial(file_section, str(path), {})).replace(directory, "$HOME"),
            )
            path.unlink(missing_ok=True)


def _credentials_lines() -> Iterator[tuple[str, str]]:
    from airflow_ecs.aws.aws_credentials import chain_source, light_connection_kwargs

    with tempfile.TemporaryDirectory() as directory:  # AWS config files with one profile, not the user's
        config_file = Path(directory) / "config"
        config_file.write_text("[profile airflow]\nregion = us-east-1\n")
        saved = {
            name: os.environ.get(name) for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE")
        }
        os.environ.update(AWS_CONFIG_FILE=str(config_file), AWS_SHARED_CREDENTIALS_FILE=str(config_file))
        os.environ.pop("AWS_PROFILE", None)
        try:
            yield "aws_profile = nope", _line(lambda: chain_source("nope", "us-east-1"))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    yield (
        "a connection with an extra field only the amazon provider reads",
        _line(lambda: light_connection_kwargs("aws_ecs", "AKIA", "secret", {"role_arn": "x"})),
    )
    yield "a connection with a login but no password", _line(lambda: light_connection_kwargs("aws_ecs", "AKIA", "", {}))


def catalogue() -> list[Refusal]:
    refusals: list[Refusal] = []
    where = "[ecs_fargate] settings"
    refusals += [Refusal(where, _settings_given(values), _settings_line(values)) for values in SETTINGS]
    refusals += [Refusal(where, f"profiles = {raw}", _settings_line({"profiles": raw})) for raw in PROFILES]
    where = "run_task template"
    refusals += [Refusal(where, source, _template_line(source)) for source in TEMPLATES]
    refusals += [Refusal(where, given, line) for given, line in _request_limit_lines()]
    where = "executor_config"
    refusals += [Refusal(where, repr(raw), _executor_config_line(raw, FARGATE_REQUEST)) for raw in EXECUTOR_CONFIGS]
    refusals += [
        Refusal(where, f"{raw!r} on EC2", _executor_config_line(raw, EC2_REQUEST)) for raw in EC2_EXECUTOR_CONFIGS
    ]
    refusals.append(
        Refusal(where, "a container override naming a container the task definition lacks", _container_line())
    )
    where = "terraform outputs (render, apply)"
    refusals += [Refusal(where, *_outputs_line(name, value)) for name, value in OUTPUT_CHANGES]
    refusals += [Refusal("render's files", given, line) for given, line in _render_file_lines()]
    refusals += [Refusal("--config of check, status and orphans", given, line) for given, line in _config_file_lines()]
    refusals += [Refusal("AWS credentials", given, line) for given, line in _credentials_lines()]
    return refusals


INTRO = """\
# Every refusal, with its exact line

Each row is an input and the one line airflow-ecs answers it with, produced by running the real check on
that input (`devtools/refusals.py`; a test proves every refusal in the checking code is reached by a row).
Where the line appears:

- **[ecs_fargate] settings** and **run_task template**: the scheduler logs `ECS executor cannot start: <line>`
  and exits non-zero; `airflow-ecs check` and `airflow ecs check` print `airflow-ecs check: <line>` and exit 2
  (one code path: `airflow_ecs/glue/startup.py`).
- **executor_config**: only that task fails; the line is in its event log (Airflow UI: *Event Log*).
- **terraform outputs** and **render's files**: `airflow-ecs render: <line>`, exit 2, nothing written
  (`airflow-ecs apply` reports the same line after its apply).
- **--config**: `airflow-ecs check: <line>` (status, orphans alike), exit 2.
- **AWS credentials**: as the settings (the scheduler at start, `check` with exit 2).

Other one-liners: `airflow-ecs local` on a busy port (`cannot listen on 127.0.0.1:PORT (Address already in use);
stop what uses it or give another --port (0: any free port)`, the outputs file left as it was) and without moto
(`moto is not installed; the local ECS needs it: pip install 'airflow-ecs[local]'`); `render --outputs -` from a
terminal (`--outputs - reads stdin, which is a terminal; pipe it: terraform output -json | airflow-ecs render
--outputs -`); `render --outputs F --dir D` (argparse: `argument --dir: not allowed with argument --outputs`).
"""
