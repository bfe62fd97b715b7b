"""Small AWS set-ups on moto's server, shared by the executor tests and the benchmarks."""

from __future__ import annotations

from typing import Any

import boto3

from airflow_ecs.local.provision import provision as local_provision
from airflow_ecs.local.terraform_gaps import GapLayer

REGION = "us-east-1"
CLUSTER = "airflow-test"
FAMILY = "airflow-worker"
CONTAINER = "airflow-worker"
LOG_GROUP = f"/aws/ecs/{CLUSTER}/worker"  # the module's /aws/ecs/<name>/worker


def client(endpoint_url: str, service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def provision(endpoint_url: str) -> dict[str, Any]:
    """What terraform/ builds (airflow_ecs.local.provision, the one provisioner) for a deployment named
    airflow-test, with a 0.25 vCPU / 512 MiB task definition of the public Airflow image.

    Made through our local layer in front of moto (terraform_gaps.GapLayer), as the local ECS makes it: moto's
    RunTask can place the task definition's container, which has task-level memory only, as terraform/ registers
    it. The layer ends with the set-up (no thread outlives a test), so a DescribeTaskDefinition straight at moto
    shows the container with the task's memory as its memoryReservation, as moto keeps it."""
    with GapLayer(endpoint_url) as layer:
        outputs = local_provision(
            lambda service: client(layer.url, service),
            REGION,
            name=CLUSTER,
            family=FAMILY,
            image="apache/airflow:3.3.2",
            cpu=256,
            memory=512,
        )
    return {
        "subnets": outputs["subnet_ids"]["value"],
        "security_group": outputs["security_group_ids"]["value"][0],
        "task_definition_arn": outputs["task_definition_arn"]["value"],
        "outputs": outputs,
    }


def env_for(endpoint_url: str, resources: dict[str, Any], **extra: str) -> dict[str, str]:
    """AIRFLOW__ECS_FARGATE__* variables for an executor pointed at moto."""
    values = {
        "region": REGION,
        "cluster": CLUSTER,
        "container_name": CONTAINER,
        "task_definition": FAMILY,
        "subnets": ",".join(resources["subnets"]),
        "security_groups": resources["security_group"],
        "endpoint_url": endpoint_url,
        **extra,
    }
    return {f"AIRFLOW__ECS_FARGATE__{key.upper()}": value for key, value in values.items()}
