"""[ecs_fargate] profiles, field by field: what each setting becomes, and the exact line for each bad one.
Pure (test_profiles.py launches the profiles against moto's server)."""

from __future__ import annotations

import json

import pytest

from airflow_ecs.core.config import CapacityProviderItem, ConfigError, Profile, parse_profiles


def one(settings: dict) -> Profile:
    (profile,) = parse_profiles(json.dumps({"p": settings}))
    return profile


def test_every_field_is_read_into_the_profile():
    assert one(
        {
            "queues": ["heavy", "etl"],
            "task_definition": " airflow-heavy ",
            "container_name": "heavy-worker",
            "platform_version": "1.4.0",
            "cpu": "1024",
            "memory": 4096,
            "gpu": 1,
            "subnets": "subnet-a, subnet-b",
            "security_groups": ["sg-1"],
            "assign_public_ip": False,
            "tags": {"team": "etl", "cost": 42},
        }
    ) == Profile(
        "p",
        queues=("heavy", "etl"),
        task_definition="airflow-heavy",
        container_name="heavy-worker",
        platform_version="1.4.0",
        cpu=1024,
        memory=4096,
        gpu=1,
        subnets=("subnet-a", "subnet-b"),
        security_groups=("sg-1",),
        assign_public_ip=False,
        tags=(("team", "etl"), ("cost", "42")),
    )


def test_launch_type_is_read_in_any_case_and_capacity_providers_in_boto3_form():
    assert one({"launch_type": " fargate "}).launch_type == "FARGATE"
    assert one({"assign_public_ip": True}).assign_public_ip is True
    strategy = one({"capacity_provider_strategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]})
    assert strategy.capacity_provider_strategy == (CapacityProviderItem("FARGATE_SPOT", 1, 0),)
    assert strategy.launch_type is None


def test_unset_fields_stay_unset():
    assert one({}) == Profile("p")


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ([], "[] : profile 'p', field '(whole)': expected an object of settings"),
        (
            {"cpus": 1},
            (
                "1 : profile 'p', field 'cpus': unknown field; known: queues, task_definition, container_name, "
                "launch_type, capacity_provider_strategy, fallback_capacity_provider_strategy, "
                "platform_version, cpu, memory, gpu, subnets, "
                "security_groups, assign_public_ip, tags"
            ),
        ),
        ({"platform_version": 1}, "1 : profile 'p', field 'platform_version': expected a string"),
        (
            {"launch_type": "LAMBDA"},
            ("'LAMBDA' : profile 'p', field 'launch_type': expected one of FARGATE, EC2, EXTERNAL, MANAGED_INSTANCES"),
        ),
        (
            {"launch_type": "EC2", "capacity_provider_strategy": "FARGATE:1"},
            (
                "'EC2' : profile 'p', field 'launch_type': launch_type and "
                "capacity_provider_strategy are mutually exclusive; "
                "give one"
            ),
        ),
        ({"cpu": 0}, "0 : profile 'p', field 'cpu': expected a positive whole number (CPU units, MiB, GPUs)"),
        (
            {"memory": "lots"},
            "'lots' : profile 'p', field 'memory': expected a positive whole number (CPU units, MiB, GPUs)",
        ),
        ({"gpu": True}, "True : profile 'p', field 'gpu': expected a positive whole number (CPU units, MiB, GPUs)"),
        ({"queues": [""]}, "[''] : profile 'p', field 'queues': expected a list of Airflow queue names"),
        (
            {"subnets": ["vpc-1"]},
            "['vpc-1'] : profile 'p', field 'subnets': expected ids starting with subnet-, separated by commas",
        ),
        (
            {"security_groups": "subnet-1"},
            "'subnet-1' : profile 'p', field 'security_groups': expected ids starting with sg-, separated by commas",
        ),
        ({"assign_public_ip": "yes"}, "'yes' : profile 'p', field 'assign_public_ip': expected true or false"),
        (
            {"tags": {"team": None}},
            "{'team': None} : profile 'p', field 'tags': expected an object of tag names to values",
        ),
        (
            {"tags": {"AWS:x": "y"}},
            (
                "{'AWS:x': 'y'} : profile 'p', field 'tags': tag 'AWS:x': names starting with airflow: "
                "or aws: are the executor's and AWS's"
            ),
        ),
    ],
)
def test_each_bad_field_is_one_line_naming_profile_field_and_value(settings, line):
    value, _, expected = line.partition(" : ")
    with pytest.raises(ConfigError) as caught:
        parse_profiles(json.dumps({"p": settings}))
    assert str(caught.value) == f"[ecs_fargate] profiles = {value}: {expected}"
    assert caught.value.key == "profiles"


@pytest.mark.parametrize(("field", "value", "taken"), [("cpu", 1, 1), ("memory", "512", 512), ("gpu", 16, 16)])
def test_any_positive_whole_number_is_taken(field, value, taken):
    assert getattr(one({field: value}), field) == taken
