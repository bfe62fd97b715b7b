"""A task's executor_config, key by key: parsed, checked, and applied to a RunTask request."""

from __future__ import annotations

import copy

import pytest

from airflow_ecs.core.executor_config import (
    KNOWN_KEYS,
    ExecutorConfigError,
    TaskSettings,
    apply_settings,
    deep_merge,
    parse_executor_config,
)
from airflow_ecs.core.run_task_request import validation_problems

CONTAINER = "airflow"

FARGATE_REQUEST = {
    "cluster": "airflow",
    "taskDefinition": "airflow-worker",
    "launchType": "FARGATE",
    "platformVersion": "LATEST",
    "networkConfiguration": {
        "awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}
    },
    "overrides": {
        "containerOverrides": [
            {
                "name": CONTAINER,
                "command": ["airflow", "tasks", "run"],
                "environment": [{"name": "KEEP", "value": "1"}, {"name": "STAGE", "value": "dev"}],
            }
        ]
    },
    "tags": [{"key": "airflow:dag_id", "value": "demo"}, {"key": "team", "value": "data"}],
    "count": 1,
}
EC2_REQUEST = {**{k: v for k, v in FARGATE_REQUEST.items() if k != "platformVersion"}, "launchType": "EC2"}
DEFAULT_STRATEGY_REQUEST = {k: v for k, v in FARGATE_REQUEST.items() if k not in ("launchType", "platformVersion")}


def apply(executor_config, request=FARGATE_REQUEST):
    before = copy.deepcopy(request)
    result = apply_settings(request, parse_executor_config(executor_config), CONTAINER)
    assert request == before, "apply_settings changed its input"
    assert validation_problems(result) is None
    return result


def airflow_override(request):
    [container] = [c for c in request["overrides"]["containerOverrides"] if c["name"] == CONTAINER]
    return container


def refused(executor_config, request=FARGATE_REQUEST) -> ExecutorConfigError:
    with pytest.raises(ExecutorConfigError) as caught:
        apply_settings(request, parse_executor_config(executor_config), CONTAINER)
    assert "\n" not in str(caught.value)
    return caught.value


# --- cpu and memory ---


@pytest.mark.parametrize(
    ("executor_config", "cpu", "memory"),
    [
        ({"cpu": 256, "memory": 512}, 256, 512),
        ({"cpu": "256", "memory": "512"}, 256, 512),
        ({"cpu": "1 vCPU", "memory": "2 GB"}, 1024, 2048),
        ({"cpu": "0.25 vCPU", "memory": "0.5 GB"}, 256, 512),
        ({"cpu": "2 vcpu", "memory": "4 GiB"}, 2048, 4096),
        ({"cpu": 4096, "memory": "30720 MiB"}, 4096, 30720),
        ({"cpu": "16 vCPU", "memory": "120 GB"}, 16384, 122880),
    ],
)
def test_sizes_go_to_both_levels_task_strings_container_ints(executor_config, cpu, memory):
    result = apply(executor_config)
    assert result["overrides"]["cpu"] == str(cpu)
    assert result["overrides"]["memory"] == str(memory)
    container = airflow_override(result)
    assert container["cpu"] == cpu and type(container["cpu"]) is int
    assert container["memory"] == memory and type(container["memory"]) is int
    assert container["command"] == ["airflow", "tasks", "run"]


@pytest.mark.parametrize(
    ("executor_config", "key"),
    [
        ({"cpu": 256}, "memory"),
        ({"memory": 512}, "cpu"),
    ],
)
def test_fargate_needs_cpu_and_memory_together(executor_config, key):
    error = refused(executor_config)
    assert error.key == key
    assert "dict(cpu=256, memory=512)" in str(error)


@pytest.mark.parametrize(("cpu", "memory"), [(256, 1536), (1024, 1024), (300, 1024), (4096, 4096)])
def test_an_invalid_fargate_size_names_the_nearest_valid_ones(cpu, memory):
    error = refused({"cpu": cpu, "memory": memory})
    assert error.key == "cpu/memory"
    assert "nearest valid sizes: cpu=" in str(error)


@pytest.mark.parametrize(
    "executor_config", [{"cpu": 256, "memory": 1536}, {"cpu": 300, "memory": 1024}], ids=["invalid-size", "invalid-cpu"]
)
def test_the_size_check_applies_to_a_default_strategy_too(executor_config):
    # With neither launchType nor a strategy the cluster default decides, which may be Fargate.
    refused(executor_config, DEFAULT_STRATEGY_REQUEST)


@pytest.mark.parametrize("executor_config", [{"cpu": 300}, {"memory": 1500}, {"cpu": 300, "memory": 1500}])
def test_ec2_takes_sizes_fargate_would_refuse(executor_config):
    result = apply(executor_config, EC2_REQUEST)
    container = airflow_override(result)
    for key, value in executor_config.items():
        assert container[key] == value
        assert result["overrides"][key] == str(value)


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("cpu", True),
        ("cpu", "lots"),
        ("cpu", 0),
        ("cpu", -256),
        ("cpu", 1.5),
        ("cpu", [256]),
        ("cpu", "1 core"),
        ("memory", False),
        ("memory", "big"),
        ("memory", 0),
        ("memory", "2 TB"),
        ("memory", 512.0),
        ("memory", {}),
    ],
)
def test_a_malformed_size_names_the_key(key, bad):
    with pytest.raises(ExecutorConfigError) as caught:
        parse_executor_config({key: bad})
    assert caught.value.key == key
    assert f"executor_config[{key!r}] = {bad!r}" in str(caught.value)


# --- ephemeral storage and GPUs ---


@pytest.mark.parametrize(("value", "size"), [(21, 21), (200, 200), ("50", 50)])
def test_ephemeral_storage_in_range(value, size):
    assert apply({"ephemeral_storage": value})["overrides"]["ephemeralStorage"] == {"sizeInGiB": size}


@pytest.mark.parametrize("bad", [20, 201, 0, -1, True, "lots", 30.5])
def test_ephemeral_storage_out_of_range_or_malformed(bad):
    with pytest.raises(ExecutorConfigError) as caught:
        parse_executor_config({"ephemeral_storage": bad})
    assert caught.value.key == "ephemeral_storage"
    assert "21" in str(caught.value) and "200" in str(caught.value)


def test_ephemeral_storage_is_refused_on_ec2():
    assert refused({"ephemeral_storage": 50}, EC2_REQUEST).key == "ephemeral_storage"


@pytest.mark.parametrize(
    "request_",
    [
        FARGATE_REQUEST,
        DEFAULT_STRATEGY_REQUEST,
        {**DEFAULT_STRATEGY_REQUEST, "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]},
    ],
    ids=["fargate", "cluster-default", "fargate-spot"],
)
def test_gpu_is_refused_unless_the_task_is_known_to_run_off_fargate(request_):
    error = refused({"gpu": 1}, request_)
    assert error.key == "gpu"
    assert "Fargate has no GPUs" in str(error)


@pytest.mark.parametrize(
    "request_",
    [
        EC2_REQUEST,
        {**DEFAULT_STRATEGY_REQUEST, "capacityProviderStrategy": [{"capacityProvider": "gpu-asg", "weight": 1}]},
    ],
    ids=["ec2", "ec2-capacity-provider"],
)
def test_gpu_off_fargate_becomes_a_resource_requirement(request_):
    container = airflow_override(apply({"gpu": 2}, request_))
    assert container["resourceRequirements"] == [{"type": "GPU", "value": "2"}]


def test_gpu_by_executor_config_replaces_a_gpu_from_the_template():
    request = copy.deepcopy(EC2_REQUEST)
    request["overrides"]["containerOverrides"][0]["resourceRequirements"] = [
        {"type": "GPU", "value": "1"},
        {"type": "InferenceAccelerator", "value": "x"},
    ]
    container = airflow_override(apply({"gpu": 4}, request))
    assert container["resourceRequirements"] == [
        {"type": "InferenceAccelerator", "value": "x"},
        {"type": "GPU", "value": "4"},
    ]


@pytest.mark.parametrize("bad", [0, 17, "two", True])
def test_gpu_count_malformed(bad):
    with pytest.raises(ExecutorConfigError) as caught:
        parse_executor_config({"gpu": bad})
    assert caught.value.key == "gpu"


# --- environment ---


def test_environment_is_merged_into_the_template_not_replacing_it():
    container = airflow_override(apply({"environment": {"STAGE": "prod", "RETRIES": 3, "RATIO": 0.5}}))
    assert container["environment"] == [
        {"name": "KEEP", "value": "1"},
        {"name": "STAGE", "value": "prod"},
        {"name": "RETRIES", "value": "3"},
        {"name": "RATIO", "value": "0.5"},
    ]


def test_environment_goes_to_the_airflow_container_even_without_an_override_in_the_template():
    request = {k: v for k, v in FARGATE_REQUEST.items() if k != "overrides"}
    result = apply({"environment": {"A": "1"}}, request)
    assert result["overrides"]["containerOverrides"] == [
        {"name": CONTAINER, "environment": [{"name": "A", "value": "1"}]}
    ]


@pytest.mark.parametrize("bad", [["A=1"], "A=1", {"A": True}, {"A": None}, {"A": ["x"]}, {"": "x"}, {1: "x"}])
def test_environment_malformed(bad):
    with pytest.raises(ExecutorConfigError) as caught:
        parse_executor_config({"environment": bad})
    assert caught.value.key == "environment"


# --- capacity provider strategy ---


@pytest.mark.parametrize(
    ("value", "expected", "platform"),
    [
        (
            "FARGATE_SPOT:1,FARGATE:0",
            [
                {"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0},
                {"capacityProvider": "FARGATE", "weight": 0, "base": 0},
            ],
            True,
        ),
        (
            [{"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 1}],
            [{"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 1}],
            True,
        ),
        ("my-asg:1", [{"capacityProvider": "my-asg", "weight": 1, "base": 0}], False),
    ],
)
def test_a_strategy_replaces_the_launch_type(value, expected, platform):
    result = apply({"capacity_provider_strategy": value})
    assert "launchType" not in result
    assert result["capacityProviderStrategy"] == expected
    # platformVersion is Fargate-only: it stays for Fargate providers and goes for others.
    assert ("platformVersion" in result) is platform


@pytest.mark.parametrize("bad", ["", [], "FARGATE:x", [{"weight": 1}], "FARGATE:1,FARGATE:1", 7])
def test_a_bad_strategy_names_the_key(bad):
    with pytest.raises(ExecutorConfigError) as caught:
        parse_executor_config({"capacity_provider_strategy": bad})
    assert caught.value.key == "capacity_provider_strategy"
    assert "FARGATE_SPOT:1" in str(caught.value)


# --- tags ---


def test_tags_are_added_and_same_named_ones_replaced():
    result = apply({"tags": {"team": "ml", "cost-center": 42}})
    assert result["tags"] == [
        {"key": "airflow:dag_id", "value": "demo"},
        {"key": "team", "value": "ml"},
        {"key": "cost-center", "value": "42"},
    ]


@pytest.mark.parametrize(
    "tags",
    [
        {"airflow:dag_id": "other"},
        {"Airflow:ti_id": "x"},
        {"aws:cloudformation:stack": "x"},
        {"AWS:x": "y"},
        {"k" * 129: "x"},
        {"ok": "v" * 257},
        {"": "x"},
        ["team=ml"],
    ],
)
def test_reserved_or_oversized_tags_are_refused(tags):
    with pytest.raises(ExecutorConfigError) as caught:
        parse_executor_config({"tags": tags})
    assert caught.value.key == "tags"


def test_tags_at_the_length_limits_are_taken():
    result = apply({"tags": {"k" * 128: "v" * 256}})
    assert {"key": "k" * 128, "value": "v" * 256} in result["tags"]


# --- overrides and run_task_kwargs, merged deeply ---


def test_overrides_merge_containers_by_name():
    result = apply(
        {
            "overrides": {
                "taskRoleArn": "arn:aws:iam::123456789012:role/special",
                "containerOverrides": [
                    {
                        "name": CONTAINER,
                        "environment": [{"name": "STAGE", "value": "prod"}, {"name": "FROM_OVERRIDES", "value": "1"}],
                    },
                    {"name": "sidecar", "cpu": 128},
                ],
            }
        }
    )
    overrides = result["overrides"]
    assert overrides["taskRoleArn"] == "arn:aws:iam::123456789012:role/special"
    assert [c["name"] for c in overrides["containerOverrides"]] == [CONTAINER, "sidecar"]
    container = airflow_override(result)
    assert container["command"] == ["airflow", "tasks", "run"], "the command must survive an override"
    # Environment variables are named items too: merged by name, not replaced wholesale.
    assert container["environment"] == [
        {"name": "KEEP", "value": "1"},
        {"name": "STAGE", "value": "prod"},
        {"name": "FROM_OVERRIDES", "value": "1"},
    ]
    assert overrides["containerOverrides"][1] == {"name": "sidecar", "cpu": 128}


def test_run_task_kwargs_merge_deeply():
    result = apply(
        {
            "run_task_kwargs": {
                "networkConfiguration": {"awsvpcConfiguration": {"assignPublicIp": "ENABLED"}},
                "propagateTags": "TASK_DEFINITION",
                "overrides": {"containerOverrides": [{"name": CONTAINER, "memoryReservation": 256}]},
            }
        }
    )
    assert result["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": ["subnet-1"],
        "securityGroups": ["sg-1"],
        "assignPublicIp": "ENABLED",
    }
    assert result["propagateTags"] == "TASK_DEFINITION"
    container = airflow_override(result)
    assert container["memoryReservation"] == 256
    assert container["command"] == ["airflow", "tasks", "run"]


def test_the_task_size_wins_over_run_task_kwargs():
    result = apply({"cpu": 512, "memory": 1024, "run_task_kwargs": {"overrides": {"cpu": "256", "memory": "512"}}})
    assert (result["overrides"]["cpu"], result["overrides"]["memory"]) == ("512", "1024")


@pytest.mark.parametrize("key", ["overrides", "run_task_kwargs"])
@pytest.mark.parametrize("bad", ["taskRoleArn=x", ["x"], 3])
def test_overrides_and_kwargs_must_be_dicts(key, bad):
    with pytest.raises(ExecutorConfigError) as caught:
        parse_executor_config({key: bad})
    assert caught.value.key == key


@pytest.mark.parametrize("reserved", ["startedBy", "clientToken", "count"])
def test_run_task_kwargs_may_not_set_what_identifies_the_try_and_show_only_that_entry(reserved):
    secret_env = {"containerOverrides": [{"environment": [{"name": "DB_PASSWORD", "value": "hunter2"}]}]}
    with pytest.raises(
        ExecutorConfigError, match=rf"\{{'{reserved}': .*\}}: '{reserved}' is set by the executor"
    ) as caught:
        parse_executor_config({"run_task_kwargs": {"overrides": secret_env, reserved: "x"}})
    assert "hunter2" not in str(caught.value)


def test_parsed_overrides_are_a_copy():
    raw = {"overrides": {"containerOverrides": [{"name": CONTAINER, "cpu": 1}]}}
    settings = parse_executor_config(raw)
    raw["overrides"]["containerOverrides"][0]["cpu"] = 99
    assert settings.overrides["containerOverrides"][0]["cpu"] == 1


# --- the whole dict ---


@pytest.mark.parametrize("raw", [None, {}])
def test_nothing_configured_changes_nothing(raw):
    assert parse_executor_config(raw) == TaskSettings()
    assert apply(raw) == FARGATE_REQUEST


@pytest.mark.parametrize("unknown", ["pod_override", "CPU", "memory_mb", "launch_type"])
def test_an_unknown_key_is_named_with_the_known_ones(unknown):
    with pytest.raises(ExecutorConfigError) as caught:
        parse_executor_config({"cpu": 256, unknown: "x"})
    assert caught.value.key == unknown
    assert "unknown key" in str(caught.value)
    assert all(known in str(caught.value) for known in KNOWN_KEYS)


@pytest.mark.parametrize("raw", ["cpu=256", ["cpu", 256], 256])
def test_a_non_dict_executor_config_is_refused(raw):
    with pytest.raises(ExecutorConfigError):
        parse_executor_config(raw)


# --- deep_merge on its own ---


@pytest.mark.parametrize(
    ("base", "extra", "expected"),
    [
        ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 9}}, {"a": 1, "b": {"c": 9, "d": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": {"x": 1}}, {"a": "scalar"}, {"a": "scalar"}),
        ({"a": "scalar"}, {"a": {"x": 1}}, {"a": {"x": 1}}),
        (
            [{"name": "a", "v": 1}, {"name": "b", "v": 2}],
            [{"name": "b", "w": 3}, {"name": "c"}],
            [{"name": "a", "v": 1}, {"name": "b", "v": 2, "w": 3}, {"name": "c"}],
        ),
        ([{"name": "a"}], [{"v": 1}], [{"v": 1}]),
        ([], [{"name": "a"}], [{"name": "a"}]),
        ({}, {"a": 1}, {"a": 1}),
    ],
)
def test_deep_merge(base, extra, expected):
    base_before, extra_before = copy.deepcopy(base), copy.deepcopy(extra)
    merged = deep_merge(base, extra)
    assert merged == expected
    assert (base, extra) == (base_before, extra_before)


def test_deep_merge_shares_nothing_with_its_inputs():
    extra = {"nested": {"list": [1]}}
    merged = deep_merge({}, extra)
    merged["nested"]["list"].append(2)
    assert extra == {"nested": {"list": [1]}}


# --- overrides checked as the keys are ---


@pytest.mark.parametrize("overrides", [{"cpu": "300", "memory": "512"}, {"cpu": 1024, "memory": "1 GB"}])
def test_task_size_overrides_get_the_fargate_size_check(overrides):
    error = refused({"overrides": overrides})
    assert error.key == "overrides"
    assert "nearest valid sizes" in str(error)


@pytest.mark.parametrize(
    ("request_", "overrides"),
    [
        (FARGATE_REQUEST, {"cpu": "1024", "memory": "2048"}),  # valid on Fargate
        (EC2_REQUEST, {"cpu": "300", "memory": "512"}),  # EC2 sizes freely
        (FARGATE_REQUEST, {"cpu": "300"}),  # the other size is the task definition's: not known here
    ],
)
def test_task_size_overrides_that_may_be_right_pass(request_, overrides):
    assert apply({"overrides": overrides}, request_)["overrides"]["cpu"] == overrides["cpu"]


def test_a_container_override_the_task_definition_lacks_is_refused():
    from airflow_ecs.core.executor_config import check_container_names

    request = apply({"overrides": {"containerOverrides": [{"name": "sidecar", "command": ["true"]}]}})
    with pytest.raises(ExecutorConfigError) as caught:
        check_container_names(request, [CONTAINER], "airflow-worker")
    assert str(caught.value) == (
        "executor_config['overrides'] = {'containerOverrides': [{'name': 'sidecar'}]}: task "
        "definition 'airflow-worker' has no container 'sidecar' (it has airflow)"
    )
    check_container_names(apply(None), [CONTAINER, "sidecar"], "airflow-worker")
    check_container_names(request, None, "airflow-worker")  # definition not read: nothing to check against


def test_the_executor_fails_only_the_task_naming_a_missing_container(ecs_env):
    from airflow.utils.state import TaskInstanceState

    from tests.executor_harness import heartbeat_until, make_workload, queue_all, started

    executor = started()
    bad = {"overrides": {"containerOverrides": [{"name": "sidecar", "command": ["true"]}]}}
    queue_all(executor, [make_workload("bad", executor_config=bad), make_workload("good")])
    heartbeat_until(executor, lambda: len(executor.event_buffer) == 2)
    states = {key.task_id: state for key, (state, _) in executor.event_buffer.items()}
    assert states == {"bad": TaskInstanceState.FAILED, "good": TaskInstanceState.QUEUED}
    (event,) = [e for e in executor._task_event_logs if e.task_id == "bad"]
    assert "task definition 'airflow-worker' has no container 'sidecar' (it has airflow-worker)" in event.extra
    executor.terminate()


# --- AwsEcsExecutor's executor_config: top-level RunTask arguments ---


def test_top_level_run_task_arguments_are_merged_as_run_task_kwargs():
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    constraints = [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ c5.*"}]
    result = apply(
        {"capacityProviderStrategy": strategy, "placementConstraints": constraints, "propagateTags": "TASK_DEFINITION"}
    )
    assert result["capacityProviderStrategy"] == strategy and "launchType" not in result
    assert "platformVersion" in result  # FARGATE_SPOT is Fargate
    assert result["placementConstraints"] == constraints and result["propagateTags"] == "TASK_DEFINITION"
    assert result == apply(
        {
            "run_task_kwargs": {
                "capacityProviderStrategy": strategy,
                "placementConstraints": constraints,
                "propagateTags": "TASK_DEFINITION",
            }
        }
    )


def test_tags_in_run_tasks_list_form_are_taken():
    assert apply({"tags": [{"key": "team", "value": "data"}]}) == apply({"tags": {"team": "data"}})


@pytest.mark.parametrize("reserved", ["count", "startedBy", "clientToken"])
def test_top_level_reserved_arguments_are_refused(reserved):
    error = refused({reserved: 2})
    assert str(error).startswith(
        f"executor_config['run_task_kwargs'] = {{{reserved!r}: 2}}: {reserved!r} is set by the executor"
    )


def test_a_key_that_is_neither_ours_nor_run_tasks_is_refused():
    assert str(refused({"capacityProviderStrategyy": []})) == (
        "executor_config['capacityProviderStrategyy'] = []: unknown key; known keys: "
        + ", ".join(KNOWN_KEYS)
        + " or a RunTask argument such as propagateTags"
    )
