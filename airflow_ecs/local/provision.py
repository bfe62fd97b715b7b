"""The local equivalent of what terraform/ builds, and the same outputs JSON, so the same generator renders
the config for the local ECS as for AWS."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

CLUSTER = "airflow-ecs-local"
FAMILY = "airflow-worker"
CONTAINER = "airflow-worker"
LOG_GROUP = "/airflow-ecs/worker"
LOG_PREFIX = "airflow"
TASK_MEMORY = 2048  # MiB: an Airflow task runner process needs a few hundred


def _output(value: Any) -> dict[str, Any]:
    kind = "bool" if isinstance(value, bool) else "list" if isinstance(value, list) else "string"
    return {"sensitive": False, "type": kind, "value": value}


def provision(clients: Callable[[str], Any], region: str, *, execution_api_server_url: str | None = None,
              task_environment: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Create the cluster, network, roles, log group, task definition and events queue; return the outputs."""
    ec2, ecs, iam, logs, events, sqs = (clients(s) for s in ("ec2", "ecs", "iam", "logs", "events", "sqs"))
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for i, zone in enumerate(zones)]
    security_group = ec2.create_security_group(GroupName="airflow-ecs-worker", Description="no inbound",
                                               VpcId=vpc)["GroupId"]
    cluster_arn = ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"],
                                     settings=[{"name": "containerInsights", "value": "enabled"}])["cluster"]["clusterArn"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                 "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]})
    execution_role = iam.create_role(RoleName="airflow-ecs-execution", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    task_role = iam.create_role(RoleName="airflow-ecs-task", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    policy = iam.create_policy(PolicyName="airflow-ecs-scheduler", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask"],
                       "Resource": cluster_arn}]}))["Policy"]["Arn"]
    logs.create_log_group(logGroupName=LOG_GROUP)
    environment = dict(task_environment or {})
    if execution_api_server_url:
        environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = execution_api_server_url
    definition = ecs.register_task_definition(
        family=FAMILY, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="1024", memory=str(TASK_MEMORY),
        executionRoleArn=execution_role, taskRoleArn=task_role,
        containerDefinitions=[{
            "name": CONTAINER, "image": "local/airflow-worker:latest", "essential": True, "memory": TASK_MEMORY,
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": LOG_GROUP, "awslogs-region": region, "awslogs-stream-prefix": LOG_PREFIX}},
        }],
    )["taskDefinition"]
    dlq = sqs.create_queue(QueueName="airflow-ecs-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="airflow-ecs-events", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "50"})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="airflow-ecs-task-state", EventPattern=json.dumps({
        "source": ["aws.ecs"], "detail-type": ["ECS Task State Change"], "detail": {"clusterArn": [cluster_arn]}}))
    events.put_targets(Rule="airflow-ecs-task-state", Targets=[{"Id": "sqs", "Arn": queue_arn}])
    return {
        "region": _output(region),
        "cluster_name": _output(CLUSTER),
        "cluster_arn": _output(cluster_arn),
        "task_definition_family": _output(FAMILY),
        "task_definition_arn": _output(definition["taskDefinitionArn"]),
        "container_name": _output(CONTAINER),
        "subnet_ids": _output(subnets),
        "security_group_ids": _output([security_group]),
        "assign_public_ip": _output(False),
        "capacity_provider_strategy": _output([]),
        "log_group_name": _output(LOG_GROUP),
        "log_stream_prefix": _output(LOG_PREFIX),
        "execution_role_arn": _output(execution_role),
        "task_role_arn": _output(task_role),
        "scheduler_policy_arn": _output(policy),
        "ecr_repository_url": {"sensitive": False, "type": "string", "value": None},
        "events_queue_url": _output(queue_url),
        "events_queue_arn": _output(queue_arn),
    }


def provision_team(clients: Callable[[str], Any], outputs: Mapping[str, Any], team: str, *,
                   environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What terraform/ builds per team (``teams``), on the deployment's cluster: the team's task definition (the
    worker's container with ``environment`` added, its own roles and log group), its events queue and rule;
    returns the team's entry of the ``teams`` output. The deployment's rule is narrowed to the worker's family,
    as Terraform's is, so a team's task events reach only the team's queue."""
    ecs, iam, logs, events, sqs = (clients(s) for s in ("ecs", "iam", "logs", "events", "sqs"))
    prefix = f"airflow-ecs-{team.replace('_', '-')}"
    family, log_group = f"{prefix}-worker", f"/airflow-ecs/{team}/worker"
    cluster_arn = outputs["cluster_arn"]["value"]
    definitions = f"{':'.join(cluster_arn.split(':')[:5])}:task-definition/"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                 "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]})
    execution_role = iam.create_role(RoleName=f"{prefix}-execution", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    task_role = iam.create_role(RoleName=f"{prefix}-task", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    policy = iam.create_policy(PolicyName=f"{prefix}-scheduler", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": f"{definitions}{family}:*"}]}))
    logs.create_log_group(logGroupName=log_group)
    worker = ecs.describe_task_definition(taskDefinition=FAMILY)["taskDefinition"]
    container = dict(worker["containerDefinitions"][0])
    container["environment"] = sorted([*container.get("environment", []),
                                       *({"name": k, "value": v} for k, v in (environment or {}).items()),
                                       # As terraform/ sets it: the task runner parses the team's bundle,
                                       # whose config names the team, which Airflow refuses outside multi-team.
                                       {"name": "AIRFLOW__CORE__MULTI_TEAM", "value": "True"}],
                                      key=lambda item: item["name"])
    container["logConfiguration"] = {"logDriver": "awslogs", "options": {
        **container["logConfiguration"]["options"], "awslogs-group": log_group}}
    definition = ecs.register_task_definition(
        family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu=worker["cpu"],
        memory=worker["memory"], executionRoleArn=execution_role, taskRoleArn=task_role,
        containerDefinitions=[container])["taskDefinition"]
    dlq = sqs.create_queue(QueueName=f"{prefix}-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=f"{prefix}-events", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "50"})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def route(rule: str, family: str, target: str) -> None:
        events.put_rule(Name=rule, EventPattern=json.dumps({
            "source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
            "detail": {"clusterArn": [cluster_arn], "taskDefinitionArn": [{"prefix": f"{definitions}{family}:"}]}}))
        events.put_targets(Rule=rule, Targets=[{"Id": "sqs", "Arn": target}])

    route(f"{prefix}-task-state", family, queue_arn)
    route("airflow-ecs-task-state", FAMILY, outputs["events_queue_arn"]["value"])
    return {
        "task_definition_family": family,
        "task_definition_arn": definition["taskDefinitionArn"],
        "container_name": container["name"],
        "log_group_name": log_group,
        "log_stream_prefix": LOG_PREFIX,
        "execution_role_arn": execution_role,
        "task_role_arn": task_role,
        "scheduler_policy_arn": policy["Policy"]["Arn"],
        "events_queue_url": queue_url,
        "events_queue_arn": queue_arn,
    }
