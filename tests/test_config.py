"""The ``[ecs_fargate]`` section, key by key: defaults, every error, and the way Airflow hands values in."""

from __future__ import annotations

import dataclasses
import json
import typing
from importlib import metadata

import pytest

from airflow_ecs.core.config import (
    OPTIONS,
    OPTIONS_BY_NAME,
    SECTION,
    CapacityProviderItem,
    ConfigError,
    EcsConfig,
    Profile,
    airflow_getter,
    load_config,
    parse_capacity_provider_strategy,
    unknown_keys,
)
from airflow_ecs.provider import get_provider_info

REQUIRED = {"region": "us-east-1", "cluster": "airflow", "container_name": "airflow-worker"}


def load(**values: str) -> EcsConfig:
    merged = {**REQUIRED, **values}
    return load_config(merged.get)


def config_error(**values: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(**values)
    return caught.value


# --- required keys ---


@pytest.mark.parametrize("key", ["region", "cluster", "container_name"])
@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_each_required_key_missing_is_named(key, value):
    values = {**REQUIRED, key: value}
    with pytest.raises(ConfigError) as caught:
        load_config(values.get)
    message = str(caught.value)
    assert caught.value.key == key
    assert message.startswith(f"[{SECTION}] {key} = ")
    assert "required" in message
    assert OPTIONS_BY_NAME[key].example in message
    assert "\n" not in message


def test_only_the_required_keys_give_the_documented_defaults():
    config = load()
    assert config == EcsConfig(**REQUIRED)
    assert config.launch_type == "FARGATE"
    assert config.runs_on_fargate


# --- typed keys: every integer, float and boolean key with a malformed value ---

INTEGER_KEYS = [o.name for o in OPTIONS if o.type == "integer"]
FLOAT_KEYS = [o.name for o in OPTIONS if o.type == "float"]


def test_the_typed_keys_are_the_ones_expected():
    # If a key changes type, the tables below must be looked at again.
    assert INTEGER_KEYS == ["max_run_task_attempts", "launch_concurrency", "launch_burst"]
    assert FLOAT_KEYS == ["launch_rate", "poll_interval", "pending_timeout", "end_timeout", "reconcile_interval"]
    assert [o.name for o in OPTIONS if o.type == "boolean"] == [
        "assign_public_ip",
        "events_queue_exclusive",
        "check_health_on_startup",
    ]


MALFORMED_NUMBERS = [(key, bad) for key in INTEGER_KEYS for bad in ("five", "2.5", "1e3", "0", "-3", "10 tasks")] + [
    (key, bad) for key in FLOAT_KEYS for bad in ("fast", "1,5", "-1", "5s")
]


@pytest.mark.parametrize(("key", "bad"), MALFORMED_NUMBERS)
def test_number_key_with_a_malformed_value_names_key_value_and_example(key, bad):
    error = config_error(**{key: bad})
    message = str(error)
    assert error.key == key
    assert f"{key} = {bad!r}" in message
    assert f"e.g. {OPTIONS_BY_NAME[key].example}" in message
    assert "\n" not in message


@pytest.mark.parametrize("key", FLOAT_KEYS)
def test_float_key_refuses_not_a_number(key):
    # nan compares false with everything: a nan timeout would never fire, a nan interval never elapse.
    error = config_error(**{key: "nan"})
    assert error.key == key


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("max_run_task_attempts", " 7 ", 7),
        ("launch_concurrency", "1", 1),
        ("launch_burst", "250", 250),
        ("launch_rate", "0.5", 0.5),
        ("launch_rate", "20", 20.0),
        ("poll_interval", "0.5", 0.5),
        ("pending_timeout", "1200.5", 1200.5),
        ("end_timeout", "0", 0.0),
        ("reconcile_interval", "30", 30.0),
    ],
)
def test_typed_key_with_a_good_value_is_converted(key, raw, expected):
    value = getattr(load(**{key: raw}), key)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("key", ["launch_rate", "poll_interval", "pending_timeout", "reconcile_interval"])
def test_rates_intervals_and_timeouts_must_be_positive(key):
    # pending_timeout = 0 stopped every task before it ran; poll_interval = 0 swept ECS at every scheduler loop.
    assert (
        str(config_error(**{key: "0"}))
        == f"[ecs_fargate] {key} = '0': expected more than 0, e.g. "
        + {"launch_rate": "20", "poll_interval": "5", "pending_timeout": "600", "reconcile_interval": "60"}[key]
    )


@pytest.mark.parametrize("key", ["subnets", "security_groups"])
def test_ids_separated_by_spaces_are_refused(key):
    raw = "subnet-0a1b2c3d subnet-4e5f6a7b" if key == "subnets" else "sg-0a1b sg-2c3d"
    assert str(config_error(**{key: raw})) == (
        f"[ecs_fargate] {key} = {raw!r}: ids are separated by commas, not spaces, e.g. "
        + ("subnet-0a1b2c3d,subnet-4e5f6a7b" if key == "subnets" else "sg-0a1b,sg-2c3d")
    )


def test_a_strategy_that_is_not_names_is_refused():
    assert str(config_error(capacity_provider_strategy="lol what")) == (
        "[ecs_fargate] capacity_provider_strategy = 'lol what': capacity provider 'lol what' is not a name "
        "(letters, digits, _ and -; items separated by commas); e.g. FARGATE_SPOT:1,FARGATE:0 or "
        '[{"capacityProvider": "FARGATE", "weight": 1}]'
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("True", True),
        ("true", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        (" TRUE ", True),
        ("False", False),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_boolean_forms(raw, expected):
    assert load(assign_public_ip=raw).assign_public_ip is expected


def test_the_events_queue_is_shared_unless_said_to_be_ours():
    # An airflow.cfg written before one queue per scheduler keeps the shared queue's behaviour: hand back.
    assert load().events_queue_exclusive is False
    assert load(events_queue_exclusive="True").events_queue_exclusive is True
    error = config_error(events_queue_exclusive="per-scheduler")
    assert error.key == "events_queue_exclusive" and "True or False" in str(error)


@pytest.mark.parametrize("bad", ["maybe", "2", "enabled", "ENABLED"])
def test_boolean_with_a_malformed_value(bad):
    error = config_error(assign_public_ip=bad)
    assert error.key == "assign_public_ip"
    assert f"assign_public_ip = {bad!r}" in str(error)
    assert "True or False" in str(error)


# --- subnets and security groups ---


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("subnets", "subnet-0a1b2c3d", ("subnet-0a1b2c3d",)),
        ("subnets", "subnet-0a1b2c3d, subnet-4e5f6a7b,", ("subnet-0a1b2c3d", "subnet-4e5f6a7b")),
        ("subnets", "", ()),
        ("security_groups", "sg-0123456789abcdef0", ("sg-0123456789abcdef0",)),
        ("security_groups", " sg-1 ,sg-2 ", ("sg-1", "sg-2")),
    ],
)
def test_id_lists_are_split_and_trimmed(key, raw, expected):
    assert getattr(load(**{key: raw}), key) == expected


@pytest.mark.parametrize(
    ("key", "raw", "bad_item"),
    [
        ("subnets", "vpc-0a1b2c3d", "vpc-0a1b2c3d"),
        ("subnets", "subnet-0a1b2c3d,sg-0123", "sg-0123"),
        ("subnets", "0a1b2c3d", "0a1b2c3d"),
        ("security_groups", "subnet-0a1b2c3d", "subnet-0a1b2c3d"),
        ("security_groups", "sg-1,default", "default"),
    ],
)
def test_id_with_the_wrong_prefix_is_named(key, raw, bad_item):
    error = config_error(**{key: raw})
    prefix = "subnet-" if key == "subnets" else "sg-"
    assert error.key == key
    assert repr(bad_item) in str(error)
    assert prefix in str(error)
    assert OPTIONS_BY_NAME[key].example in str(error)


# --- capacity provider strategies ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("FARGATE_SPOT:1,FARGATE:0", [("FARGATE_SPOT", 1, 0), ("FARGATE", 0, 0)]),
        ("FARGATE_SPOT:4:1, FARGATE:1", [("FARGATE_SPOT", 4, 1), ("FARGATE", 1, 0)]),
        ("FARGATE", [("FARGATE", 1, 0)]),
        ("my-asg:2:10", [("my-asg", 2, 10)]),
        (
            '[{"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 2}, {"capacityProvider": "FARGATE"}]',
            [("FARGATE_SPOT", 3, 2), ("FARGATE", 1, 0)],
        ),
        ([{"capacityProvider": "FARGATE", "weight": 1}], [("FARGATE", 1, 0)]),
        ("", []),
        (None, []),
    ],
)
def test_strategy_forms(raw, expected):
    items = parse_capacity_provider_strategy("capacity_provider_strategy", raw)
    assert items == tuple(CapacityProviderItem(*row) for row in expected)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("FARGATE:one", "whole numbers"),
        ("FARGATE:1:x", "whole numbers"),
        ("FARGATE:1:0:7", "name:weight[:base]"),
        (":1", "name:weight[:base]"),
        ("FARGATE:1001", "0-1000"),
        ("FARGATE:-1", "0-1000"),
        ("FARGATE:1:100001", "0-100000"),
        ("FARGATE:1,FARGATE:2", "named twice"),
        ("FARGATE_SPOT:1:1,FARGATE:1:1", "only one"),
        (",".join(f"cp{i}:1" for i in range(21)), "at most 20"),
        ('[{"capacityProvider": "FARGATE"', "not valid JSON"),
        ('[{"weight": 1}]', "capacityProvider"),
        ('["FARGATE"]', "capacityProvider"),
        ('[{"capacityProvider": "FARGATE", "wieght": 1}]', "wieght"),
        ('[{"capacityProvider": "FARGATE", "weight": "heavy"}]', "whole numbers"),
        ('[{"capacityProvider": "FARGATE", "weight": 1.5}]', "whole numbers"),
        ('[{"capacityProvider": "FARGATE", "weight": 1, "base": 2.9}]', "whole numbers"),
        ('[{"capacityProvider": "FARGATE", "weight": true}]', "whole numbers"),
        ('[{"capacityProvider": "FARGATE", "weight": null}]', "whole numbers"),
        (42, "a string or a list"),
    ],
)
def test_strategy_errors_name_the_key_and_show_a_good_example(raw, says):
    with pytest.raises(ConfigError) as caught:
        parse_capacity_provider_strategy("capacity_provider_strategy", raw)
    message = str(caught.value)
    assert caught.value.key == "capacity_provider_strategy"
    assert says in message
    assert "\n" not in message


@pytest.mark.parametrize("key", ["capacity_provider_strategy", "fallback_capacity_provider_strategy"])
def test_both_strategy_keys_are_checked_through_load_config(key):
    error = config_error(**{key: "FARGATE:lots"})
    assert error.key == key
    assert "e.g. FARGATE_SPOT:1,FARGATE:0" in str(error)


def test_a_strategy_replaces_the_default_launch_type():
    config = load(capacity_provider_strategy="FARGATE_SPOT:1,FARGATE:0")
    assert config.launch_type == ""
    assert config.runs_on_fargate
    assert config.template_values()["capacity_provider_strategy"] == [
        {"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0},
        {"capacityProvider": "FARGATE", "weight": 0, "base": 0},
    ]


def test_a_strategy_with_an_explicitly_empty_launch_type():
    assert load(launch_type="", capacity_provider_strategy="FARGATE:1").launch_type == ""


@pytest.mark.parametrize("launch_type", ["EC2", "EXTERNAL", "MANAGED_INSTANCES", "ec2"])
def test_a_strategy_and_a_non_default_launch_type_are_mutually_exclusive(launch_type):
    error = config_error(launch_type=launch_type, capacity_provider_strategy="FARGATE:1")
    assert error.key == "launch_type"
    assert "mutually exclusive" in str(error)


def test_a_strategy_on_a_non_fargate_provider_is_not_fargate():
    assert not load(capacity_provider_strategy="my-asg:1").runs_on_fargate


@pytest.mark.parametrize(
    ("raw", "expected", "fargate"),
    [
        ("FARGATE", "FARGATE", True),
        ("fargate", "FARGATE", True),
        ("EC2", "EC2", False),
        ("external", "EXTERNAL", False),
        ("MANAGED_INSTANCES", "MANAGED_INSTANCES", False),
        ("", "", False),
    ],
)
def test_launch_types(raw, expected, fargate):
    config = load(launch_type=raw)
    assert config.launch_type == expected
    assert config.runs_on_fargate is fargate


def test_an_unknown_launch_type_lists_the_valid_ones():
    error = config_error(launch_type="LAMBDA")
    assert error.key == "launch_type"
    assert "'LAMBDA'" in str(error)
    assert all(name in str(error) for name in ("FARGATE", "EC2", "EXTERNAL", "MANAGED_INSTANCES"))


# --- run_task_template and URLs ---


def test_run_task_template_that_does_not_exist(tmp_path):
    missing = tmp_path / "nope.json.j2"
    error = config_error(run_task_template=str(missing))
    assert error.key == "run_task_template"
    assert str(missing) in str(error)
    assert "no such file" in str(error)


def test_run_task_template_that_is_a_directory(tmp_path):
    assert config_error(run_task_template=str(tmp_path)).key == "run_task_template"


def test_run_task_template_that_exists(tmp_path):
    template = tmp_path / "run_task.json.j2"
    template.write_text("{}")
    assert load(run_task_template=str(template)).run_task_template == str(template)


@pytest.mark.parametrize("key", ["endpoint_url", "execution_api_server_url", "events_queue_url"])
@pytest.mark.parametrize("bad", ["127.0.0.1:5000", "ftp://example.com", "localhost"])
def test_url_keys_refuse_what_is_not_a_url(key, bad):
    error = config_error(**{key: bad})
    assert error.key == key
    assert repr(bad) in str(error)
    assert "expected a URL, e.g. http" in str(error)


@pytest.mark.parametrize("key", ["endpoint_url", "execution_api_server_url", "events_queue_url"])
def test_url_keys_take_http_and_https(key):
    assert getattr(load(**{key: "http://127.0.0.1:5000"}), key) == "http://127.0.0.1:5000"
    assert getattr(load(**{key: "https://example.com/x"}), key) == "https://example.com/x"


# --- each option's own example is a valid value for it ---


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.name != "run_task_template"], ids=lambda o: o.name)
def test_each_documented_example_is_accepted(option):
    assert option.example, f"{option.name} has no example"
    load(**{option.name: option.example})


# --- Airflow's own conf, with AIRFLOW__ECS_FARGATE__* environment variables ---


@pytest.fixture
def clean_env(monkeypatch):
    for option in OPTIONS:
        monkeypatch.delenv(f"AIRFLOW__ECS_FARGATE__{option.name.upper()}", raising=False)
    return monkeypatch


def test_environment_variables_reach_the_config_through_airflow(clean_env):
    from airflow.configuration import conf

    env = {
        "REGION": "eu-west-1",
        "CLUSTER": "from-env",
        "CONTAINER_NAME": "worker",
        "SUBNETS": "subnet-1,subnet-2",
        "ASSIGN_PUBLIC_IP": "True",
        "LAUNCH_TYPE": "",
        "CAPACITY_PROVIDER_STRATEGY": "FARGATE_SPOT:1,FARGATE:0:1",
        "MAX_RUN_TASK_ATTEMPTS": "9",
        "LAUNCH_RATE": "2.5",
    }
    for name, value in env.items():
        clean_env.setenv(f"AIRFLOW__ECS_FARGATE__{name}", value)
    config = load_config(airflow_getter(conf))
    assert (config.region, config.cluster, config.container_name) == ("eu-west-1", "from-env", "worker")
    assert config.subnets == ("subnet-1", "subnet-2")
    assert config.assign_public_ip is True
    assert config.launch_type == ""
    assert config.capacity_provider_strategy == (
        CapacityProviderItem("FARGATE_SPOT", 1, 0),
        CapacityProviderItem("FARGATE", 0, 1),
    )
    assert config.max_run_task_attempts == 9
    assert config.launch_rate == 2.5


def test_a_required_key_missing_from_the_environment_is_named(clean_env):
    from airflow.configuration import conf

    clean_env.setenv("AIRFLOW__ECS_FARGATE__REGION", "eu-west-1")
    clean_env.setenv("AIRFLOW__ECS_FARGATE__CLUSTER", "from-env")
    with pytest.raises(ConfigError) as caught:
        load_config(airflow_getter(conf))
    assert caught.value.key == "container_name"


def test_a_bad_environment_value_is_named(clean_env):
    from airflow.configuration import conf

    for name, value in REQUIRED.items():
        clean_env.setenv(f"AIRFLOW__ECS_FARGATE__{name.upper()}", value)
    clean_env.setenv("AIRFLOW__ECS_FARGATE__LAUNCH_CONCURRENCY", "many")
    with pytest.raises(ConfigError) as caught:
        load_config(airflow_getter(conf))
    assert caught.value.key == "launch_concurrency"
    assert "'many'" in str(caught.value)


@pytest.mark.parametrize(
    ("section", "typos"),
    [
        ({"region": "x", "clustr": "y"}, ["clustr"]),
        ({"REGION": "x", "Cluster": "y"}, []),
        ({"subnet": "x", "launchtype": "y"}, ["launchtype", "subnet"]),
    ],
)
def test_unknown_keys_are_reported(section, typos):
    assert unknown_keys(section) == typos


# --- OPTIONS, EcsConfig and the provider info agree ---


def test_every_option_is_a_config_field_with_the_same_default():
    fields = {f.name: f for f in dataclasses.fields(EcsConfig)}
    assert [o.name for o in OPTIONS] == list(fields)
    defaults = load()
    for option in OPTIONS:
        if option.required:
            assert option.default is None
            assert fields[option.name].default is dataclasses.MISSING
        else:
            # The declared default string, parsed, is the dataclass default.
            assert getattr(defaults, option.name) == fields[option.name].default, option.name


# What Airflow's type names mean, as a field's value: the declaration says both, so they can disagree.
AIRFLOW_TYPES = {"boolean": bool, "integer": int, "float": float}


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_each_option_s_airflow_type_is_its_field_s_type(option):
    annotation = typing.get_type_hints(EcsConfig)[option.name]
    if option.type in AIRFLOW_TYPES:
        assert annotation is AIRFLOW_TYPES[option.type], f"{option.name}: {option.type} but the field is {annotation}"
    else:
        # A string key may parse into a structure (ids, a strategy, profiles), never into a number or a flag.
        assert option.type == "string" and annotation not in (bool, int, float), option.name
    if not option.required:
        value = option.parse(option.name, option.default or "")
        assert isinstance(value, typing.get_origin(annotation) or annotation), option.name


def test_the_profiles_description_names_every_profile_setting():
    described = OPTIONS_BY_NAME["profiles"].description
    for name in (f.name for f in dataclasses.fields(Profile) if f.name != "name"):
        assert name in described, name


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_provider_info_lists_every_option(option):
    listed = get_provider_info()["config"][SECTION]["options"][option.name]
    assert listed["description"] == option.description and option.description.strip()
    assert listed["type"] == option.type in ("string", "boolean", "integer", "float")
    assert listed["default"] == option.default
    assert listed["example"] == option.example
    assert "version_added" in listed


def test_provider_info_lists_nothing_else():
    info = get_provider_info()
    assert list(info["config"]) == [SECTION]
    assert list(info["config"][SECTION]["options"]) == [o.name for o in OPTIONS]
    assert info["executors"] == ["airflow_ecs.executor.EcsFargateExecutor"]
    json.dumps(info)  # Airflow validates and caches it as JSON


def test_the_provider_entry_point_is_installed():
    entry_points = {ep.value for ep in metadata.entry_points(group="apache_airflow_provider")}
    assert "airflow_ecs.provider:get_provider_info" in entry_points


def test_config_values_for_the_template_are_plain_json():
    config = load(
        subnets="subnet-1",
        security_groups="sg-1",
        capacity_provider_strategy="FARGATE:1",
        fallback_capacity_provider_strategy="FARGATE:1",
    )
    values = config.template_values()
    assert values["subnets"] == ["subnet-1"] and values["security_groups"] == ["sg-1"]
    assert values["fallback_capacity_provider_strategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    assert values["runs_on_fargate"] is True
    json.dumps(values, allow_nan=False)
