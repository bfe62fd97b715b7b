"""From config, task and template to a RunTask request that botocore's own model accepts."""

from __future__ import annotations

import json
import uuid

import pytest

from airflow_ecs.core.config import EcsConfig, load_config
from airflow_ecs.core.executor_config import ExecutorConfigError, parse_executor_config
from airflow_ecs.core.run_task_request import (
    CLIENT_TOKEN_LIMIT,
    OVERRIDES_LIMIT,
    STARTED_BY_LIMIT,
    RequestError,
    TaskIdentity,
    TemplateError,
    build_request,
    client_token,
    default_template_path,
    load_template,
    overrides_size,
    render,
    started_by,
    tag_value,
    template_context,
    validate,
    validation_problems,
    with_launch,
)

TI_ID = "0195f3c4-8e1b-7d2a-9c3e-5a6b7c8d9e0f"
IDENTITY = TaskIdentity("etl", "load", "scheduled__2026-01-01T00:00:00+00:00", -1, 1, TI_ID)
COMMAND = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"]
# What AwsEcsExecutor also sets in every container it starts: code in the image can tell it runs a task.
EXECUTOR_CONTAINER = {"name": "AIRFLOW_IS_EXECUTOR_CONTAINER", "value": "true"}
BASE = {
    "region": "us-east-1",
    "cluster": "airflow",
    "container_name": "airflow-worker",
    "task_definition": "airflow-worker:3",
    "subnets": "subnet-0a1b2c3d,subnet-4e5f6a7b",
    "security_groups": "sg-0123456789abcdef0",
}


def config(**values: str) -> EcsConfig:
    return load_config({**BASE, **values}.get)


def build(
    cfg: EcsConfig | None = None,
    *,
    template=None,
    identity=IDENTITY,
    command=COMMAND,
    executor_config=None,
    launch: int = 0,
) -> dict:
    return build_request(
        template=template or load_template(None),
        config=cfg or config(),
        identity=identity,
        command=command,
        executor_config=executor_config,
        settings=parse_executor_config(executor_config),
        launch=launch,
    )


def write_template(tmp_path, text: str):
    path = tmp_path / "run_task.json.j2"
    path.write_text(text)
    return path


# --- the shipped template ---


def test_the_default_template_is_shipped_with_the_package():
    assert default_template_path().is_file()


@pytest.mark.parametrize(
    ("values", "launch_type", "strategy", "platform_version"),
    [
        ({}, "FARGATE", None, "LATEST"),
        ({"platform_version": "1.4.0"}, "FARGATE", None, "1.4.0"),
        ({"launch_type": "EC2"}, "EC2", None, None),
        ({"launch_type": "EXTERNAL"}, "EXTERNAL", None, None),
        (
            {"capacity_provider_strategy": "FARGATE_SPOT:1,FARGATE:0:1"},
            None,
            [
                {"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0},
                {"capacityProvider": "FARGATE", "weight": 0, "base": 1},
            ],
            "LATEST",
        ),
        (
            {"capacity_provider_strategy": '[{"capacityProvider": "my-asg", "weight": 1}]'},
            None,
            [{"capacityProvider": "my-asg", "weight": 1, "base": 0}],
            None,
        ),
        ({"launch_type": ""}, None, None, None),
    ],
)
def test_the_default_template_renders_a_request_botocore_accepts(values, launch_type, strategy, platform_version):
    request = build(config(**values))
    assert validation_problems(request) is None
    assert request.get("launchType") == launch_type
    assert request.get("capacityProviderStrategy") == strategy
    assert request.get("platformVersion") == platform_version
    assert not ("launchType" in request and "capacityProviderStrategy" in request)
    assert request["cluster"] == "airflow"
    assert request["taskDefinition"] == "airflow-worker:3"
    assert request["count"] == 1
    assert request["overrides"]["containerOverrides"] == [
        {"name": "airflow-worker", "command": COMMAND, "environment": [EXECUTOR_CONTAINER]}
    ]


@pytest.mark.parametrize(("public", "expected"), [("True", "ENABLED"), ("False", "DISABLED")])
def test_the_network_configuration(public, expected):
    request = build(config(assign_public_ip=public))
    assert request["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
            "securityGroups": ["sg-0123456789abcdef0"],
            "assignPublicIp": expected,
        }
    }


def test_without_subnets_there_is_no_network_configuration():
    request = build(config(subnets="", security_groups="", launch_type="EC2"))
    assert "networkConfiguration" not in request
    assert validation_problems(request) is None


def test_the_execution_api_url_reaches_the_airflow_container():
    request = build(config(execution_api_server_url="http://airflow-api.internal:8080/execution/"))
    [container] = request["overrides"]["containerOverrides"]
    assert container["environment"] == [
        EXECUTOR_CONTAINER,
        {"name": "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "value": "http://airflow-api.internal:8080/execution/"},
    ]


def test_executor_config_is_applied_and_the_request_still_valid():
    request = build(
        executor_config={"cpu": "1 vCPU", "memory": "2 GB", "environment": {"STAGE": "prod"}, "tags": {"team": "data"}}
    )
    assert request["overrides"]["cpu"] == "1024" and request["overrides"]["memory"] == "2048"
    assert {"key": "team", "value": "data"} in request["tags"]
    assert validation_problems(request) is None


def test_a_custom_template_sees_the_task_and_executor_config(tmp_path):
    path = write_template(
        tmp_path,
        """{
  "cluster": {{ conf.cluster | tojson }},
  "taskDefinition": {{ ("gpu-worker" if executor_config.get("gpu") else conf.task_definition) | tojson }},
  "group": {{ ("airflow:" ~ dag_id) | tojson }},
  "launchType": "EC2",
  "overrides": {"containerOverrides": [{"name": {{ conf.container_name | tojson }}, "command": {{ command | tojson }},
    "environment": [{"name": "QUEUE", "value": {{ queue | tojson }}}, {"name": "TRY", "value": "{{ try_number }}"}]}]}
}""",
    )
    request = build(config(launch_type="EC2"), template=load_template(path), executor_config={"gpu": 1})
    assert request["taskDefinition"] == "gpu-worker"
    assert request["group"] == "airflow:etl"
    [container] = request["overrides"]["containerOverrides"]
    assert container["environment"] == [
        {"name": "QUEUE", "value": "default"},
        {"name": "TRY", "value": "1"},
        EXECUTOR_CONTAINER,
    ]
    assert container["resourceRequirements"] == [{"type": "GPU", "value": "1"}]


@pytest.mark.parametrize("launch_type", ["EC2", ""])
def test_platform_version_never_reaches_a_request_that_may_not_run_on_fargate(tmp_path, launch_type):
    launch = f'"launchType": "{launch_type}",' if launch_type else ""
    path = write_template(
        tmp_path, '{"cluster": "c", "taskDefinition": "t", ' + launch + ' "platformVersion": "1.4.0"}'
    )
    request = build(config(launch_type=launch_type), template=load_template(path))
    assert "platformVersion" not in request


# --- template errors name the template and its line ---


def test_a_template_that_is_not_json(tmp_path):
    path = write_template(tmp_path, '{\n  "cluster": {{ conf.cluster | tojson }},\n  "count": 1,\n}\n')
    with pytest.raises(TemplateError) as caught:
        build(template=load_template(path))
    message = str(caught.value)
    assert str(path) in message
    assert "does not render to JSON" in message
    assert "rendered line 4" in message
    assert "\n" not in message


@pytest.mark.parametrize("text", ["[1, 2]", '"run"', "null"])
def test_a_template_that_renders_something_other_than_an_object(tmp_path, text):
    with pytest.raises(TemplateError) as caught:
        render(load_template(write_template(tmp_path, text)), {})
    assert "expected a JSON object" in str(caught.value)


def test_a_jinja_syntax_error_names_the_line(tmp_path):
    path = write_template(tmp_path, '{\n  "cluster": "c",\n  {% if %}\n  "count": 1\n}\n')
    with pytest.raises(TemplateError) as caught:
        load_template(path)
    assert f"{path}:3:" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "name"),
    [
        ('{\n  "cluster": {{ conf.cluster | tojson }},\n  "group": {{ tenant | tojson }}\n}\n', 3, "tenant"),
        ('{\n  "cluster": {{ conf.clustr | tojson }}\n}\n', 2, "clustr"),
        ('{\n  "cluster": "c",\n  "group": "{{ executor_config.team }}"\n}\n', 3, "team"),
    ],
    ids=["tojson-filter", "conf-typo", "executor-config-key"],
)
def test_an_undefined_variable_names_the_line_and_the_variable(tmp_path, text, line, name):
    path = write_template(tmp_path, text)
    with pytest.raises(TemplateError) as caught:
        build(template=load_template(path))
    message = str(caught.value)
    assert f"{path}:{line}:" in message
    assert name in message


@pytest.mark.parametrize(
    ("field_line", "line_no", "field"),
    [
        ('"count": "one"', 3, "count"),
        ('"lanchType": "FARGATE"', 3, "lanchType"),
        ('"networkConfiguration": {"awsvpcConfiguration": {"subnets": "subnet-1"}}', 3, "subnets"),
        ('"enableExecuteCommand": "yes"', 3, "enableExecuteCommand"),
    ],
)
def test_a_wrong_field_names_the_template_line(tmp_path, field_line, line_no, field):
    path = write_template(tmp_path, '{\n  "cluster": "c",\n  ' + field_line + ',\n  "taskDefinition": "t"\n}\n')
    with pytest.raises(RequestError) as caught:
        build(template=load_template(path))
    message = str(caught.value)
    assert f"{path}:{line_no}:" in message
    assert field in message
    assert "\n" not in message


def test_a_missing_template_file(tmp_path):
    with pytest.raises(TemplateError) as caught:
        load_template(tmp_path / "gone.json.j2")
    assert "cannot read" in str(caught.value)


# --- identity: startedBy, clientToken, tags ---

IDENTITIES = [
    IDENTITY,
    TaskIdentity("etl", "load", "manual__1", 3, 2, str(uuid.uuid4())),
    TaskIdentity("d" * 250, "t" * 250, "r" * 250, 99999, 12, ""),
    TaskIdentity("etl", "load", "manual__1", -1, 1, "x" * 40),
]


@pytest.mark.parametrize("identity", IDENTITIES, ids=["uuid", "mapped", "long-no-ti-id", "long-ti-id"])
def test_started_by_and_client_token_fit_ecs_limits(identity):
    assert 1 <= len(started_by(identity)) <= STARTED_BY_LIMIT == 36
    for launch in (0, 1, 9999):
        token = client_token(identity, launch)
        assert 1 <= len(token) <= CLIENT_TOKEN_LIMIT == 64
        assert token.isascii() and token.replace("-", "").isalnum()


def test_started_by_is_the_task_instance_id():
    assert started_by(IDENTITY) == TI_ID


def test_started_by_is_stable_without_a_task_instance_id():
    identity = TaskIdentity("etl", "load", "manual__1", -1, 1, "")
    assert started_by(identity) == started_by(TaskIdentity("etl", "load", "manual__1", -1, 1, ""))
    assert started_by(identity) != started_by(TaskIdentity("etl", "load", "manual__1", 0, 1, ""))


def test_client_token_is_stable_per_launch_and_new_for_each_launch():
    tokens = [client_token(IDENTITY, launch) for launch in range(5)]
    assert tokens == [client_token(IDENTITY, launch) for launch in range(5)]
    assert len(set(tokens)) == 5


@pytest.mark.parametrize(
    "other",
    [
        TaskIdentity("etl", "load", IDENTITY.run_id, -1, 2, TI_ID),
        TaskIdentity("etl", "load", IDENTITY.run_id, 0, 1, TI_ID),
        TaskIdentity("etl", "save", IDENTITY.run_id, -1, 1, TI_ID),
        TaskIdentity("etl", "load", IDENTITY.run_id, -1, 1, str(uuid.uuid4())),
    ],
    ids=["try", "map-index", "task", "ti-id"],
)
def test_client_token_differs_per_task_instance_try(other):
    assert client_token(other, 0) != client_token(IDENTITY, 0)


def test_the_built_request_carries_the_identity():
    request = build(launch=2)
    assert request["startedBy"] == TI_ID
    assert request["clientToken"] == client_token(IDENTITY, 2, request)
    assert request["clientToken"] == build(launch=2)["clientToken"]  # a retry rebuilds the same token
    tags = {tag["key"]: tag["value"] for tag in request["tags"]}
    assert tags == {
        "airflow:dag_id": "etl",
        "airflow:task_id": "load",
        "airflow:run_id": "scheduled__2026-01-01T00:00:00+00:00",
        "airflow:map_index": "-1",
        "airflow:try_number": "1",
        "airflow:ti_id": TI_ID,
    }


def test_a_template_cannot_forge_identity_tags_but_keeps_its_own(tmp_path):
    path = write_template(
        tmp_path,
        """{"cluster": "c", "taskDefinition": "t", "launchType": "FARGATE",
      "tags": [{"key": "airflow:dag_id", "value": "forged"}, {"key": "owner", "value": "data"}]}""",
    )
    request = build(template=load_template(path))
    assert [t["value"] for t in request["tags"] if t["key"] == "airflow:dag_id"] == ["etl"]
    assert {"key": "owner", "value": "data"} in request["tags"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("scheduled__2026-01-01T00:00:00+00:00", "scheduled__2026-01-01T00:00:00+00:00"),
        ("manual run #3, retry", "manual run _3_ retry"),
        ("ü", "ü"),
        ("x" * 300, "x" * 256),
    ],
)
def test_tag_values_are_made_safe(value, expected):
    assert tag_value(value) == expected


def test_with_launch_changes_only_the_token_and_optionally_the_strategy():
    request = build()
    again = with_launch(request, IDENTITY, 1)
    assert again == {**request, "clientToken": client_token(IDENTITY, 1, request)}
    assert again["clientToken"] != request["clientToken"]
    fallback = with_launch(request, IDENTITY, 2, [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}])
    assert "launchType" not in fallback
    assert fallback["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    assert validation_problems(fallback) is None
    assert request["launchType"] == "FARGATE", "the original request must not change"


def test_more_tags_than_ecs_takes_fail_before_any_call():
    # ECS takes at most 50 tags per task; six are ours.
    executor_config = {"tags": {f"tag{i}": "x" for i in range(45)}}
    with pytest.raises((RequestError, ExecutorConfigError), match="50"):
        build(executor_config=executor_config)


def test_the_most_tags_ecs_takes_pass():
    request = build(executor_config={"tags": {f"tag{i}": "x" for i in range(44)}})
    assert len(request["tags"]) == 50


# --- the 8,192-character overrides limit ---


def padded_request(size: int) -> dict:
    """A request whose overrides are exactly ``size`` characters of JSON as botocore sends them."""
    request = {
        "cluster": "c",
        "taskDefinition": "t",
        "overrides": {"containerOverrides": [{"name": "airflow-worker", "command": [""]}]},
    }
    padding = size - overrides_size(request)
    request["overrides"]["containerOverrides"][0]["command"] = ["x" * padding]
    assert overrides_size(request) == size
    return request


def test_overrides_exactly_at_the_limit_pass():
    validate(padded_request(OVERRIDES_LIMIT))


def test_overrides_one_over_the_limit_fail_with_the_numbers():
    with pytest.raises(RequestError) as caught:
        validate(padded_request(OVERRIDES_LIMIT + 1))
    message = str(caught.value)
    assert "8193 characters" in message
    assert "8192" in message
    assert "executor_config" in message


def test_overrides_are_counted_as_botocore_serialises_them():
    import botocore.session
    from botocore.serialize import create_serializer

    model = botocore.session.get_session().get_service_model("ecs")
    request = padded_request(1000)
    request["overrides"]["containerOverrides"][0]["environment"] = [{"name": "CITY", "value": "Zürich"}]
    body = (
        create_serializer(model.metadata["protocol"])
        .serialize_to_request(request, model.operation_model("RunTask"))["body"]
        .decode()
    )
    # The overrides as they go on the wire: separators and escaping exactly as counted.
    on_the_wire = json.dumps(request["overrides"])
    assert f'"overrides": {on_the_wire}' in body
    assert overrides_size(request) == len(on_the_wire)


def test_a_large_executor_config_environment_fails_the_build():
    executor_config = {"environment": {f"VAR_{i}": "v" * 100 for i in range(100)}}
    with pytest.raises(RequestError) as caught:
        build(executor_config=executor_config)
    assert "over ECS's limit of 8192" in str(caught.value)


def test_template_context_names():
    context = template_context(config(), IDENTITY, COMMAND, None)
    assert set(context) == {
        "conf",
        "command",
        "dag_id",
        "task_id",
        "run_id",
        "map_index",
        "try_number",
        "queue",
        "executor_config",
    }
    assert context["executor_config"] == {}
    json.dumps(context)


def test_the_same_try_queued_again_with_a_new_workload_gets_a_new_client_token():
    """Airflow may queue one try again (stuck in queued, requeued) with a new workload token: reusing the
    old clientToken with the new request would make ECS answer ConflictException and fail the task."""
    first = build(command=["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", '{"t": 1}'])
    again = build(command=["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", '{"t": 2}'])
    assert first["clientToken"] != again["clientToken"]
    assert len(again["clientToken"]) <= 64


# --- [ecs_fargate] run_task_kwargs (AwsEcsExecutor's key) ---


def test_config_run_task_kwargs_are_merged_under_executor_config():
    cfg = config(
        run_task_kwargs='{"propagateTags": "TASK_DEFINITION", "enableExecuteCommand": true, "overrides": '
        '{"containerOverrides": [{"name": "airflow-worker", "environment": [{"name": "A", '
        '"value": "1"}]}]}}'
    )
    request = build(cfg, executor_config={"environment": {"B": "2"}, "propagateTags": "SERVICE"})
    assert request["propagateTags"] == "SERVICE" and request["enableExecuteCommand"] is True
    (container,) = request["overrides"]["containerOverrides"]
    assert container["command"] == COMMAND  # the template's override, merged by name
    assert {item["name"]: item["value"] for item in container["environment"]} == {
        "A": "1",
        "B": "2",
        "AIRFLOW_IS_EXECUTOR_CONTAINER": "true",
    }


def test_config_run_task_kwargs_with_a_strategy_replace_the_launch_type():
    request = build(config(run_task_kwargs='{"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT"}]}'))
    assert "launchType" not in request and request["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT"}]


def test_config_run_task_kwargs_that_botocore_refuses_fail_the_build():
    with pytest.raises(RequestError, match=r"invalid RunTask request.*propagateTags"):
        build(config(run_task_kwargs='{"propagateTags": 5}'))


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"propagateTags": ', "not valid JSON (Expecting value at line 1 column 18); e.g. "),
        ('["propagateTags"]', "expected a JSON object of RunTask arguments; e.g. "),
        (
            (
                '{"count": 2, "overrides": {"containerOverrides": [{"name": "w", "environment": '
                '[{"name": "T", "value": "secret"}]}]}}'
            ),
            (
                "'count' is set by the executor (startedBy and clientToken identify the try; one Airflow task "
                "is one ECS task); remove it"
            ),
        ),
    ],
)
def test_config_run_task_kwargs_errors_show_no_value(raw, says):
    from airflow_ecs.core.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        config(run_task_kwargs=raw)
    assert str(caught.value).startswith(f"[ecs_fargate] run_task_kwargs = (value not shown): {says}")
    assert "secret" not in str(caught.value)
