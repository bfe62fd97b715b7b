"""The chaos suite's DAG: 20 task instances per run, each with a known right final state.

Whatever the fault layer and the harness do to a try (a throttled launch, a lost event, a Spot interruption,
a killed container, a scheduler killed mid-run), ``work``, ``flaky``, the reschedule ``sensor`` and the
``deferred`` task must end in success through Airflow's retries, and ``doomed`` and ``crashes`` must end
failed: never lost, never stuck, never run twice at once. ``work`` is mapped over ``indices``' output
(dynamic task mapping), and every run misses its deadline: the executor runs a callback for each.
"""

from __future__ import annotations

import datetime
import time

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseOperator, DeadlineAlert, DeadlineReference, SyncCallback, dag, get_current_context, task

CONTAINER = "airflow-worker"
WORK_TASKS = 14
RETRY = {"retries": 3, "retry_delay": datetime.timedelta(seconds=1)}


class DefersOnce(BaseOperator):
    """Defers to a one-second trigger, then resumes on a worker: two attempts (ECS tasks) of one try."""

    def execute(self, context):
        self.defer(trigger=TimeDeltaTrigger(datetime.timedelta(seconds=1)), method_name="resume")

    def resume(self, context, event=None):
        print(f"deferred resumed, try {context['ti'].try_number}", flush=True)


@dag(
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=64,
    max_active_tasks=32,
    # Every run outlives it (its tasks take seconds): one ExecuteCallback per run, while the faults go on.
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=datetime.timedelta(seconds=1),
        callback=SyncCallback("chaos_callbacks.deadline_missed"),
    ),
)
def ecs_chaos():
    @task(**RETRY)
    def indices() -> list[int]:
        return list(range(WORK_TASKS))

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
    @task(
        retries=0,
        executor_config={
            "overrides": {
                "containerOverrides": [
                    {"name": CONTAINER, "command": ["python", "-c", "import sys; print('crashing'); sys.exit(3)"]}
                ]
            }
        },
    )
    def crashes():
        pass

    # Says "not yet" once per try (a new attempt, same key and try, one second later), then succeeds.
    @task.sensor(poke_interval=1, timeout=600, mode="reschedule", **RETRY)
    def sensor() -> bool:
        return get_current_context()["task_reschedule_count"] >= 1

    work.expand(index=indices())
    flaky()
    doomed()
    crashes()
    sensor()
    DefersOnce(task_id="deferred", **RETRY)


ecs_chaos()

# The right final state of each task (read by the harness, which does not import Airflow).
EXPECTED_STATES = {
    "indices": "success",
    "work": "success",
    "flaky": "success",
    "doomed": "failed",
    "crashes": "failed",
    "sensor": "success",
    "deferred": "success",
}
# Attempts a try may have besides its first, each its own ECS task: the sensor reschedules once per try, the
# deferred task resumes once.
EXTRA_ATTEMPTS = {"sensor": 1, "deferred": 1}
