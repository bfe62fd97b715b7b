"""[ecs_fargate] values at their limits, and the exact line for the ones refused (mutmut survivors of
test_config.py): the edge a user's value sits on is the edge the test pins."""

from __future__ import annotations

import pytest

from airflow_ecs.core.config import ConfigError, load_config, parse_bool, parse_capacity_provider_strategy

BASE = {
    "region": "us-east-1",
    "cluster": "airflow",
    "container_name": "airflow-worker",
    "task_definition": "airflow-worker",
}


def config(**extra: str):
    return load_config({**BASE, **extra}.get)


def refused(**extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        config(**extra)
    return str(caught.value)


def test_a_burst_of_one_is_taken_and_zero_refused():
    assert config(launch_burst="1").launch_burst == 1
    assert refused(launch_burst="0") == "[ecs_fargate] launch_burst = '0': expected at least 1, e.g. 100"


def test_a_connection_and_a_profile_together_are_refused_in_one_line():
    assert refused(aws_conn_id="aws_default", aws_profile="prod") == (
        "[ecs_fargate] aws_conn_id = 'aws_default': set aws_conn_id or aws_profile, not both "
        "(a connection's extra may name a profile_name)"
    )


@pytest.mark.parametrize("raw", ["t", "T", "y", "Y", "yes", "on", "1", "true"])
def test_every_true_form(raw):
    assert parse_bool("assign_public_ip", raw) is True


@pytest.mark.parametrize("raw", ["f", "F", "n", "N", "no", "off", "0", "false", ""])
def test_every_false_form(raw):
    assert parse_bool("assign_public_ip", raw) is False


def test_strategy_weight_and_base_at_their_limits():
    (item,) = parse_capacity_provider_strategy("capacity_provider_strategy", "FARGATE:1000:100000")
    assert (item.weight, item.base) == (1000, 100000)
    for raw in ("FARGATE:1001", "FARGATE:1:100001"):
        with pytest.raises(ConfigError, match="weight must be 0-1000 and base 0-100000"):
            parse_capacity_provider_strategy("capacity_provider_strategy", raw)


def test_a_strategy_of_twenty_providers_is_taken_and_twenty_one_refused():
    names = [f"cp-{i}:1" for i in range(21)]
    assert len(parse_capacity_provider_strategy("capacity_provider_strategy", ",".join(names[:20]))) == 20
    with pytest.raises(ConfigError) as caught:
        parse_capacity_provider_strategy("capacity_provider_strategy", ",".join(names))
    assert str(caught.value).endswith(": ECS accepts at most 20 capacity providers in a strategy")


def test_only_one_provider_may_have_a_base():
    with pytest.raises(ConfigError) as caught:
        parse_capacity_provider_strategy("capacity_provider_strategy", "FARGATE:1:1,FARGATE_SPOT:1:1")
    assert str(caught.value) == (
        "[ecs_fargate] capacity_provider_strategy = 'FARGATE:1:1,FARGATE_SPOT:1:1': "
        "only one capacity provider in a strategy may have a base"
    )


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ({"launch_burst": "many"}, "launch_burst = 'many': expected a whole number, e.g. 100"),
        ({"launch_rate": "fast"}, "launch_rate = 'fast': expected a number, e.g. 20"),
        ({"launch_rate": "nan"}, "launch_rate = 'nan': expected a finite number, e.g. 20"),
        ({"launch_burst": "0"}, "launch_burst = '0': expected at least 1, e.g. 100"),
    ],
)
def test_a_bad_number_is_named_with_what_kind_of_number_would_do(extra, line):
    assert refused(**extra) == f"[ecs_fargate] {line}"


def test_an_empty_required_key_shows_empty_not_its_quotes():
    assert refused(cluster="").startswith("[ecs_fargate] cluster = (empty): required; e.g. ")


@pytest.mark.parametrize(
    ("args", "kwargs", "line"),
    [
        (("cluster", "", "required"), {}, "[ecs_fargate] cluster = (empty): required"),
        (("cluster", None, "required"), {}, "[ecs_fargate] cluster = (empty): required"),
        (("cluster", "c1", "not found"), {}, "[ecs_fargate] cluster = 'c1': not found"),
        (
            ("aws_secret_access_key", "wJalr", "not a key"),
            {"show_value": False},
            "[ecs_fargate] aws_secret_access_key = (value not shown): not a key",
        ),
    ],
)
def test_a_config_error_is_one_line_naming_key_value_and_what_would_do(args, kwargs, line):
    error = ConfigError(*args, **kwargs)
    assert str(error) == line
    assert (error.key, error.value, error.expected) == args


def test_a_bad_strategy_item_shows_the_whole_value():
    with pytest.raises(ConfigError) as caught:
        parse_capacity_provider_strategy("capacity_provider_strategy", "FARGATE:x")
    assert str(caught.value).startswith(
        "[ecs_fargate] capacity_provider_strategy = 'FARGATE:x': weight and base "
        "must be whole numbers; e.g. FARGATE_SPOT:1,FARGATE:0"
    )
