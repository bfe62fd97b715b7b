"""ECS Task State Change events as SQS delivers them: parsed, filtered, and ordered per task."""

from __future__ import annotations

import json

import pytest

from airflow_ecs.core.events import TaskEvent, is_newer, parse_event

TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/airflow/0123456789abcdef0123456789abcdef"
TI_ID = "0195f3c4-8e1b-7d2a-9c3e-5a6b7c8d9e0f"


def eventbridge_event(**detail_changes) -> dict:
    """An EventBridge event in the shape AWS documents for ECS task state changes."""
    detail = {
        "attachments": [
            {
                "id": "1789bcae",
                "type": "eni",
                "status": "ATTACHED",
                "details": [
                    {"name": "subnetId", "value": "subnet-0a1b2c3d"},
                    {"name": "privateIPv4Address", "value": "10.0.1.20"},
                ],
            }
        ],
        "availabilityZone": "us-east-1a",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/airflow",
        "containers": [
            {
                "containerArn": "arn:aws:ecs:us-east-1:123456789012:container/airflow/0123/abcd",
                "exitCode": 0,
                "lastStatus": "STOPPED",
                "name": "airflow-worker",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow:3.1",
                "taskArn": TASK_ARN,
                "networkInterfaces": [{"attachmentId": "1789bcae", "privateIpv4Address": "10.0.1.20"}],
                "cpu": "0",
            }
        ],
        "createdAt": "2026-01-01T00:00:00.000Z",
        "launchType": "FARGATE",
        "cpu": "256",
        "memory": "512",
        "desiredStatus": "STOPPED",
        "group": "family:airflow-worker",
        "lastStatus": "STOPPED",
        "overrides": {"containerOverrides": [{"name": "airflow-worker", "command": ["python", "-m", "x"]}]},
        "connectivity": "CONNECTED",
        "startedAt": "2026-01-01T00:00:30.000Z",
        "startedBy": TI_ID,
        "stopCode": "EssentialContainerExited",
        "stoppedAt": "2026-01-01T00:05:00.000Z",
        "stoppedReason": "Essential container in task exited",
        "updatedAt": "2026-01-01T00:05:00.000Z",
        "taskArn": TASK_ARN,
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/airflow-worker:3",
        "version": 6,
        "platformVersion": "1.4.0",
    }
    detail.update(detail_changes)
    return {
        "version": "0",
        "id": "3317b2af-7005-947d-b652-f55e762e571a",
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": "123456789012",
        "time": "2026-01-01T00:05:00Z",
        "region": "us-east-1",
        "resources": [TASK_ARN],
        "detail": detail,
    }


def test_a_real_shaped_event():
    body = json.dumps(eventbridge_event())
    event = parse_event(body)
    assert isinstance(event, TaskEvent)
    assert event.task_arn == TASK_ARN
    assert event.version == 6
    assert event.started_by == TI_ID
    assert event.detail["lastStatus"] == "STOPPED"
    assert event.detail["containers"][0]["exitCode"] == 0


@pytest.mark.parametrize(
    ("changes", "version", "started_by"),
    [
        ({"version": "12"}, 12, TI_ID),
        ({"version": None}, 0, TI_ID),
        ({"version": "latest"}, 0, TI_ID),
        ({"startedBy": None}, 6, ""),
        ({"startedBy": ""}, 6, ""),
        ({"someFieldAwsAddsLater": {"x": 1}}, 6, TI_ID),
    ],
)
def test_tolerated_variations(changes, version, started_by):
    event = parse_event(json.dumps(eventbridge_event(**changes)))
    assert (event.version, event.started_by) == (version, started_by)


def test_an_event_without_a_version_counts_as_version_0():
    body = eventbridge_event()
    del body["detail"]["version"]
    assert parse_event(json.dumps(body)).version == 0


@pytest.mark.parametrize(
    "detail_type", ["ECS Container Instance State Change", "ECS Service Action", "ECS Deployment State Change", None]
)
def test_other_ecs_events_are_not_task_events(detail_type):
    body = eventbridge_event()
    if detail_type is None:
        del body["detail-type"]
    else:
        body["detail-type"] = detail_type
    assert parse_event(json.dumps(body)) is None


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "{",
        "[]",
        "null",
        "42",
        '"ECS Task State Change"',
        None,
        b"\xff\xfe",
        json.dumps({"detail-type": "ECS Task State Change"}),
        json.dumps({"detail-type": "ECS Task State Change", "detail": "STOPPED"}),
        json.dumps({"detail-type": "ECS Task State Change", "detail": {"lastStatus": "STOPPED"}}),
        json.dumps({"detail-type": "ECS Task State Change", "detail": {"taskArn": 12}}),
        json.dumps({"Type": "Notification", "Message": "{}"}),
    ],
    ids=lambda body: repr(body)[:40],
)
def test_garbage_is_none(body):
    assert parse_event(body) is None


@pytest.mark.parametrize(
    ("event_version", "applied_version", "newer"),
    [
        (1, -1, True),  # the first event of a task the executor has not heard of yet
        (0, -1, True),
        (2, 1, True),
        (10, 2, True),
        (1, 1, False),  # a duplicate delivery
        (3, 4, False),  # an older event arriving late
        (0, 5, False),
    ],
)
def test_is_newer(event_version, applied_version, newer):
    assert is_newer(event_version, applied_version) is newer
