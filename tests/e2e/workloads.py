"""Reading back what the workloads DAGs (dags/ecs_e2e_workloads.py) and a queued connection test ended as,
from Airflow's database: the same reader for the LocalExecutor baseline and for the tests on our executor."""

from __future__ import annotations

import json
import time
from typing import Any

from devtools.airflow_stack import AirflowStack

SENSORS = "ecs_e2e_sensors"
DEADLINE = "ecs_e2e_deadline"


def uuid_hex(value: Any) -> str:
    """A UUID as SQLite (32 hex digits), PostgreSQL (dashed) or ECS's startedBy give it, in one form."""
    return str(value or "").replace("-", "").lower()


def task_end_states(stack: AirflowStack, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    """Each task instance's state, try number and reschedules (pokes that said "not yet")."""
    rows = stack.query(
        "SELECT ti.id, ti.task_id, ti.map_index, ti.state, ti.try_number, "
        "(SELECT COUNT(*) FROM task_reschedule tr WHERE tr.ti_id = ti.id) "
        "FROM task_instance ti WHERE ti.dag_id = ? AND ti.run_id = ?",
        (dag_id, run_id),
    )
    return {
        (task_id if map_index < 0 else f"{task_id}[{map_index}]"): {
            "id": uuid_hex(ti_id),
            "state": state,
            "try_number": try_number,
            "reschedules": reschedules,
        }
        for ti_id, task_id, map_index, state, try_number, reschedules in rows
    }


def deadline_callbacks(stack: AirflowStack, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The run's deadlines: whether each was missed, and its callback's id, state and output."""
    rows = stack.query(
        "SELECT d.missed, c.id, c.state, c.output FROM deadline d JOIN dag_run r ON r.id = d.dagrun_id "
        "LEFT JOIN callback c ON c.id = d.callback_id WHERE r.dag_id = ? AND r.run_id = ? ORDER BY d.deadline_time",
        (dag_id, run_id),
    )
    return [
        {"missed": bool(missed), "id": uuid_hex(callback_id), "state": state, "output": output}
        for missed, callback_id, state, output in rows
    ]


def wait_for_callbacks(stack: AirflowStack, dag_id: str, run_id: str, timeout: float = 120) -> list[dict[str, Any]]:
    """The run's deadline callbacks once every one is missed and has ended (success or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        stack.check_alive()
        callbacks = deadline_callbacks(stack, dag_id, run_id)
        if callbacks and all(c["missed"] and c["state"] in ("success", "failed") for c in callbacks):
            return callbacks
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the deadline callbacks of {dag_id}/{run_id} did not end within {timeout:g}s: {callbacks}"
            )
        time.sleep(1)


def enqueue_connection_test(stack: AirflowStack, connection_id: str, path: str) -> str:
    """Queue a test of a filesystem connection to ``path`` (run where the executor runs work); its token."""
    answer = stack.api(
        "POST",
        "connections/enqueue-test",
        {"connection_id": connection_id, "conn_type": "fs", "extra": f'{{"path": "{path}"}}'},
    )
    return answer["token"]


def wait_for_connection_test(stack: AirflowStack, token: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack.check_alive()
        answer = stack.api("GET", "connections/enqueue-test", headers={"Airflow-Connection-Test-Token": token})
        if answer["state"] in ("success", "failed"):
            return {"state": answer["state"], "result_message": answer["result_message"]}
        if time.monotonic() > deadline:
            raise TimeoutError(f"the connection test did not end within {timeout:g}s: {answer}")
        time.sleep(1)


def workload_of(task: Any) -> dict[str, Any] | None:
    """The workload a local ECS task ran, from its command; None for a command override (no workload in it)."""
    command = list(task.command or [])
    if "--json-string" not in command:
        return None
    return json.loads(command[command.index("--json-string") + 1])


def launches_by_workload(runtime: Any) -> dict[str, int]:
    """How many ECS tasks the local ECS started for each workload, by the id in the command it ran: the task
    instance's id (every attempt of a try carries the same), the callback's id or the connection test's id."""
    counts: dict[str, int] = {}
    for task in list(runtime.tasks.values()):
        workload = workload_of(task)
        if workload is None:
            continue  # a command override (the crashing image)
        kind = workload.get("type")
        if kind == "ExecuteTask":
            key = workload["ti"]["id"]
        elif kind == "ExecuteCallback":
            key = workload["callback"]["id"]
        else:
            key = workload.get("connection_test_id", "")
        counts[uuid_hex(key)] = counts.get(uuid_hex(key), 0) + 1
    return counts
