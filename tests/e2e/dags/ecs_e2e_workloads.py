"""DAGs for every kind of work Airflow 3.3 hands the executor beyond one plain try of one task.

- ``ecs_e2e_sensors``: a sensor in reschedule mode (each poke its own attempt under the same key and try), a
  task that defers and resumes on a worker (two attempts), a sensor whose deferral ends in the triggerer (one
  attempt), and dynamic task mapping over an upstream task's output.
- ``ecs_e2e_deadline``: two DAG-run deadlines that pass while its task runs: the scheduler hands the
  executor an ``ExecuteCallback`` for each, one that succeeds and one that raises (deadline_callbacks.py).

Their right end states are those Airflow's LocalExecutor gives them (tests/e2e/test_workloads.py).
"""

from __future__ import annotations

import datetime
import time

from airflow.providers.standard.sensors.time_delta import WaitSensor
from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseOperator, DeadlineAlert, DeadlineReference, SyncCallback, dag, get_current_context, task

# Pokes of the reschedule sensor: two say "not yet" (each a new attempt), the third succeeds.
POKES = 3


class DefersOnce(BaseOperator):
    """Defers to a two-second trigger on its first attempt, then resumes on a worker: two attempts of one try."""

    def execute(self, context):
        print("deferring for 2 s", flush=True)
        self.defer(trigger=TimeDeltaTrigger(datetime.timedelta(seconds=2)), method_name="resume")

    def resume(self, context, event=None):
        print("resumed after the trigger fired", flush=True)
        return "resumed"


@dag(schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False)
def ecs_e2e_sensors():
    @task.sensor(poke_interval=1, timeout=300, mode="reschedule")
    def rescheduled() -> bool:
        count = get_current_context()["task_reschedule_count"]
        print(f"poke {count + 1} of {POKES}", flush=True)
        return count + 1 >= POKES

    DefersOnce(task_id="deferred")
    # end_from_trigger: the triggerer marks it done, nothing is queued to the executor again.
    WaitSensor(task_id="waits_in_triggerer", time_to_wait=datetime.timedelta(seconds=2), deferrable=True)

    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @task
    def square(x: int) -> int:
        return x * x

    @task
    def total(values) -> int:
        result = sum(values)
        if result != 14:
            raise ValueError(f"the mapped squares add up to {result}, not 14")
        return result

    rescheduled()
    total(square.expand(x=numbers()))


ecs_e2e_sensors()


@dag(
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    deadline=[
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=datetime.timedelta(seconds=1),
            callback=SyncCallback("deadline_callbacks.deadline_missed", kwargs={"note": "e2e"}),
        ),
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=datetime.timedelta(seconds=2),
            callback=SyncCallback("deadline_callbacks.deadline_missed_and_fails"),
        ),
    ],
)
def ecs_e2e_deadline():
    @task
    def outlives_its_deadline():
        time.sleep(10)  # the run's one-second deadline passes while this runs

    outlives_its_deadline()


ecs_e2e_deadline()
