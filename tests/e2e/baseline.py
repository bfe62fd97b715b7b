"""The baseline for tests/e2e/test_workloads.py: the workloads DAGs and a connection test on Airflow's own
LocalExecutor, through the same harness. ``python -m tests.e2e.baseline [WORK_DIR]`` prints the end states
as JSON; tests/e2e/test_airflow_e2e.py holds our executor to them (re-run it when the Airflow version changes).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from devtools.airflow_stack import AirflowStack
from tests.e2e.workloads import (
    DEADLINE,
    SENSORS,
    enqueue_connection_test,
    task_end_states,
    wait_for_callbacks,
    wait_for_connection_test,
)

DAGS = Path(__file__).parent / "dags"


def baseline(work: Path) -> dict:
    stack = AirflowStack(
        home=work / "airflow", dags_folder=DAGS, extra_env={"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}
    )
    started = time.monotonic()
    try:
        stack.start()
        for dag_id in (SENSORS, DEADLINE):
            stack.wait_for_dag(dag_id)
            stack.trigger(dag_id, "baseline")
        token = enqueue_connection_test(stack, "e2e_fs", "/")
        runs = {dag_id: stack.wait_for_run(dag_id, "baseline", timeout=300) for dag_id in (SENSORS, DEADLINE)}
        callbacks = wait_for_callbacks(stack, DEADLINE, "baseline")
        connection_test = wait_for_connection_test(stack, token)
        markers = sorted(p.name for p in stack.home.glob("deadline-missed-*"))
        tasks = {
            dag_id: {
                name: {k: v for k, v in row.items() if k != "id"}
                for name, row in task_end_states(stack, dag_id, "baseline").items()
            }
            for dag_id in (SENSORS, DEADLINE)
        }
        return {
            "executor": "LocalExecutor",
            "airflow": stack.airflow("version").strip(),
            "seconds": round(time.monotonic() - started),
            "runs": runs,
            "tasks": tasks,
            "callbacks": [{k: v for k, v in c.items() if k != "id"} for c in callbacks],
            "callback_markers": markers,
            "connection_test": connection_test,
        }
    finally:
        stack.stop()


if __name__ == "__main__":
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="e2e-baseline-"))
    print(json.dumps(baseline(work), indent=2))
