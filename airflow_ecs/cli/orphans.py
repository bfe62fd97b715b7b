"""``airflow-ecs orphans``: ECS tasks of this deployment that no Airflow task instance owns, stopped on ``--yes``.

An ECS task is owned when Airflow's task instance with its ``airflow:*`` tags (DAG, task, run, map index) is on
the same try and in a state where a worker may still be at work. Anything else (the try was superseded, the
task instance finished or is gone, e.g. a scheduler died between RunTask and recording it) only costs money.
``orphan_reason`` decides, with no I/O; listing ECS and reading Airflow's database are thin adapters.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from airflow_ecs.aws import ecs_api
from airflow_ecs.cli import add_flags, print_task_table, shared_flags
from airflow_ecs.cli.task_status import TaskRow, collect_or_say

# Task instance states in which its ECS task may rightly be running (queued: launched, not yet reported).
OWNING_STATES = frozenset({"queued", "scheduled", "running", "restarting", "deferred", "up_for_reschedule"})
# ECS statuses of a task that still runs or will; a task already stopping is nobody's to stop.
LIVE_STATUSES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"})
STOP_REASON = "airflow-ecs orphans: no Airflow task instance owns it"

TiKey = tuple[str, str, str, int]


@dataclass(frozen=True)
class TiState:
    try_number: int
    state: str | None


def key_of(row: TaskRow) -> TiKey:
    return (row.dag_id, row.task_id, row.run_id, row.map_index)


def orphan_reason(row: TaskRow, ti: TiState | None) -> str | None:
    """Why no task instance owns this ECS task, or None when one does."""
    if ti is None:
        return "no such task instance in Airflow"
    if ti.try_number != row.try_number:
        return f"Airflow's task instance is on try {ti.try_number}, this is try {row.try_number}"
    if (ti.state or "none") not in OWNING_STATES:
        return f"its task instance is {ti.state or 'none'}"
    return None


def find_orphans(rows: Iterable[TaskRow], tis: Mapping[TiKey, TiState]) -> list[tuple[TaskRow, str]]:
    found = []
    for row in rows:
        if row.last_status not in LIVE_STATUSES:
            continue
        reason = orphan_reason(row, tis.get(key_of(row)))
        if reason is not None:
            found.append((row, reason))
    return found


def task_instances(keys: Iterable[TiKey]) -> dict[TiKey, TiState]:
    """The task instances with these keys, from Airflow's database (the one the scheduler uses)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    wanted = set(keys)
    if not wanted:
        return {}
    found: dict[TiKey, TiState] = {}
    with create_session() as session:
        query = session.query(
            TaskInstance.dag_id,
            TaskInstance.task_id,
            TaskInstance.run_id,
            TaskInstance.map_index,
            TaskInstance.try_number,
            TaskInstance.state,
        ).filter(
            TaskInstance.dag_id.in_({key[0] for key in wanted}), TaskInstance.run_id.in_({key[2] for key in wanted})
        )
        for dag_id, task_id, run_id, map_index, try_number, state in query:
            key = (dag_id, task_id, run_id, map_index)
            if key in wanted:
                found[key] = TiState(
                    int(try_number or 0),
                    str(state.value if hasattr(state, "value") else state) if state is not None else None,
                )
    return found


def add_arguments(parser: argparse.ArgumentParser, command_name: str) -> None:
    add_flags(parser, shared_flags(command_name))


def run(args: argparse.Namespace) -> int:
    """Exit 0 when listed (or all stopped), 1 when AWS or Airflow's database could not be asked or a stop
    failed, 2 on bad config."""
    from airflow_ecs.core.failures import classify_error
    from airflow_ecs.glue.startup import load_cli_config

    config = load_cli_config(args.config)
    ecs = ecs_api.client_factory(config)("ecs")
    listed = collect_or_say("orphans", ecs, config)
    if listed is None:
        return 1
    rows = [row for row in listed if row.last_status in LIVE_STATUSES]
    try:
        tis = task_instances(key_of(row) for row in rows)
    except Exception as error:  # noqa: BLE001 - no database here: say so, stop nothing
        print(
            f"airflow-ecs orphans: cannot read Airflow's task instances ({type(error).__name__}: "
            f"{' '.join(str(error).split())[:300]}); run it where the scheduler's [database] config is",
            file=sys.stderr,
        )
        return 1
    orphans = find_orphans(rows, tis)
    stopped, failures = [], []
    if args.yes:
        for row, reason in orphans:
            try:
                ecs.stop_task(cluster=config.cluster, task=row.task_arn, reason=f"{STOP_REASON}: {reason}"[:255])
                stopped.append(row.task_arn)
            except Exception as error:  # noqa: BLE001 - the others are still stopped
                failures.append(f"{row.task_arn}: {classify_error(error).describe()}")
    if args.json:
        print(
            json.dumps(
                [
                    {**asdict(row), "orphan_reason": reason, "stopped": row.task_arn in stopped}
                    for row, reason in orphans
                ],
                indent=2,
            )
        )
    else:
        print_orphans(orphans, config.cluster, stopped=bool(args.yes))
    for failure in failures:
        print(f"airflow-ecs orphans: could not stop {failure}", file=sys.stderr)
    return 1 if failures else 0


def print_orphans(orphans: list[tuple[TaskRow, str]], cluster: str, *, stopped: bool) -> None:
    verb = "stopped" if stopped else "found (dry run: --yes stops them)"
    title = f"Orphaned ECS tasks of cluster {cluster}: {len(orphans)} {verb}"
    print_task_table(title, ("why",), ((row, (reason,)) for row, reason in orphans))
