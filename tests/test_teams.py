"""Multi-team Airflow (AIP-67): a team's executor reads its team's [ecs_fargate], against moto's server.

A team's settings are ``AIRFLOW__<TEAM>___ECS_FARGATE__*`` (or ``[<team>=ecs_fargate]`` in airflow.cfg) and
nothing falls back to the global section, so these tests point the global section at a cluster that does not
exist: an executor that read it would not start.
"""

from __future__ import annotations

import json

import pytest

from airflow_ecs.executor import EcsFargateExecutor, ExecutorStartError
from airflow_ecs.glue.airflow_compat import AIRFLOW_RELEASE
from airflow_ecs.glue.metrics import Metrics
from devtools import aws_fixtures as aws
from tests.executor_harness import launch_one

pytestmark = pytest.mark.skipif(AIRFLOW_RELEASE < (3, 3), reason="team-scoped configuration is Airflow 3.3's")


@pytest.fixture
def team_a(ecs_env, monkeypatch):
    """The global section names a missing cluster; team_a's names the real one."""
    ecs_env.configure(cluster="no-such-cluster")
    for key, value in aws.env_for(ecs_env.url, ecs_env.resources, poll_interval="0.001").items():
        monkeypatch.setenv(key.replace("AIRFLOW__", "AIRFLOW__TEAM_A___", 1), value)
    return ecs_env


def sent_requests(executor: EcsFargateExecutor) -> list[dict]:
    sent: list[dict] = []
    executor._ecs_launch.meta.events.register(
        "before-send.ecs.RunTask", lambda request, **_: sent.append(json.loads(request.body))
    )
    return sent


def test_the_executor_claims_multi_team_support():
    # Airflow 3.3 refuses to load an executor for a team unless it says so.
    assert EcsFargateExecutor.supports_multi_team is True


def test_a_teams_executor_runs_on_its_teams_cluster_and_tags_its_tasks(team_a):
    executor = EcsFargateExecutor(team_name="team_a")
    executor.start()
    assert executor.ecs_config.cluster == aws.CLUSTER
    sent = sent_requests(executor)
    launch_one(executor)
    tags = {tag["key"]: tag["value"] for tag in sent[0]["tags"]}
    assert tags["airflow:team"] == "team_a"
    executor.terminate()


def test_the_executor_outside_teams_adds_no_team_tag(ecs_env):
    executor = EcsFargateExecutor()
    executor.start()
    sent = sent_requests(executor)
    launch_one(executor)
    assert "airflow:team" not in {tag["key"] for tag in sent[0]["tags"]}
    executor.terminate()


def test_an_unknown_key_in_the_teams_section_is_refused(team_a, monkeypatch):
    monkeypatch.setenv("AIRFLOW__TEAM_A___ECS_FARGATE__SUBNET", "subnet-0a1b2c3d")  # a typo of subnets
    with pytest.raises(
        ExecutorStartError,
        match=r"\[ecs_fargate\] subnet = \(value not shown\): not a key .*did "
        r"you mean subnets\?",
    ):
        EcsFargateExecutor(team_name="team_a").start()


def test_the_teams_execution_api_url_reaches_its_containers_when_the_section_names_none(team_a, monkeypatch):
    monkeypatch.setenv("AIRFLOW__TEAM_A___CORE__EXECUTION_API_SERVER_URL", "http://team-a-api:8080/execution/")
    executor = EcsFargateExecutor(team_name="team_a")
    executor.start()
    sent = sent_requests(executor)
    launch_one(executor)
    [container] = sent[0]["overrides"]["containerOverrides"]
    assert {
        "name": "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "value": "http://team-a-api:8080/execution/",
    } in container["environment"]
    executor.terminate()


class Backend:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def incr(self, *args, **kwargs):
        self.calls.append(("incr", args, kwargs))

    def gauge(self, *args, **kwargs):
        self.calls.append(("gauge", args, kwargs))

    def timing(self, *args, **kwargs):
        self.calls.append(("timing", args, kwargs))


def test_a_teams_metrics_carry_the_team_tag_and_others_none():
    tagged, plain = Backend(), Backend()
    for metrics in (Metrics(tagged, team="team_a"), Metrics(plain)):
        metrics.incr("run_task.launched")
        metrics.gauge("tasks.running", 3)
        metrics.timing("adopt_task_instances.duration", 0.5)
    assert [kwargs for _, _, kwargs in tagged.calls] == [{"tags": {"team": "team_a"}}] * 3
    assert [kwargs for _, _, kwargs in plain.calls] == [{}] * 3


def test_airflow_reads_the_rendered_team_mapping_and_each_teams_section(monkeypatch):
    """What `airflow-ecs render` writes for Terraform's teams output, read by Airflow 3.3's own executor loader
    and team-scoped config: a global executor and one per team, each team's section its own."""
    from pathlib import Path

    from airflow.executors.executor_loader import ExecutorLoader

    from airflow_ecs.deploy.generator import read_env_file, render_files
    from airflow_ecs.deploy.terraform_outputs import parse_outputs
    from airflow_ecs.glue.airflow_compat import config_section

    outputs = json.loads((Path(__file__).parent / "fixtures" / "outputs" / "teams.json").read_text())
    env = read_env_file(
        render_files(parse_outputs(outputs), "/opt/airflow/run_task_template.json.j2")["airflow_ecs.env"]
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    path = "airflow_ecs.executor.EcsFargateExecutor"
    assert ExecutorLoader._get_team_executor_configs(validate_teams=False) == [
        (None, [path]),
        ("team_a", [path]),
        ("team_b", [path]),
    ]
    assert config_section("ecs_fargate", "team_a")["task_definition"] == "airflow-queues-team-a-worker"
    assert config_section("ecs_fargate", "team_b")["events_queue_url"].endswith("/airflow-queues-team-b-task-events")
    assert config_section("ecs_fargate")["task_definition"] == "airflow-queues-worker"


def test_a_teams_executor_signs_with_the_teams_connection_not_the_global_one(team_a, monkeypatch):
    # Airflow 3.3's team-scoped connection, AIRFLOW_CONN__<TEAM>___<CONN_ID>, beside a global one of the same id.
    monkeypatch.setenv("AIRFLOW__CORE__MULTI_TEAM", "True")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_ECS", json.dumps({"conn_type": "aws", "login": "AKIDGLOBAL", "password": "g"}))
    monkeypatch.setenv(
        "AIRFLOW_CONN__TEAM_A___AWS_ECS", json.dumps({"conn_type": "aws", "login": "AKIDTEAMA", "password": "a"})
    )
    monkeypatch.setenv("AIRFLOW__TEAM_A___ECS_FARGATE__AWS_CONN_ID", "aws_ecs")
    executor = EcsFargateExecutor(team_name="team_a")
    executor.start()
    keys: list[str] = []
    executor._ecs_launch.meta.events.register(
        "before-send.ecs.RunTask",
        lambda request, **_: keys.append(
            request.headers["Authorization"].decode().split("Credential=")[1].split("/")[0]
        ),
    )
    launch_one(executor)
    assert keys == ["AKIDTEAMA"]
    executor.terminate()
