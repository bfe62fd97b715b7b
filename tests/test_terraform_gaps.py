"""What moto does not do, filled in front of it (airflow_ecs.local.terraform_gaps): the SQS attribute it does not
keep and the container memory its RunTask needs; the decisions, then the layer in front of moto's server."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from airflow_ecs.local.terraform_gaps import (
    GapLayer,
    answer,
    ecs_answer,
    ecs_outgoing,
    ecs_remember,
    outgoing,
    remember,
    task_memory_mib,
)

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


def test_a_redrive_policy_is_answered_as_it_was_given_not_as_moto_rewrites_it():
    given = '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":50}'
    rewritten = '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq", "maxReceiveCount": 50}'
    kept: dict = {}
    remember(
        "AmazonSQS.CreateQueue", {"QueueName": "q", "Attributes": {"RedrivePolicy": given}}, {"QueueUrl": URL}, kept
    )
    request = {"QueueUrl": URL, "AttributeNames": ["RedrivePolicy"]}
    assert outgoing("AmazonSQS.GetQueueAttributes", request) is request  # moto knows this one
    got = answer("AmazonSQS.GetQueueAttributes", request, {"Attributes": {"RedrivePolicy": rewritten}}, kept)
    assert got == {"Attributes": {"RedrivePolicy": given}}
    # Set empty, SQS removes the policy: so does what is kept.
    remember("AmazonSQS.SetQueueAttributes", {"QueueUrl": URL, "Attributes": {"RedrivePolicy": ""}}, {}, kept)
    assert kept == {"/123456789012/dlq": {}}
    response = {"Attributes": {"QueueArn": "arn"}}
    assert answer("AmazonSQS.GetQueueAttributes", request, response, kept) is response


# --- ECS: a container without memory of its own, in a task definition with task-level memory ---

ECS = "AmazonEC2ContainerServiceV20141113."
ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:1"


def registration(**containers: dict) -> dict:
    return {
        "family": "worker",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{"name": name, "image": "i", **extra} for name, extra in containers.items()],
    }


def test_only_a_container_without_memory_or_reservation_gets_the_tasks_memory():
    request = registration(worker={}, sidecar={"memoryReservation": 128}, capped={"memory": 256})
    sent = ecs_outgoing(ECS + "RegisterTaskDefinition", request)
    assert sent["containerDefinitions"] == [
        {"name": "worker", "image": "i", "memoryReservation": 512},
        {"name": "sidecar", "image": "i", "memoryReservation": 128},
        {"name": "capped", "image": "i", "memory": 256},
    ]
    assert request == registration(worker={}, sidecar={"memoryReservation": 128}, capped={"memory": 256})
    # Nothing to fill: the request goes as it came.
    complete = registration(worker={"memory": 512})
    assert ecs_outgoing(ECS + "RegisterTaskDefinition", complete) is complete
    no_task_memory = {**registration(worker={}), "memory": None}
    assert ecs_outgoing(ECS + "RegisterTaskDefinition", no_task_memory) is no_task_memory
    other = registration(worker={})
    assert ecs_outgoing(ECS + "RunTask", other) is other


def test_task_memory_as_ecs_reads_it():
    assert task_memory_mib("2048") == 2048
    assert task_memory_mib(2048) == 2048
    assert task_memory_mib("2 GB") == 2048
    assert task_memory_mib("0.5GB") == 512
    assert task_memory_mib("2 gb") == 2048
    for unreadable in (None, "", "GB", "lots", "0", "-512", "nan GB", "inf GB", True):
        assert task_memory_mib(unreadable) is None, unreadable


def test_every_answer_with_the_definition_shows_what_was_registered():
    request = registration(worker={}, sidecar={"memoryReservation": 128})
    filled: dict = {}
    sent = ecs_outgoing(ECS + "RegisterTaskDefinition", request)
    as_moto_keeps_it = {**sent, "taskDefinitionArn": ARN, "revision": 1, "status": "ACTIVE"}
    ecs_remember(ECS + "RegisterTaskDefinition", request, {"taskDefinition": as_moto_keeps_it}, filled)
    assert filled == {ARN: {"worker": 512}}
    registered = request["containerDefinitions"]
    for response in (
        {"taskDefinition": as_moto_keeps_it, "tags": []},  # Register-, Describe-, DeregisterTaskDefinition
        {"taskDefinitions": [as_moto_keeps_it], "failures": []},  # DeleteTaskDefinitions
    ):
        (definition,) = [response["taskDefinition"]] if "taskDefinition" in response else response["taskDefinitions"]
        answered = ecs_answer(response, filled)
        (shown,) = [answered["taskDefinition"]] if "taskDefinition" in answered else answered["taskDefinitions"]
        assert shown["containerDefinitions"] == registered
        assert shown["taskDefinitionArn"] == ARN and definition is as_moto_keeps_it  # moto's answer not changed
    # Another revision, or one whose reservation is not the one we added, is answered as moto gives it.
    other = {"taskDefinition": {**as_moto_keeps_it, "taskDefinitionArn": ARN[:-1] + "2"}}
    assert ecs_answer(other, filled) is other
    changed = {**as_moto_keeps_it, "containerDefinitions": [{"name": "worker", "memoryReservation": 1024}]}
    assert ecs_answer({"taskDefinition": changed}, filled)["taskDefinition"]["containerDefinitions"] == [
        {"name": "worker", "memoryReservation": 1024}
    ]


memory = st.one_of(st.none(), st.integers(min_value=6, max_value=120_000))


@given(
    task_memory=st.one_of(st.none(), st.integers(min_value=512, max_value=120_000).map(str)),
    containers=st.dictionaries(
        st.text("abcdefgh-", min_size=1, max_size=6),
        st.fixed_dictionaries({}, optional={"memory": memory.filter(bool), "memoryReservation": memory.filter(bool)}),
        min_size=1,
        max_size=4,
    ),
)
def test_what_moto_gets_can_be_placed_and_what_is_answered_is_what_was_registered(task_memory, containers):
    request = {**registration(**containers), "memory": task_memory}
    sent = ecs_outgoing(ECS + "RegisterTaskDefinition", request)
    if task_memory is not None:  # moto's RunTask needs one of the two on every container
        assert all(c.get("memory") or c.get("memoryReservation") for c in sent["containerDefinitions"])
    filled: dict = {}
    response = {"taskDefinition": {**sent, "taskDefinitionArn": ARN}}
    ecs_remember(ECS + "RegisterTaskDefinition", request, response, filled)
    answered = ecs_answer(response, filled)["taskDefinition"]
    assert answered == {**request, "taskDefinitionArn": ARN}


# --- the same through moto's server: the layer in front, boto3 as Terraform's provider and the executor ---


def test_moto_places_a_task_registered_through_the_layer_and_the_layer_answers_what_was_registered(moto_server):
    import boto3
    from botocore.config import Config

    def ecs_at(url):
        return boto3.client(
            "ecs", region_name="us-east-1", endpoint_url=url, config=Config(retries={"max_attempts": 1})
        )

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_server)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as the module's VPC has it
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="w", Description="w", VpcId=vpc)["GroupId"]
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    containers = [{"name": "w", "image": "i", "essential": True}, {"name": "s", "image": "i", "memoryReservation": 64}]
    with GapLayer(moto_server) as layer:
        ecs = ecs_at(layer.url)
        ecs.create_cluster(clusterName="c")
        registered = ecs.register_task_definition(
            family="f",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=containers,
        )["taskDefinition"]
        described = ecs.describe_task_definition(taskDefinition="f")["taskDefinition"]
        (task,) = ecs.run_task(cluster="c", taskDefinition="f", launchType="FARGATE", networkConfiguration=network)[
            "tasks"
        ]
        deregistered = ecs.deregister_task_definition(taskDefinition="f:1")["taskDefinition"]
    for answer_ in (registered, described, deregistered):
        assert [
            {k: c[k] for k in c if k in ("name", "memory", "memoryReservation")}
            for c in answer_["containerDefinitions"]
        ] == [
            {"name": "w"},
            {"name": "s", "memoryReservation": 64},
        ]
    assert task["taskDefinitionArn"] == registered["taskDefinitionArn"]
    # moto keeps the task's memory on the container: that is what lets its RunTask place the task.
    kept = ecs_at(moto_server).describe_task_definition(taskDefinition="f:1")["taskDefinition"]
    assert kept["containerDefinitions"][0]["memoryReservation"] == 512


def test_the_executors_set_up_runs_tasks_and_moto_is_not_patched(moto_server):
    """devtools/aws_fixtures.py registers as terraform/ does (task-level memory only), through the layer; RunTask
    straight at moto (as the executor tests send it) places the task. No method of moto's ECS backend is
    replaced: the gap is filled in front of moto, not inside it (it once was, by wrapping one of them)."""
    from moto.ecs.models import EC2ContainerServiceBackend

    from devtools import aws_fixtures as aws

    resources = aws.provision(moto_server)
    ecs = aws.client(moto_server, "ecs")
    (container,) = ecs.describe_task_definition(taskDefinition=aws.FAMILY)["taskDefinition"]["containerDefinitions"]
    assert "memory" not in container
    network = {
        "awsvpcConfiguration": {"subnets": resources["subnets"], "securityGroups": [resources["security_group"]]}
    }
    (task,) = ecs.run_task(
        cluster=aws.CLUSTER, taskDefinition=aws.FAMILY, launchType="FARGATE", networkConfiguration=network
    )["tasks"]
    assert task["taskDefinitionArn"] == resources["task_definition_arn"]
    patched = [
        name
        for name, value in vars(EC2ContainerServiceBackend).items()
        if callable(getattr(value, "__func__", value))
        and getattr(getattr(value, "__func__", value), "__module__", "moto.").split(".")[0] != "moto"
    ]
    assert patched == []
    own = vars(EC2ContainerServiceBackend)["_calculate_task_resource_requirements"]
    assert own.__func__.__qualname__ == "EC2ContainerServiceBackend._calculate_task_resource_requirements"
    assert not hasattr(own.__func__, "__wrapped__")
