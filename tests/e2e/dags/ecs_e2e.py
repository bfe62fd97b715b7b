"""DAGs for the end-to-end tests: each one a way a task can end on ECS."""

from __future__ import annotations

import datetime
import time

from airflow.sdk import dag, get_current_context, task

CONTAINER = "airflow-worker"


@dag(schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False)
def ecs_e2e_outcomes():
    @task
    def succeeds():
        print("e2e task output line")

    @task
    def fails():
        raise RuntimeError("fails on purpose")

    # The container itself exits 3 before Airflow's task runner starts: an infrastructure failure.
    @task(
        executor_config={
            "overrides": {
                "containerOverrides": [
                    {"name": CONTAINER, "command": ["python", "-c", "import sys; print('crashing'); sys.exit(3)"]}
                ]
            }
        }
    )
    def crashes():
        pass

    @task(executor_config={"cpu": 256, "memory": 512})
    def out_of_memory():
        hog = bytearray(900 * 2**20)  # more than the task's 512 MiB
        hog[::4096] = b"x" * len(hog[::4096])
        time.sleep(30)

    succeeds()
    fails()
    crashes()
    out_of_memory()


ecs_e2e_outcomes()


@dag(schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False)
def ecs_e2e_long():
    """Long on the first try (so the test can interrupt it, restart the scheduler, read its log), quick after."""

    @task(retries=1, retry_delay=datetime.timedelta(seconds=1))
    def long_task(index: int):
        try_number = get_current_context()["ti"].try_number
        print(f"long task {index} try {try_number} started", flush=True)
        if try_number == 1:
            time.sleep(25)
        print(f"long task {index} done", flush=True)

    long_task.expand(index=[0, 1, 2])


ecs_e2e_long()


@dag(schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False)
def ecs_e2e_clear():
    """Cleared by the test while its first try runs: that ECS task must stop and a second try run."""

    @task
    def cleared():
        try_number = get_current_context()["ti"].try_number
        print(f"cleared task try {try_number} started", flush=True)
        if try_number == 1:
            time.sleep(120)

    cleared()


ecs_e2e_clear()


@dag(schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False, max_active_tasks=50)
def ecs_e2e_fifty():
    """Fifty short tasks for two schedulers to share, one of them killed halfway."""

    @task
    def short(index: int):
        time.sleep(2)
        print(f"short task {index} done", flush=True)

    short.expand(index=list(range(50)))


ecs_e2e_fifty()
