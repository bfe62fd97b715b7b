"""Two schedulers share one cluster and one events queue; one is killed with SIGKILL halfway.

Every task must end once, in the right state, with one ECS task per task instance try (counted in the
local ECS), the survivor adopting what the dead one launched.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from airflow_ecs.airflow_stack import AirflowStack
from airflow_ecs.demo import config_env
from airflow_ecs.local.server import LocalEcs

pytestmark = pytest.mark.e2e
DAGS = Path(__file__).parent / "dags"


def test_fifty_tasks_two_schedulers_one_killed_halfway(tmp_path):
    stack = AirflowStack(home=tmp_path / "airflow", dags_folder=DAGS)
    task_env = {"AIRFLOW_HOME": str(tmp_path / "task-home"), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    with LocalEcs(execution_api_server_url=stack.execution_api_url, task_environment=task_env,
                  start_delay=0.2, max_concurrent=10, stop_timeout=5) as local:
        env = config_env(local.outputs, tmp_path / "config")
        env.update({"AIRFLOW__ECS_FARGATE__ENDPOINT_URL": local.endpoint_url, "AWS_ACCESS_KEY_ID": "local",
                    "AWS_SECRET_ACCESS_KEY": "local", "AIRFLOW__ECS_FARGATE__RECONCILE_INTERVAL": "10"})
        assert env["AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL"]  # both schedulers consume the same queue
        stack.extra_env = env
        stack.start()
        stack.start_component("scheduler-2", "scheduler")
        try:
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
            assert re.search(r"Adopted \d+ ECS tasks from a previous scheduler", survivor)
        finally:
            stack.stop()
