"""The chaos suite's DAG: 20 task instances per run, each with a known right final state.

Whatever the fault layer and the harness do to a try (a throttled launch, a lost event, a Spot interruption,
a killed container, a scheduler killed mid-run), ``work`` and ``flaky`` must end in success through Airflow's
retries, and ``doomed`` and ``crashes`` must end failed: never lost, never stuck, never run twice at once.
"""

from __future__ import annotations

import datetime
import time

from airflow.sdk import dag, get_current_context, task

CONTAINER = "airflow-worker"
WORK_TASKS = 17
RETRY = {"retries": 3, "retry_delay": datetime.timedelta(seconds=1)}


@dag(schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False, max_active_runs=64,
     max_active_tasks=32)
def ecs_chaos():
    @task(**RETRY)
    def work(index: int):
        time.sleep(0.5 + (index * 7 % 5) * 0.5)  # 0.5 to 2.5 s: long enough to be interrupted while running
        print(f"work {index} try {get_current_context()['ti'].try_number} done", flush=True)

    @task(**RETRY)
    def flaky():
        if get_current_context()["ti"].try_number == 1:
            raise RuntimeError("flaky fails its first try on purpose")

    @task(retries=0)
    def doomed():
        raise RuntimeError("doomed fails on purpose")

    # The container exits 3 before Airflow's task runner starts: a crashing image.
    @task(retries=0, executor_config={"overrides": {"containerOverrides": [
        {"name": CONTAINER, "command": ["python", "-c", "import sys; print('crashing'); sys.exit(3)"]}]}})
    def crashes():
        pass

    work.expand(index=list(range(WORK_TASKS)))
    flaky()
    doomed()
    crashes()


ecs_chaos()

# The right final state of each task (read by the harness, which does not import Airflow).
EXPECTED_STATES = {"work": "success", "flaky": "success", "doomed": "failed", "crashes": "failed"}
