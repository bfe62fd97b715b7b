"""`airflow-ecs orphans`: which ECS tasks no task instance owns (pure), and listing/stopping them on moto."""

from __future__ import annotations

import json

import pytest

from airflow_ecs.cli import main
from airflow_ecs.cli.orphans import TiState, find_orphans, orphan_reason
from airflow_ecs.cli.task_status import TaskRow
from tests.executor_harness import launch_one, moto_task, started


def row(try_number: int = 2, status: str = "RUNNING", task_id: str = "load") -> TaskRow:
    return TaskRow(
        "etl",
        task_id,
        "manual__1",
        -1,
        try_number,
        "abc",
        status,
        None,
        "",
        "",
        task_arn=f"arn:aws:ecs:us-east-1:123456789012:task/c/{task_id}",
    )


@pytest.mark.parametrize(
    ("ti", "reason"),
    [
        (None, "no such task instance in Airflow"),
        (TiState(3, "running"), "Airflow's task instance is on try 3, this is try 2"),
        (TiState(2, "success"), "its task instance is success"),
        (TiState(2, "failed"), "its task instance is failed"),
        (TiState(2, "up_for_retry"), "its task instance is up_for_retry"),
        (TiState(2, None), "its task instance is none"),
        (TiState(2, "queued"), None),
        (TiState(2, "running"), None),
        (TiState(2, "scheduled"), None),
        (TiState(2, "deferred"), None),
        (TiState(2, "restarting"), None),
        (TiState(2, "up_for_reschedule"), None),
    ],
)
def test_an_ecs_task_is_owned_only_by_its_try_while_that_may_still_run(ti, reason):
    assert orphan_reason(row(), ti) == reason


def test_tasks_already_stopping_are_not_orphans_to_stop():
    rows = [
        row(status=status, task_id=status.lower())
        for status in ("PROVISIONING", "PENDING", "RUNNING", "STOPPING", "DEPROVISIONING", "STOPPED")
    ]
    assert [found.task_id for found, _ in find_orphans(rows, {})] == ["provisioning", "pending", "running"]


def test_orphans_lists_by_default_and_stops_only_with_yes(ecs_env, capsys, monkeypatch):
    executor = started()
    _, owned_arn = launch_one(executor, task_id="owned")
    _, orphan_arn = launch_one(executor, task_id="superseded")
    for arn in (owned_arn, orphan_arn):
        moto_task(arn).status = "RUNNING"
    # Airflow's database, as the scheduler sees it: "superseded" went on to try 2 (no database in unit tests).
    seen = {}

    def task_instances(keys):
        seen["keys"] = sorted(keys)
        return {
            ("demo", "owned", "manual__1", -1): TiState(1, "running"),
            ("demo", "superseded", "manual__1", -1): TiState(2, "queued"),
        }

    monkeypatch.setattr("airflow_ecs.cli.orphans.task_instances", task_instances)
    capsys.readouterr()

    assert main(["orphans", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(o["task_id"], o["task_arn"], o["orphan_reason"], o["stopped"]) for o in listed] == [
        ("superseded", orphan_arn, "Airflow's task instance is on try 2, this is try 1", False)
    ]
    assert seen["keys"] == [("demo", "owned", "manual__1", -1), ("demo", "superseded", "manual__1", -1)]
    assert moto_task(orphan_arn).desired_status == "RUNNING"  # a dry run stops nothing

    assert main(["orphans", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "1 stopped" in out and "superseded" in out
    assert moto_task(orphan_arn).desired_status == "STOPPED"
    assert moto_task(orphan_arn).stopped_reason.startswith("airflow-ecs orphans: no Airflow task instance owns it")
    assert moto_task(owned_arn).desired_status == "RUNNING"
    executor.terminate()


def test_orphans_without_airflows_database_is_one_line_and_stops_nothing(ecs_env, capsys, monkeypatch):
    def no_database(keys):
        raise RuntimeError("no such table: task_instance\n(Background on this error at: https://sqlalche.me/e/20/e3q8)")

    monkeypatch.setattr("airflow_ecs.cli.orphans.task_instances", no_database)
    executor = started()
    launch_one(executor, task_id="owned")
    capsys.readouterr()
    assert main(["orphans", "--yes"]) == 1
    assert capsys.readouterr().err == (
        "airflow-ecs orphans: cannot read Airflow's task instances (RuntimeError: no such table: task_instance "
        "(Background on this error at: https://sqlalche.me/e/20/e3q8)); run it where the scheduler's [database] "
        "config is\n"
    )
    executor.terminate()
