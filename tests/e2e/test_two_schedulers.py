"""Two schedulers share one cluster and one events queue; one is killed with SIGKILL halfway.

Every task must end once, in the right state, with one ECS task per task instance try (counted in the
local ECS), the survivor adopting what the dead one launched. Airflow runs several schedulers only on a
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
        tmp_path, DAGS, env=env, start_delay=0.2, max_concurrent=10, database_url=postgres_url
    ) as deployed:
        stack, local = deployed.stack, deployed.local
        assert stack.query("SELECT version()")[0][0].startswith("PostgreSQL")
        assert deployed.env["AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL"]  # both schedulers consume the same queue
        stack.start_component("scheduler-2", "scheduler")
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
