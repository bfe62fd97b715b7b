"""Small AWS set-ups on moto's server, shared by the executor tests."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "us-east-1"
CLUSTER = "airflow-test"
FAMILY = "airflow-worker"
CONTAINER = "airflow-worker"


def client(endpoint_url: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def provision(endpoint_url: str) -> dict[str, Any]:
    """A cluster, a task definition with an awslogs container, two subnets and a security group."""
    ecs, ec2, logs = (client(endpoint_url, s) for s in ("ecs", "ec2", "logs"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    sg = ec2.create_security_group(GroupName="worker", Description="worker", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    logs.create_log_group(logGroupName="/airflow-ecs/worker")
    definition = ecs.register_task_definition(
        family=FAMILY,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{
            "name": CONTAINER,
            "image": "apache/airflow:3.3.2",
            "memory": 512,
            "essential": True,
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/airflow-ecs/worker", "awslogs-region": REGION, "awslogs-stream-prefix": "airflow"}},
        }],
    )["taskDefinition"]
    return {"subnets": subnets, "security_group": sg, "task_definition_arn": definition["taskDefinitionArn"]}


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
