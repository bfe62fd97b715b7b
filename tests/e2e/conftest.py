"""The fixtures of deployment_cases.py's tests: the local ECS, the Airflow deployed on it and the workloads
triggered at once, each set up once per test file, as that file's ``tracking`` and ``provision`` say."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_ecs.local.server import LocalEcs
from devtools.airflow_stack import free_port
from devtools.local_deployment import airflow_on, execution_api_url, task_settings
from tests.e2e.deployment_cases import DAGS, SECRET_KEY, TEAM
from tests.e2e.workloads import DEADLINE, SENSORS, enqueue_connection_test


@pytest.fixture(scope="module")
def applied(tmp_path_factory, provision):
    """The local ECS, once for the module, provisioned as the test file says: "auto" is terraform/ applied
    into it as `make apply` builds AWS, or, where Terraform or the AWS provider cannot be had, provision.py
    (test_the_deployment_is_what_terraform_applied then skips, saying why)."""
    work = tmp_path_factory.mktemp("e2e")
    api_port = free_port()  # every Airflow below listens here: the task definition's execution API URL
    task_env, _mounts = task_settings(work, DAGS, "process")
    with LocalEcs(
        execution_api_server_url=execution_api_url(api_port),
        task_environment=task_env,
        start_delay=0.3,
        max_concurrent=8,
        stop_timeout=5.0,
        provision=provision,
        terraform_work=work / "terraform",
        # A team's resources beside the deployment's, as a user adds one before Airflow runs multi-team: the
        # Airflows below are not multi-team and must not mind; the applied test reads the team's back.
        teams={TEAM: {"TEAM_MARK": "a"}},
    ) as local:
        yield SimpleNamespace(local=local, work=work, api_port=api_port)


@pytest.fixture(scope="module")
def deployment(tracking, applied):
    """The whole deployment, tracking tasks by the events queue ("events") or by DescribeTasks polling."""
    env = {"AIRFLOW__ECS_FARGATE__POLL_INTERVAL": "1"}
    if tracking == "polling":
        env["AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL"] = None
    with airflow_on(
        applied.local,
        applied.work,
        DAGS,
        api_port=applied.api_port,
        env=env,
        secret_key=SECRET_KEY,
        home=applied.work / f"airflow-{tracking}",
    ) as deployed:
        queue_url = deployed.env.get("AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL")
        assert queue_url == (None if tracking == "polling" else deployed.local.outputs["events_queue_url"]["value"])
        yield SimpleNamespace(stack=deployed.stack, local=deployed.local, env=deployed.env, tracking=tracking)


@pytest.fixture(scope="module")
def workloads(deployment):
    """Both workloads DAGs triggered and a connection test queued at once, so the three tests' waits overlap."""
    stack = deployment.stack
    for dag_id in (SENSORS, DEADLINE):
        stack.wait_for_dag(dag_id)
        stack.trigger(dag_id, "workloads")
    return SimpleNamespace(connection_test_token=enqueue_connection_test(stack, "e2e_fs", "/"))
