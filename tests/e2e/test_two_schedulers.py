"""Two schedulers share one cluster, each on its own events queue; one is killed with SIGKILL halfway.

Every task must end once, in the right state, with one ECS task per task instance try (counted in the
local ECS), the survivor adopting what the dead one launched and learning their ends from its own queue (the
rule sends every event to both queues). Airflow runs several schedulers only on a
database with row locks, so this one runs on a throwaway PostgreSQL server; on SQLite both schedulers now
and then queue the same try.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from devtools.local_deployment import local_deployment
from tests.postgres_server import postgres_server

pytestmark = pytest.mark.e2e
DAGS = Path(__file__).parent / "dags"


@pytest.fixture
def postgres_url():
    with postgres_server() as url:
        yield url


def test_fifty_tasks_two_schedulers_one_killed_halfway(tmp_path, postgres_url):
    env = {"AIRFLOW__ECS_FARGATE__RECONCILE_INTERVAL": "10"}
    with local_deployment(
        tmp_path, DAGS, env=env, start_delay=0.2, max_concurrent=10, database_url=postgres_url, schedulers=2
    ) as deployed:
        stack, local = deployed.stack, deployed.local
        assert stack.query("SELECT version()")[0][0].startswith("PostgreSQL")
        first_queue = deployed.env["AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL"]
        second_queue = deployed.scheduler_env[2]["AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL"]
        assert first_queue != second_queue and deployed.env["AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_EXCLUSIVE"] == "True"
        deployed.start_scheduler(2)
        stack.wait_for_dag("ecs_e2e_fifty")
        stack.trigger("ecs_e2e_fifty", "fifty")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = [row.state for row in stack.task_rows("ecs_e2e_fifty", "fifty")]
            if len(states) == 50 and states.count("success") >= 20:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the run did not get halfway: {states}")
        stack.kill_component("scheduler")  # SIGKILL: no end(), no goodbye
        assert stack.wait_for_run("ecs_e2e_fifty", "fifty", timeout=300) == "success"
        rows = stack.task_rows("ecs_e2e_fifty", "fifty")
        assert len(rows) == 50 and {row.state for row in rows} == {"success"}
        launches = local.runtime.launches_by_started_by
        # One ECS task per task instance try: no try was launched twice, by either scheduler.
        assert all(count == 1 for count in launches.values()), launches
        assert len(launches) == sum(row.try_number for row in rows)
        survivor = (stack.home / "scheduler-2.log").read_text(errors="replace")
        # The survivor took over what the dead one had in flight, and finished it.
        assert re.search(r"Adopted [1-9]\d* ECS tasks from a previous scheduler", survivor)
        # Each read its own queue, knowing it was its own (so it deletes what it does not track).
        killed = (stack.home / "scheduler.log").read_text(errors="replace")
        assert f"tracking by events queue {first_queue.rsplit('/', 1)[1]} (its own)" in killed
        assert f"tracking by events queue {second_queue.rsplit('/', 1)[1]} (its own)" in survivor
        # The survivor's queue drains: every event it received, its own, adopted or the dead one's, is deleted
        # at once, none handed back (nothing waits for a dead-letter queue).
        sqs = local.client("sqs")
        deadline = time.monotonic() + 30
        while (left := queue_depth(sqs, second_queue)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert left == 0, f"{left} events left in the survivor's queue"


def queue_depth(sqs, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)
