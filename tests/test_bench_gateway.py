"""The benchmark gateway's DescribeTasks by ARN (benchmarks/gateway.py) answers what moto's own scan answers.

The gateway runs as ``make bench`` runs it, its own process; moto answers the same call on the admin port (plain
moto), so each case compares the two answers to the same request, and the gateway's count of calls it answered
itself shows which path answered.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from devtools import aws_fixtures as aws
from devtools.airflow_stack import free_port

REPO = Path(__file__).resolve().parents[1]


def control(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    with urllib.request.urlopen(f"{url}/_bench/{path}", data=json.dumps(body or {}).encode(), timeout=30) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def gateway():
    port, admin_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "benchmarks" / "gateway.py"), "--port", str(port), "--admin-port", str(admin_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url, admin = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            control(url, "counts")
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "benchmarks/gateway.py did not start"
            time.sleep(0.2)
    try:
        # As the benchmark sets moto (run.py's fresh_world): tasks change state only when the harness says so,
        # so a describe does not move a task on and both describes of a case see the same state.
        request = urllib.request.Request(
            f"{admin}/moto-api/state-manager/set-transition",
            data=json.dumps(
                {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**12}}
            ).encode(),
        )
        urllib.request.urlopen(request, timeout=30).close()
        world = aws.provision(admin)
        ecs = aws.client(admin, "ecs")
        network = {"awsvpcConfiguration": {"subnets": world["subnets"], "securityGroups": [world["security_group"]]}}
        arns = []
        for tags in ([], [{"key": "team", "value": "a"}], []):
            tagged = {"tags": tags} if tags else {}
            started = ecs.run_task(
                cluster=aws.CLUSTER,
                taskDefinition=aws.FAMILY,
                launchType="FARGATE",
                count=10,
                networkConfiguration=network,
                startedBy="bench",
                **tagged,
            )
            arns += [task["taskArn"] for task in started["tasks"]]
        ecs.create_cluster(clusterName="other")
        other = ecs.run_task(
            cluster="other", taskDefinition=aws.FAMILY, launchType="FARGATE", networkConfiguration=network
        )
        yield {
            "gateway": aws.client(url, "ecs"),
            "moto": ecs,
            "url": url,
            "arns": arns,
            "other": other["tasks"][0]["taskArn"],
        }
    finally:
        process.terminate()
        process.wait(timeout=30)


def both(gateway: dict[str, Any], **request: Any) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The gateway's answer, moto's own to the same request, and how many the gateway answered itself."""
    before = control(gateway["url"], "indexed")["describe_tasks"]
    ours = gateway["gateway"].describe_tasks(**request)
    answered = control(gateway["url"], "indexed")["describe_tasks"] - before
    theirs = gateway["moto"].describe_tasks(**request)
    for answer in (ours, theirs):
        answer.pop("ResponseMetadata")
    return ours, theirs, answered


def by_arn(answer: dict[str, Any]) -> dict[str, Any]:
    """moto answers in its storage order, the index in the order asked; ECS documents none."""
    return {**answer, "tasks": sorted(answer["tasks"], key=lambda task: task["taskArn"])}


@pytest.mark.parametrize("include", [[], ["TAGS"]])
def test_describe_tasks_by_arn_is_moto_s_answer(gateway, include):
    asked = gateway["arns"][25:] + gateway["arns"][:12]  # the tagged ones and others, out of storage order
    ours, theirs, answered = both(gateway, cluster=aws.CLUSTER, tasks=asked, include=include)
    assert answered == 1
    assert [task["taskArn"] for task in ours["tasks"]] == asked
    assert by_arn(ours) == by_arn(theirs)
    assert len(theirs["tasks"]) == 17 and theirs["failures"] == []
    assert any(task.get("tags") for task in ours["tasks"]) == bool(include)


def test_an_arn_asked_twice_is_one_task_as_moto_answers_it(gateway):
    asked = [gateway["arns"][3], gateway["arns"][3], gateway["arns"][4]]
    ours, theirs, answered = both(
        gateway, cluster=f"arn:aws:ecs:{aws.REGION}:123456789012:cluster/{aws.CLUSTER}", tasks=asked
    )
    assert answered == 1
    assert by_arn(ours) == by_arn(theirs) and len(ours["tasks"]) == 2


@pytest.mark.parametrize(
    "case",
    ["task id", "unknown arn", "another cluster's task"],
)
def test_what_the_index_cannot_answer_exactly_goes_to_moto(gateway, case):
    first = gateway["arns"][0]
    extra = {
        "task id": first.rsplit("/", 1)[-1],
        "unknown arn": first[:-4] + "0000",
        "another cluster's task": gateway["other"],
    }[case]
    ours, theirs, answered = both(gateway, cluster=aws.CLUSTER, tasks=[gateway["arns"][1], extra])
    assert answered == 0
    assert ours == theirs


def test_moto_s_errors_stay_moto_s(gateway):
    from botocore.exceptions import ClientError

    for request in ({"cluster": "no-such-cluster", "tasks": gateway["arns"][:1]},):
        errors = []
        for client in (gateway["gateway"], gateway["moto"]):
            with pytest.raises(ClientError) as error:
                client.describe_tasks(**request)
            errors.append(error.value.response["Error"])
        assert errors[0] == errors[1]
