"""The SQS attribute moto does not keep, kept in front of it (airflow_ecs.local.terraform_gaps): the decisions."""

from __future__ import annotations

from airflow_ecs.local.terraform_gaps import answer, outgoing, remember

URL = "http://127.0.0.1:5000/123456789012/dlq"
POLICY = '{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:123456789012:events"]}'


def test_a_set_redrive_allow_policy_is_returned_by_get_queue_attributes():
    kept: dict = {}
    remember("AmazonSQS.SetQueueAttributes", {"QueueUrl": URL, "Attributes": {"RedriveAllowPolicy": POLICY}}, {}, kept)
    # The provider asks with the host it was given; moto answers with its own: the path names the queue.
    request = {"QueueUrl": "http://localhost:5000/123456789012/dlq", "AttributeNames": ["All"]}
    got = answer("AmazonSQS.GetQueueAttributes", request, {"Attributes": {"QueueArn": "arn"}}, kept)
    assert got == {"Attributes": {"QueueArn": "arn", "RedriveAllowPolicy": POLICY}}


def test_only_when_asked_for_and_only_for_that_queue():
    kept: dict = {}
    remember(
        "AmazonSQS.CreateQueue",
        {"QueueName": "dlq", "Attributes": {"RedriveAllowPolicy": POLICY}},
        {"QueueUrl": URL},
        kept,
    )
    response = {"Attributes": {"QueueArn": "arn"}}
    assert (
        answer("AmazonSQS.GetQueueAttributes", {"QueueUrl": URL, "AttributeNames": ["QueueArn"]}, response, kept)
        is response
    )
    other = {"QueueUrl": URL.replace("dlq", "events"), "AttributeNames": ["All"]}
    assert answer("AmazonSQS.GetQueueAttributes", other, response, kept) is response
    assert answer("AmazonSQS.ReceiveMessage", {"QueueUrl": URL}, response, kept) is response


def test_a_deleted_queue_forgets_it():
    kept: dict = {}
    remember("AmazonSQS.SetQueueAttributes", {"QueueUrl": URL, "Attributes": {"RedriveAllowPolicy": POLICY}}, {}, kept)
    remember("AmazonSQS.DeleteQueue", {"QueueUrl": URL}, {}, kept)
    response = {"Attributes": {}}
    assert (
        answer("AmazonSQS.GetQueueAttributes", {"QueueUrl": URL, "AttributeNames": ["All"]}, response, kept) is response
    )


def test_moto_is_not_asked_for_the_attribute_it_refuses():
    request = {"QueueUrl": URL, "AttributeNames": ["RedriveAllowPolicy"]}
    assert outgoing("AmazonSQS.GetQueueAttributes", request) == {"QueueUrl": URL, "AttributeNames": []}
    untouched = {"QueueUrl": URL, "AttributeNames": ["All"]}
    assert outgoing("AmazonSQS.GetQueueAttributes", untouched) is untouched


# --- RunTask of a task definition with task-level memory only ---


def test_a_container_without_memory_counts_the_tasks_memory():
    from airflow_ecs.local.terraform_gaps import container_memory_filled

    containers = [
        {"name": "airflow-worker"},
        {"name": "sidecar", "memoryReservation": 128},
        {"name": "capped", "memory": 256},
    ]
    assert container_memory_filled("2048", containers) == [
        {"name": "airflow-worker", "memory": 2048},
        {"name": "sidecar", "memoryReservation": 128},
        {"name": "capped", "memory": 256},
    ]
    assert containers[0] == {"name": "airflow-worker"}  # the registered definition is not changed


def test_moto_runs_a_fargate_task_definition_with_task_level_memory_only(moto_server, monkeypatch):
    """Without the gap filled moto answers 500 (TypeError in its placement); with it the task is placed."""
    from moto.ecs.models import EC2ContainerServiceBackend

    from airflow_ecs.local.terraform_gaps import fill_in_process_gaps

    calculate = EC2ContainerServiceBackend._calculate_task_resource_requirements
    if getattr(calculate, "airflow_ecs_gap", False):  # an earlier test in this process installed it
        monkeypatch.setattr(
            EC2ContainerServiceBackend, "_calculate_task_resource_requirements", staticmethod(calculate.__wrapped__)
        )
    import boto3
    import botocore.exceptions
    import pytest
    from botocore.config import Config

    ecs = boto3.client(
        "ecs", region_name="us-east-1", endpoint_url=moto_server, config=Config(retries={"max_attempts": 1})
    )
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_server)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as the module's VPC has it
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="w", Description="w", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(
        family="f",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "w", "image": "i", "essential": True}],
    )
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    with pytest.raises(botocore.exceptions.ClientError, match="500"):
        ecs.run_task(cluster="c", taskDefinition="f", launchType="FARGATE", networkConfiguration=network)
    fill_in_process_gaps()
    fill_in_process_gaps()  # once is enough: a second call does not wrap the wrapper
    (task,) = ecs.run_task(cluster="c", taskDefinition="f", launchType="FARGATE", networkConfiguration=network)["tasks"]
    assert task["taskDefinitionArn"].endswith(":task-definition/f:1")
