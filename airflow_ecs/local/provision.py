"""The one Python provisioner: what terraform/ builds, in boto3 calls, for where Terraform cannot apply.

The local ECS applies terraform/ itself (terraform_apply.py); this is for in-process moto in the fast unit
tests, the executor tests and the benchmarks (devtools/aws_fixtures.py calls it), and for a local ECS on a
machine without Terraform or its AWS provider. It makes the shapes the executor reads as the modules do
(same names from ``name``, cluster with FARGATE/FARGATE_SPOT and the FARGATE default strategy, awsvpc Fargate
task definition with the awslogs container, events queue with its dead-letter queue and the EventBridge rule
on our families), and returns the same outputs JSON as ``terraform output -json``, so the same generator
renders its config. tests/e2e/test_airflow_e2e.py compares the two on one moto.

What it leaves out is what the executor never reads: KMS keys, the flow log, NAT and route tables, the queue
policy and the IAM policies' statements (tests/test_terraform_static.py checks those in the modules).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

NAME = "airflow-ecs-local"  # terraform_apply.LOCAL_NAME: the local deployment's name either way
CONTAINER = "airflow-worker"  # the module's container_name default
LOG_PREFIX = "airflow"  # log_stream_prefix default
IMAGE = "local/airflow-worker:latest"
TASK_CPU = 1024  # task_cpu default
TASK_MEMORY = 2048  # task_memory default (MiB): an Airflow task runner process needs a few hundred
# The events module's defaults.
MESSAGE_RETENTION_SECONDS = 86400
VISIBILITY_TIMEOUT_SECONDS = 60
MAX_RECEIVE_COUNT = 50
ACCOUNT = "123456789012"  # moto's


def _output(value: Any) -> dict[str, Any]:
    kind = "bool" if isinstance(value, bool) else "list" if isinstance(value, list) else "string"
    return {"sensitive": False, "type": kind, "value": value}


def queue_suffixes(count: int) -> list[str]:
    """The events queues' name suffixes as terraform/modules/events names them: the first keeps the name of the
    single queue there was before one queue per scheduler."""
    if not 1 <= count <= 5:
        raise ValueError(f"events_queues {count!r}: expected 1 to 5 (one queue per scheduler, 5 rule targets)")
    return ["" if index == 0 else f"-{index + 1}" for index in range(count)]


def provision(
    clients: Callable[[str], Any],
    region: str,
    *,
    name: str = NAME,
    family: str | None = None,
    execution_api_server_url: str | None = None,
    task_environment: Mapping[str, str] | None = None,
    image: str = IMAGE,
    cpu: int = TASK_CPU,
    memory: int = TASK_MEMORY,
    events_queue: bool = True,
    events_queues: int = 1,
) -> dict[str, dict[str, Any]]:
    """Network, cluster, roles, log group, task definition and (``events_queue``) the events queues (one per
    scheduler, ``events_queues``, as terraform/'s events_queue_count) and rule, named as terraform/ names them for
    ``name``; returns the outputs. ``family`` defaults to <name>-worker."""
    ec2, ecs, iam, logs, events, sqs = (clients(s) for s in ("ec2", "ecs", "iam", "logs", "events", "sqs"))
    family = family or f"{name}-worker"
    log_group = f"/aws/ecs/{name}/worker"
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    # The module's private subnets: cidrsubnet(vpc_cidr, 4, i).
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{16 * i}.0/20", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(zones)
    ]
    security_group = ec2.create_security_group(
        GroupName=f"{name}-worker", Description="Airflow worker tasks: no inbound", VpcId=vpc
    )["GroupId"]
    cluster_arn = ecs.create_cluster(clusterName=name, settings=[{"name": "containerInsights", "value": "enabled"}])[
        "cluster"
    ]["clusterArn"]
    # As the provider sends the module's default strategy: a base of 0 is left out.
    strategy = [{"capacityProvider": "FARGATE", "weight": 1}]
    ecs.put_cluster_capacity_providers(
        cluster=name, capacityProviders=["FARGATE", "FARGATE_SPOT"], defaultCapacityProviderStrategy=strategy
    )
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ecs-tasks.amazonaws.com"}}
            ],
        }
    )
    execution_role = iam.create_role(RoleName=f"{name}-exec", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    task_role = iam.create_role(RoleName=f"{name}-task", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    policy = iam.create_policy(
        PolicyName=f"{name}-scheduler",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask"],
                        "Resource": cluster_arn,
                    }
                ],
            }
        ),
    )["Policy"]["Arn"]
    logs.create_log_group(logGroupName=log_group)
    environment = dict(task_environment or {})
    if execution_api_server_url:
        environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = execution_api_server_url
    definition = ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=str(cpu),
        memory=str(memory),
        executionRoleArn=execution_role,
        taskRoleArn=task_role,
        runtimePlatform={"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        containerDefinitions=[
            {
                "name": CONTAINER,
                "image": image,
                "essential": True,
                "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
                "secrets": [],
                "readonlyRootFilesystem": False,
                "linuxParameters": {"initProcessEnabled": True},
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": log_group,
                        "awslogs-region": region,
                        "awslogs-stream-prefix": LOG_PREFIX,
                    },
                },
            }
        ],
    )["taskDefinition"]
    queue_urls: list[str] = []
    queue_arns: list[str] = []
    if events_queue:
        dlq = sqs.create_queue(
            QueueName=f"{name}-task-events-dlq",
            Attributes={"MessageRetentionPeriod": "1209600", "SqsManagedSseEnabled": "true"},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for suffix in queue_suffixes(events_queues):
            queue_url = sqs.create_queue(
                QueueName=f"{name}-task-events{suffix}",
                Attributes={
                    "MessageRetentionPeriod": str(MESSAGE_RETENTION_SECONDS),
                    "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
                    "ReceiveMessageWaitTimeSeconds": "20",
                    "SqsManagedSseEnabled": "true",
                    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
                },
            )["QueueUrl"]
            queue_urls.append(queue_url)
            queue_arns.append(
                sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            )
        ecs_prefix = ":".join(cluster_arn.split(":")[:5])
        events.put_rule(
            Name=f"{name}-task-state",
            EventPattern=json.dumps(
                {
                    "source": ["aws.ecs"],
                    "detail-type": ["ECS Task State Change"],
                    "detail": {
                        "clusterArn": [cluster_arn],
                        "taskDefinitionArn": [{"prefix": f"{ecs_prefix}:task-definition/{family}:"}],
                    },
                }
            ),
        )
        events.put_targets(
            Rule=f"{name}-task-state",
            Targets=[
                {"Id": f"airflow-ecs-events-queue{suffix}", "Arn": arn}
                for suffix, arn in zip(queue_suffixes(events_queues), queue_arns, strict=True)
            ],
        )
    outputs = {
        "region": _output(region),
        "cluster_name": _output(name),
        "cluster_arn": _output(cluster_arn),
        "task_definition_family": _output(family),
        "task_definition_arn": _output(definition["taskDefinitionArn"]),
        "container_name": _output(CONTAINER),
        "subnet_ids": _output(subnets),
        "security_group_ids": _output([security_group]),
        "assign_public_ip": _output(False),
        "capacity_provider_strategy": _output([{"capacity_provider": "FARGATE", "weight": 1, "base": 0}]),
        "log_group_name": _output(log_group),
        "log_stream_prefix": _output(LOG_PREFIX),
        "execution_role_arn": _output(execution_role),
        "task_role_arn": _output(task_role),
        "scheduler_policy_arn": _output(policy),
        "ecr_repository_url": _output(None),  # no repository: the image is a local one
        "events_queue_url": _output(queue_urls[0] if queue_urls else None),
        "events_queue_arn": _output(queue_arns[0] if queue_arns else None),
        "events_queue_urls": _output(queue_urls),
        "profiles": {"sensitive": False, "type": ["map", "string"], "value": {}},
        "teams": {"sensitive": False, "type": ["object", {}], "value": {}},  # provision_team adds them
    }
    # `terraform output -json` leaves out an output whose value is null.
    return {key: output for key, output in outputs.items() if output["value"] is not None}


def provision_team(
    clients: Callable[[str], Any],
    outputs: Mapping[str, Any],
    team: str,
    *,
    environment: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What terraform/ builds per team (``teams``), on the deployment's cluster: the team's task definition (the
    worker's container with ``environment`` added, its own roles and log group), its events queue and rule;
    returns the team's entry of the ``teams`` output. The deployment's rule is narrowed to the worker's family,
    as Terraform's is, so a team's task events reach only the team's queue."""
    ecs, iam, logs, events, sqs = (clients(s) for s in ("ecs", "iam", "logs", "events", "sqs"))
    prefix = f"airflow-ecs-{team.replace('_', '-')}"
    family, log_group = f"{prefix}-worker", f"/airflow-ecs/{team}/worker"
    cluster_arn = outputs["cluster_arn"]["value"]
    definitions = f"{':'.join(cluster_arn.split(':')[:5])}:task-definition/"
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ecs-tasks.amazonaws.com"}}
            ],
        }
    )
    execution_role = iam.create_role(RoleName=f"{prefix}-execution", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    task_role = iam.create_role(RoleName=f"{prefix}-task", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    policy = iam.create_policy(
        PolicyName=f"{prefix}-scheduler",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": f"{definitions}{family}:*"}],
            }
        ),
    )
    logs.create_log_group(logGroupName=log_group)
    worker = ecs.describe_task_definition(taskDefinition=outputs["task_definition_family"]["value"])["taskDefinition"]
    container = dict(worker["containerDefinitions"][0])
    container["environment"] = sorted(
        [
            *container.get("environment", []),
            *({"name": k, "value": v} for k, v in (environment or {}).items()),
            # As terraform/ sets it: the task runner parses the team's bundle,
            # whose config names the team, which Airflow refuses outside multi-team.
            {"name": "AIRFLOW__CORE__MULTI_TEAM", "value": "True"},
        ],
        key=lambda item: item["name"],
    )
    container["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {**container["logConfiguration"]["options"], "awslogs-group": log_group},
    }
    definition = ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=worker["cpu"],
        memory=worker["memory"],
        executionRoleArn=execution_role,
        taskRoleArn=task_role,
        containerDefinitions=[container],
    )["taskDefinition"]
    dlq = sqs.create_queue(QueueName=f"{prefix}-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # As many queues as the deployment has: every scheduler runs every team's executor.
    suffixes = queue_suffixes(max(1, len((outputs.get("events_queue_urls") or {}).get("value") or [])))
    queue_urls = [
        sqs.create_queue(
            QueueName=f"{prefix}-events{suffix}",
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "50"})},
        )["QueueUrl"]
        for suffix in suffixes
    ]
    queue_arns = [
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for url in queue_urls
    ]

    def route(rule: str, family: str, targets: list[str]) -> None:
        events.put_rule(
            Name=rule,
            EventPattern=json.dumps(
                {
                    "source": ["aws.ecs"],
                    "detail-type": ["ECS Task State Change"],
                    "detail": {
                        "clusterArn": [cluster_arn],
                        "taskDefinitionArn": [{"prefix": f"{definitions}{family}:"}],
                    },
                }
            ),
        )
        events.put_targets(
            Rule=rule,
            Targets=[{"Id": f"sqs{suffix}", "Arn": arn} for suffix, arn in zip(suffixes, targets, strict=True)],
        )

    route(f"{prefix}-task-state", family, queue_arns)
    # The deployment's own rule already names only its worker family (provision() and terraform/ alike), so a
    # team's task events reach only the team's queue.
    return {
        "task_definition_family": family,
        "task_definition_arn": definition["taskDefinitionArn"],
        "container_name": container["name"],
        "log_group_name": log_group,
        "log_stream_prefix": LOG_PREFIX,
        "execution_role_arn": execution_role,
        "task_role_arn": task_role,
        "scheduler_policy_arn": policy["Policy"]["Arn"],
        "events_queue_url": queue_urls[0],
        "events_queue_arn": queue_arns[0],
        "events_queue_urls": queue_urls,
    }
