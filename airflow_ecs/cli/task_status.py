"""``airflow-ecs status``: the ECS tasks this deployment runs or recently stopped, with their Airflow keys.

ECS keeps a stopped task visible for at least an hour; the ``airflow:*`` tags that every request carries
(``run_task_request.identity_tags``) say which task instance try each one is.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_ecs.aws import ecs_api
from airflow_ecs.cli import add_flags, print_task_table, shared_flags
from airflow_ecs.core.config import EcsConfig
from airflow_ecs.core.containers import container_named
from airflow_ecs.core.diagnosis import diagnose
from airflow_ecs.core.errors import UserError
from airflow_ecs.core.task_logs import container_name_of, task_id


@dataclass(frozen=True)
class TaskRow:
    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int
    ecs_task_id: str
    last_status: str
    exit_code: int | None
    stop_code: str
    reason: str
    task_arn: str = ""
    created_at: str = ""  # ISO 8601, UTC; empty when ECS has not said
    started_at: str = ""
    stopped_at: str = ""


def family_of(task_definition: str) -> str:
    """``family``, ``family:3`` or a task definition ARN -> ``family`` (what ListTasks filters on)."""
    return task_definition.rsplit("/", 1)[-1].split(":", 1)[0]


def row_of(task: Mapping[str, Any], container_name: str) -> TaskRow | None:
    """One ECS task as a row, or None when it carries no Airflow identity (not launched by an executor)."""
    tags = {tag.get("key"): tag.get("value") for tag in task.get("tags") or []}
    if "airflow:dag_id" not in tags:
        return None
    container = container_named(task.get("containers"), container_name) or {}
    exit_code = container.get("exitCode")
    reason = ""
    if task.get("lastStatus") == "STOPPED" and exit_code != 0:
        reason = diagnose(task.get("stopCode"), task.get("stoppedReason"), container.get("reason"), exit_code).cause
    return TaskRow(
        dag_id=str(tags.get("airflow:dag_id")),
        task_id=str(tags.get("airflow:task_id")),
        run_id=str(tags.get("airflow:run_id")),
        map_index=int(tags.get("airflow:map_index") or -1),
        try_number=int(tags.get("airflow:try_number") or 0),
        ecs_task_id=task_id(task["taskArn"]),
        last_status=str(task.get("lastStatus")),
        exit_code=exit_code,
        stop_code=str(task.get("stopCode") or ""),
        reason=reason,
        task_arn=str(task["taskArn"]),
        created_at=iso(task.get("createdAt")),
        started_at=iso(task.get("startedAt")),
        stopped_at=iso(task.get("stoppedAt")),
    )


def iso(value: object) -> str:
    """boto3's datetime (or moto's epoch seconds) as ISO 8601 in UTC."""
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).isoformat()
    return ""


_AGO = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SinceError(ValueError, UserError):
    """A ``--since`` that is neither a duration nor a time."""


def parse_since(text: str, now: datetime.datetime) -> datetime.datetime:
    """``30m``, ``2h``, ``1d`` ago, or an ISO 8601 time (UTC when it names no zone)."""
    match = _AGO.match(text.strip())
    if match:
        return now - datetime.timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise SinceError(
            f"--since {text!r}: expected a duration such as 30m, 2h or 1d, or a time such as 2026-01-01T12:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def select(
    rows: Iterable[TaskRow],
    *,
    dag_id: str | None = None,
    state: str | None = None,
    since: datetime.datetime | None = None,
) -> list[TaskRow]:
    """The rows of one DAG, in one ECS status, created at or after ``since``: each filter only when given."""
    chosen = []
    for row in rows:
        if dag_id is not None and row.dag_id != dag_id:
            continue
        if state is not None and row.last_status != state.upper():
            continue
        # A task whose creation time ECS did not report is kept: a filter must not hide what it cannot judge.
        if since is not None and row.created_at and datetime.datetime.fromisoformat(row.created_at) < since:
            continue
        chosen.append(row)
    return chosen


def collect(ecs: Any, config: EcsConfig) -> list[TaskRow]:
    families = {family_of(view.task_definition) if view.task_definition else None for view in config.launch_views()}
    if None in families:  # a template names the task definition: look at the whole cluster
        families = {None}
    arns = list(
        dict.fromkeys(
            arn
            for family in sorted(families, key=str)
            for status in ("RUNNING", "STOPPED")
            for arn in ecs_api.list_task_arns(ecs, config.cluster, family, status)
        )
    )
    rows: list[TaskRow] = []
    for batch in ecs_api.chunks(arns, ecs_api.DESCRIBE_BATCH):
        for task in ecs.describe_tasks(cluster=config.cluster, tasks=batch, include=["TAGS"]).get("tasks") or []:
            row = row_of(task, container_name_of(task, config.container_name))
            if row is not None:
                rows.append(row)
    return sorted(rows, key=lambda r: (r.dag_id, r.run_id, r.task_id, r.map_index, r.try_number))


def collect_or_say(command: str, ecs: Any, config: EcsConfig) -> list[TaskRow] | None:
    """``collect``; None, after one line on stderr, when ECS could not be asked (``command`` then exits 1)."""
    try:
        return collect(ecs, config)
    except Exception as error:  # noqa: BLE001 - one line, whatever boto3 raised
        from airflow_ecs.core.failures import classify_error

        print(
            f"airflow-ecs {command}: cannot list the tasks of cluster {config.cluster}: "
            f"{classify_error(error).describe()}",
            file=sys.stderr,
        )
        return None


def render_table(rows: Iterable[TaskRow], title: str) -> None:
    print_task_table(title, ("exit", "stop code / reason"), ((row, stop_cells(row)) for row in rows))


def stop_cells(row: TaskRow) -> tuple[str, str]:
    """The exit code (empty while the container has none) and ECS's stop code with the diagnosis."""
    exit_code = "" if row.exit_code is None else str(row.exit_code)
    return exit_code, " ".join(part for part in (row.stop_code, row.reason) if part)


def add_arguments(parser: argparse.ArgumentParser, command_name: str) -> None:
    add_flags(parser, shared_flags(command_name))


def run(args: argparse.Namespace) -> int:
    """Exit 0 with the table (possibly empty), 1 when AWS could not be asked, 2 on bad config."""
    from airflow_ecs.glue.startup import load_cli_config

    since = parse_since(args.since, datetime.datetime.now(datetime.timezone.utc)) if args.since else None
    config = load_cli_config(args.config)
    ecs = ecs_api.client_factory(config)("ecs")
    rows = collect_or_say("status", ecs, config)
    if rows is None:
        return 1
    rows = select(rows, dag_id=args.dag, state=args.state, since=since)
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    else:
        render_table(rows, f"ECS tasks of cluster {config.cluster} ({len(rows)}, running and recently stopped)")
    return 0
