"""Queue profiles: a task's queue picks its task definition, container, capacity and size; executor_config
refines it. The parsing is pure; the launches go to moto's server."""

from __future__ import annotations

import json

import pytest
from airflow.utils.state import TaskInstanceState

from airflow_ecs.core.config import ConfigError, EcsConfig, Profile, parse_profiles
from airflow_ecs.executor import EcsFargateExecutor, ExecutorStartError
from devtools.aws_fixtures import REGION, client
from tests.executor_harness import (
    heartbeat_until,
    make_workload,
    moto_task,
    queue_all,
    queued_arns,
    started,
    stop_in_moto,
)

HEAVY = {
    "queues": ["heavy"],
    "task_definition": "airflow-heavy",
    "container_name": "heavy-worker",
    "cpu": 1024,
    "memory": 2048,
    "tags": {"team": "etl"},
}
SPOT = {"queues": ["spot"], "capacity_provider_strategy": "FARGATE_SPOT:1"}


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ('{"a": {"queues": ["x"], "cpu": 256, "nope": 1}}', "profile 'a', field 'nope': unknown field"),
        ('{"a": {"queues": ["x"]}, "b": {"queues": ["x"]}}', "queue 'x' is in profiles 'a' and 'b'"),
        ('{"a": {"launch_type": "LAMBDA"}}', "profile 'a', field 'launch_type': expected one of FARGATE"),
        ('{"a": {"launch_type": "FARGATE", "capacity_provider_strategy": "FARGATE_SPOT:1"}}', "mutually exclusive"),
        ('{"a": {"tags": {"airflow:dag_id": "x"}}}', "field 'tags': tag 'airflow:dag_id'"),
        ('{"a": {"cpu": "lots"}}', "field 'cpu': expected a positive whole number"),
        ('{"a": {"queues": "heavy"}}', "field 'queues': expected a list"),
        ('{"a": {"subnets": ["vpc-1"]}}', "field 'subnets': expected ids starting with subnet-"),
        ('["a"]', "expected a JSON object of profile name -> settings"),
        ('{"a": ', "not valid JSON"),
    ],
)
def test_each_bad_profile_is_one_error_naming_profile_and_field(profiles, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        parse_profiles(profiles)
    assert str(caught.value).startswith("[ecs_fargate] profiles = ")


def test_a_queue_picks_its_profile_else_the_default_one_else_the_section():
    base = EcsConfig(region=REGION, cluster="c", container_name="airflow-worker", task_definition="airflow-worker")
    config = base.__class__(**{**base.__dict__, "profiles": parse_profiles(json.dumps({"heavy": HEAVY}))})
    heavy = config.profile_for_queue("heavy")
    assert heavy is not None and heavy.name == "heavy"
    assert config.profile_for_queue("default") is None
    view = config.for_profile(heavy)
    assert (view.task_definition, view.container_name, view.launch_type) == ("airflow-heavy", "heavy-worker", "FARGATE")
    with_default = base.__class__(**{**base.__dict__, "profiles": (Profile("default", task_definition="td2"),)})
    assert with_default.profile_for_queue("anything").name == "default"
    spot = config.for_profile(parse_profiles(json.dumps({"spot": SPOT}))[0])
    assert spot.launch_type == "" and spot.capacity_provider_strategy[0].capacity_provider == "FARGATE_SPOT"


@pytest.fixture
def profiled(ecs_env):
    """A second task definition whose Airflow container has another name, and the profiles that use it."""
    client(ecs_env.url, "ecs").register_task_definition(
        family="airflow-heavy",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="2048",
        containerDefinitions=[
            {"name": "heavy-worker", "image": "apache/airflow:3.3.2", "memory": 2048, "essential": True},
            {"name": "sidecar", "image": "busybox", "memory": 64, "essential": False},
        ],
    )
    ecs_env.configure(profiles=json.dumps({"heavy": HEAVY, "spot": SPOT}))
    return ecs_env


class Said:
    """Stands for the executor's logger and keeps its warnings."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, *args: object) -> None:
        self.warnings.append(message % args)

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def test_each_queue_launches_with_its_profile_and_executor_config_refines_it(profiled):
    executor = started()
    executor._log = said = Said()
    sent: list[dict] = []
    executor._ecs_launch.meta.events.register(
        "before-send.ecs.RunTask", lambda request, **_: sent.append(json.loads(request.body))
    )
    heavy = make_workload("heavy_task", queue="heavy", executor_config={"memory": 4096})
    spot = make_workload("spot_task", queue="spot")
    other = [make_workload("other_task", queue="reports"), make_workload("other_task_2", queue="reports")]
    queue_all(executor, [heavy, spot, *other])
    heartbeat_until(executor, lambda: len(queued_arns(executor)) == 4)
    requests = {json.loads(r["overrides"]["containerOverrides"][0]["command"][4])["ti"]["task_id"]: r for r in sent}

    heavy_request = requests["heavy_task"]
    assert heavy_request["taskDefinition"] == "airflow-heavy" and heavy_request["launchType"] == "FARGATE"
    (container,) = heavy_request["overrides"]["containerOverrides"]
    assert container["name"] == "heavy-worker" and container["command"][0] == "python"
    # The profile's cpu, the task's own memory.
    assert (heavy_request["overrides"]["cpu"], heavy_request["overrides"]["memory"]) == ("1024", "4096")
    assert {"key": "team", "value": "etl"} in heavy_request["tags"]

    spot_request = requests["spot_task"]
    assert spot_request["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert "launchType" not in spot_request and spot_request["taskDefinition"] == "airflow-worker"

    assert requests["other_task"]["taskDefinition"] == "airflow-worker"
    told = [line for line in said.warnings if "is in no profile" in line]
    assert len(told) == 1 and "'reports'" in told[0]  # once per queue, not once per task

    # The heavy task is judged by its own container: the sidecar's exit does not decide it.
    arn = queued_arns(executor)[heavy.ti.key]
    moto_task(arn).status = "RUNNING"
    stop_in_moto(arn, exit_code=0)
    task = moto_task(arn)
    assert task.containers[0].name == "heavy-worker"
    heartbeat_until(executor, lambda: executor.event_buffer.get(heavy.ti.key, (None,))[0] == TaskInstanceState.SUCCESS)
    executor.terminate()


def test_start_checks_every_profiles_task_definition_and_container(profiled):
    profiled.configure(profiles=json.dumps({"heavy": {**HEAVY, "container_name": "airflow-worker"}}))
    with pytest.raises(ExecutorStartError, match="task definition 'airflow-heavy' has no container 'airflow-worker'"):
        EcsFargateExecutor().start()


def test_start_refuses_a_profile_with_a_size_fargate_does_not_have(profiled):
    profiled.configure(profiles=json.dumps({"heavy": {**HEAVY, "memory": 1000}}))
    with pytest.raises(ExecutorStartError, match=r"profiles = 'heavy': .*Fargate cpu=1024 takes memory 2048-8192"):
        EcsFargateExecutor().start()
