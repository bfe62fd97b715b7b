"""The fault layer on its own: fault selection as a function of the plan, RunTask's clientToken idempotency,
and the proxy in front of a real moto server answering botocore the way ECS would fail."""

from __future__ import annotations

import threading
import time
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from airflow_ecs.core.failures import FailureKind, classify_error
from airflow_ecs.local.faults import (
    ECS_PREFIX,
    SQS_PREFIX,
    ClientTokens,
    FaultPlan,
    FaultyEvents,
    TokenBucket,
    choose_event_fault,
    choose_fault,
    parse_target,
    request_fingerprint,
    signed_action,
)
from airflow_ecs.local.server import LocalEcs

pytestmark = pytest.mark.timeout(120)

# What a call through the fault layer raises: an AWS error answer, or a broken connection or timeout.
BOTOCORE_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)


# --- decisions ---


def test_the_target_header_names_the_service_and_the_action():
    assert parse_target("AmazonEC2ContainerServiceV20141113.RunTask") == (ECS_PREFIX, "RunTask")
    assert parse_target("AmazonSQS.ReceiveMessage") == (SQS_PREFIX, "ReceiveMessage")
    assert parse_target(None) == ("", "")


def test_a_signed_call_is_counted_as_service_and_action():
    auth = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=x"
    assert signed_action({"Authorization": auth, "X-Amz-Target": f"{ECS_PREFIX}.RunTask"}, b"") == "ecs.RunTask"
    query = auth.replace("/ecs/", "/sqs/")
    assert signed_action({"Authorization": query}, b"Action=ReceiveMessage&Version=2012-11-05") == "sqs.ReceiveMessage"
    assert signed_action({}, b"") == "unknown.?"


def test_the_run_task_bucket_allows_the_burst_then_the_rate():
    now = [0.0]
    bucket = TokenBucket(rate=20.0, burst=100, clock=lambda: now[0])
    assert sum(bucket.take() for _ in range(150)) == 100
    now[0] += 0.5  # 10 tokens back
    assert sum(bucket.take() for _ in range(50)) == 10


def test_a_roll_picks_the_fault_whose_band_it_falls_in():
    plan = FaultPlan(throttle=0.1, server_error=0.2, reset_after=0.1, capacity=0.1)
    pick = lambda roll, action="RunTask": choose_fault(plan, ECS_PREFIX, action, roll)  # noqa: E731
    assert pick(0.05) == "throttle"
    assert pick(0.25) == "server_error"
    assert pick(0.35) == "reset_after"
    assert pick(0.45) == "capacity"
    assert pick(0.45, "DescribeTasks") is None  # capacity failures are RunTask's only
    assert pick(0.55) is None
    assert choose_fault(plan, "Logs_20140328", "GetLogEvents", 0.0) is None  # not a faulted service


def test_rates_are_checked():
    with pytest.raises(ValueError, match=r"FaultPlan.throttle = 1.5: expected a probability"):
        FaultPlan(throttle=1.5)
    with pytest.raises(ValueError, match=r"add up to 1\.2"):
        FaultPlan(throttle=0.6, reset_after=0.6)
    with pytest.raises(ValueError, match="event_drop \\+ event_duplicate \\+ event_delay must be at most 1"):
        FaultPlan(event_drop=0.5, event_delay=0.6)
    # The event faults have a budget of their own, apart from the HTTP faults': both may be 1 at once.
    plan = FaultPlan(throttle=1.0, event_drop=0.5, event_delay=0.5)
    assert (plan.throttle, plan.event_drop, plan.event_delay) == (1.0, 0.5, 0.5)


def test_event_faults_by_band():
    plan = FaultPlan(event_drop=0.1, event_duplicate=0.1, event_delay=0.1)
    assert [choose_event_fault(plan, r) for r in (0.05, 0.15, 0.25, 0.35)] == ["drop", "duplicate", "delay", None]


# --- clientToken idempotency ---


def placed(arn: str = "arn:task/1"):
    return 200, [], f'{{"tasks": [{{"taskArn": "{arn}"}}], "failures": []}}'.encode()


def test_the_same_token_and_request_replays_the_first_answer():
    tokens, calls = ClientTokens(window=60), []
    forward = lambda: calls.append(1) or placed()  # noqa: E731
    first = tokens.run("t", request_fingerprint({"a": 1, "clientToken": "t"}), forward)
    again = tokens.run("t", request_fingerprint({"clientToken": "t", "a": 1}), forward)  # key order is not a change
    assert again == first and len(calls) == 1 and tokens.replays == 1


def test_the_same_token_with_another_request_is_a_conflict():
    tokens = ClientTokens(window=60)
    tokens.run("t", request_fingerprint({"a": 1}), placed)
    status, _, body = tokens.run("t", request_fingerprint({"a": 2}), lambda: pytest.fail("must not reach ECS"))
    assert status == 400 and b"ConflictException" in body and tokens.conflicts == 1


def test_an_answer_that_placed_nothing_is_not_remembered():
    tokens, answers = (
        ClientTokens(window=60),
        [(500, [], b"{}"), (200, [], b'{"tasks": [], "failures": [{}]}'), placed()],
    )
    assert [tokens.run("t", "f", lambda: answers.pop(0))[0] for _ in range(3)] == [500, 200, 200]
    assert tokens.run("t", "f", lambda: pytest.fail("replayed"))[2] == placed()[2]


def test_a_token_is_forgotten_after_the_window():
    now = [0.0]
    tokens, calls = ClientTokens(window=10, clock=lambda: now[0]), []
    tokens.run("t", "f", lambda: calls.append(1) or placed("arn:1"))
    now[0] = 11.0
    assert tokens.run("t", "f", lambda: calls.append(1) or placed("arn:2"))[2] == placed("arn:2")[2]
    assert len(calls) == 2


def test_two_copies_in_flight_at_once_reach_ecs_once():
    # The clock is read once per call as it looks its token up: the second read, made while the first call is
    # still held inside forward(), proves both copies were in flight at once. No sleep decides the order.
    both_in = threading.Event()
    reads: list[int] = []

    def clock() -> float:
        reads.append(1)
        if len(reads) == 2:
            both_in.set()
        return 0.0

    tokens, calls, in_forward, gate = ClientTokens(window=60, clock=clock), [], threading.Event(), threading.Event()

    def slow_forward():
        calls.append(1)
        in_forward.set()
        assert gate.wait(10), "the test never let the first call go"
        return placed()

    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(tokens.run("t", "f", slow_forward))) for _ in range(2)]
    try:
        threads[0].start()
        assert in_forward.wait(10)
        threads[1].start()
        assert both_in.wait(10), "the second copy never reached the token table"
        assert results == []  # both in flight, neither answered yet
    finally:
        gate.set()
        for thread in threads:
            thread.join(10)
    assert len(calls) == 1 and results[0] == results[1] == placed() and tokens.replays == 1


# --- late, doubled and lost events ---


class RecordingEvents:
    def __init__(self):
        self.sent: list[dict] = []

    def put_events(self, **kwargs):
        self.sent.append(kwargs)
        return {"FailedEntryCount": 0}


def test_events_are_dropped_doubled_or_delayed_by_rate():
    def publish(plan: FaultPlan, n: int = 3) -> list[int]:
        client = RecordingEvents()
        faulty = FaultyEvents(client, plan)
        for index in range(n):
            faulty.put_events(Entries=[{"Detail": str(index)}])
        immediately = len(client.sent)
        time.sleep(2.5)
        faulty.stop()
        return [immediately, len(client.sent)]

    assert publish(FaultPlan(event_drop=1.0)) == [0, 0]
    assert publish(FaultPlan(event_duplicate=1.0)) == [3, 6]
    assert publish(FaultPlan(event_delay=1.0, event_delay_seconds=(0.5, 1.0))) == [0, 3]
    assert publish(FaultPlan()) == [3, 3]


# --- the proxy in front of moto ---


@pytest.fixture(scope="module")
def local():
    with LocalEcs(port=0, start_delay=0.2, max_concurrent=4, stop_timeout=1.0, fault_plan=FaultPlan()) as ecs:
        yield ecs


def faulted(local: LocalEcs, plan: FaultPlan) -> Any:
    """An ECS client through the fault layer that makes one attempt with a short read timeout."""
    local.faults.plan = plan
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=0.5, connect_timeout=2)
    import boto3

    return boto3.client(
        "ecs",
        region_name=local.region,
        endpoint_url=local.executor_endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=config,
    )


def run_task_request(local: LocalEcs, token: str, started_by: str, seconds: int = 3) -> dict:
    value = local.outputs
    return dict(
        cluster=value["cluster_name"]["value"],
        taskDefinition=value["task_definition_family"]["value"],
        launchType="FARGATE",
        startedBy=started_by,
        clientToken=token,
        overrides={
            "containerOverrides": [
                {
                    "name": value["container_name"]["value"],
                    "command": ["python", "-c", f"import time; time.sleep({seconds})"],
                }
            ]
        },
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": value["subnet_ids"]["value"],
                "securityGroups": value["security_group_ids"]["value"],
            }
        },
    )


@pytest.mark.parametrize("fault", ["reset_after", "timeout_after", "server_error_after"])
def test_a_retry_after_the_call_reached_ecs_returns_the_task_it_started(local, fault):
    request = run_task_request(local, f"token-{fault}", f"try-{fault}")
    with pytest.raises(BOTOCORE_ERRORS) as raised:
        faulted(local, FaultPlan(**{fault: 1.0}, stall_seconds=1.5)).run_task(**request)
    assert classify_error(raised.value).kind is FailureKind.TRANSIENT, raised.value
    # The container was started although the caller never heard so.
    assert local.runtime.launches_by_started_by[f"try-{fault}"] == 1
    retry = faulted(local, FaultPlan()).run_task(**request)
    arn = retry["tasks"][0]["taskArn"]
    assert local.runtime.tasks[arn].moto_task.started_by == f"try-{fault}"
    assert faulted(local, FaultPlan()).run_task(**request)["tasks"][0]["taskArn"] == arn
    assert local.runtime.launches_by_started_by[f"try-{fault}"] == 1  # still one container


def test_a_reused_token_with_other_parameters_is_refused(local):
    client = faulted(local, FaultPlan())
    client.run_task(**run_task_request(local, "token-conflict", "try-conflict", seconds=1))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.run_task(**run_task_request(local, "token-conflict", "try-conflict", seconds=2))
    assert raised.value.response["Error"]["Code"] == "ConflictException"
    assert local.runtime.launches_by_started_by["try-conflict"] == 1


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("throttle", FailureKind.THROTTLED),
        ("server_error", FailureKind.TRANSIENT),
        ("unavailable", FailureKind.TRANSIENT),
        ("reset_before", FailureKind.TRANSIENT),
        ("timeout_before", FailureKind.TRANSIENT),
    ],
)
def test_a_fault_before_ecs_starts_nothing_and_reads_as_the_executor_expects(local, fault, kind):
    request = run_task_request(local, f"token-{fault}", f"try-{fault}")
    with pytest.raises(BOTOCORE_ERRORS) as raised:
        faulted(local, FaultPlan(**{fault: 1.0}, stall_seconds=1.5)).run_task(**request)
    assert classify_error(raised.value).kind is kind, raised.value
    assert f"try-{fault}" not in local.runtime.launches_by_started_by


def test_capacity_failures_place_no_task(local):
    reasons = set()
    for index in range(8):
        response = faulted(local, FaultPlan(capacity=1.0, seed=index)).run_task(
            **run_task_request(local, f"token-capacity-{index}", "try-capacity")
        )
        assert response["tasks"] == []
        reasons.add(response["failures"][0]["reason"].split(".")[0])
    assert reasons == {"RESOURCE:MEMORY", "Capacity is unavailable at this time"}
    assert "try-capacity" not in local.runtime.launches_by_started_by


def test_describe_tasks_answers_young_tasks_missing(local):
    client = faulted(local, FaultPlan())
    arn = client.run_task(**run_task_request(local, "token-missing", "try-missing", seconds=1))["tasks"][0]["taskArn"]
    cluster = local.outputs["cluster_name"]["value"]
    response = faulted(local, FaultPlan(describe_missing=1.0, missing_max_age=30)).describe_tasks(
        cluster=cluster, tasks=[arn]
    )
    assert response["tasks"] == [] and response["failures"] == [{"arn": arn, "reason": "MISSING"}]
    # Past the age window ECS knows the task again.
    old = faulted(local, FaultPlan(describe_missing=1.0, missing_max_age=0.0)).describe_tasks(
        cluster=cluster, tasks=[arn]
    )
    assert [t["taskArn"] for t in old["tasks"]] == [arn]
    assert local.faults.figures()["injected"]["describe_missing"] >= 1


def test_the_endpoint_options_delay_throttle_count_and_answer_stop_task_as_ecs(local):
    # The benchmarks' endpoint (benchmarks/gateway.py) is this proxy with these options and no faults.
    plan = FaultPlan(latency=0.2, run_task_rate=0.001, run_task_burst=1, stop_unknown_as_ecs=True)
    local.faults.configure(plan)
    try:
        client = faulted(local, plan)
        start = time.monotonic()
        client.list_clusters()
        assert time.monotonic() - start >= 0.2
        client.run_task(**run_task_request(local, "token-bucket-1", "try-bucket-1", seconds=1))  # the burst's one
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            client.run_task(**run_task_request(local, "token-bucket-2", "try-bucket-2", seconds=1))
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
        assert "try-bucket-2" not in local.runtime.launches_by_started_by
        cluster = local.outputs["cluster_name"]["value"]
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            client.stop_task(cluster=cluster, task=f"arn:aws:ecs:{local.region}:123456789012:task/{cluster}/0000")
        assert raised.value.response["Error"] == {
            "Code": "InvalidParameterException",
            "Message": "The referenced task was not found.",
        }
        assert local.faults.counted() == {
            "ecs.ListClusters": 1,
            "ecs.RunTask": 2,
            "ecs.RunTask.throttled": 1,
            "ecs.StopTask": 1,
        }
    finally:
        local.faults.configure(FaultPlan())
