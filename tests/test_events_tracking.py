"""Tracking by ECS Task State Change events through SQS, against moto's SQS over HTTP.

The events are what EventBridge would deliver (the whole event as the message body); the tests send them
in the order and number that at-least-once, unordered delivery allows, and check what Airflow hears and
what is left in the queue.
"""

from __future__ import annotations

import json
import time

import pytest
from airflow.utils.state import TaskInstanceState

from devtools.aws_fixtures import CLUSTER, CONTAINER, client
from tests.executor_harness import heartbeat_until, launch_one, moto_task, started, stop_in_moto


@pytest.fixture
def events_env(ecs_env):
    sqs = client(ecs_env.url, "sqs")
    url = sqs.create_queue(QueueName="airflow-ecs-events", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    # A long reconciliation interval: only the events tell the executor anything unless a test says otherwise.
    ecs_env.configure(events_queue_url=url, reconcile_interval="3600")
    ecs_env.sqs, ecs_env.queue_url = sqs, url
    return ecs_env


def send_event(
    env,
    arn: str,
    version: int,
    status: str,
    *,
    exit_code: int | None = None,
    started_by: str = "",
    stop_code: str | None = None,
    reason: str | None = None,
    container_reason: str | None = None,
) -> None:
    container = {"name": CONTAINER, "lastStatus": status}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if container_reason:
        container["reason"] = container_reason  # ECS's events carry what DescribeTasks says
    detail = {
        "taskArn": arn,
        "clusterArn": f"arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}",
        "lastStatus": status,
        "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
        "startedBy": started_by,
        "containers": [container],
        "version": version,
        "startedAt": "2026-11-25T00:00:00Z" if status in ("RUNNING", "STOPPED") else None,
        "someFieldAddedLater": {"ignored": True},
    }
    if stop_code:
        detail.update(stopCode=stop_code, stoppedReason=reason or "")
    event = {
        "version": "0",
        "id": f"{arn}-{version}",
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "time": "2026-11-25T00:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": detail,
    }
    env.sqs.send_message(QueueUrl=env.queue_url, MessageBody=json.dumps(event))


def messages_left(env) -> int:
    attributes = env.sqs.get_queue_attributes(QueueUrl=env.queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def wait_until_drained(executor, env, timeout: float = 15.0) -> None:
    heartbeat_until(executor, lambda: messages_left(env) == 0, timeout=timeout)


def test_events_drive_running_and_success_and_are_deleted(events_env):
    executor = started()
    key, arn = launch_one(executor)
    send_event(events_env, arn, 2, "RUNNING")
    heartbeat_until(executor, lambda: key in executor.event_buffer)
    assert executor.event_buffer.pop(key) == (TaskInstanceState.RUNNING, arn)
    send_event(events_env, arn, 3, "STOPPED", exit_code=0, stop_code="EssentialContainerExited")
    heartbeat_until(executor, lambda: key in executor.event_buffer)
    assert executor.event_buffer[key] == (TaskInstanceState.SUCCESS, arn)
    wait_until_drained(executor, events_env)
    assert executor.aws_calls.get("DescribeTasks", 0) == 0  # nothing polled: the events said it all
    executor.terminate()


def test_events_out_of_order_and_twice_are_applied_once_in_version_order(events_env):
    executor = started()
    key, arn = launch_one(executor)
    # The stop arrives first, then a stale RUNNING, then the stop again.
    send_event(events_env, arn, 4, "STOPPED", exit_code=0, stop_code="EssentialContainerExited")
    send_event(events_env, arn, 2, "RUNNING")
    send_event(events_env, arn, 4, "STOPPED", exit_code=0, stop_code="EssentialContainerExited")
    heartbeat_until(executor, lambda: key in executor.event_buffer)
    wait_until_drained(executor, events_env)
    for _ in range(5):
        executor.heartbeat()
    assert executor.event_buffer == {key: (TaskInstanceState.SUCCESS, arn)}  # never RUNNING after the stop
    executor.terminate()


def test_a_failure_event_is_reported_with_its_diagnosis(events_env):
    executor = started()
    key, arn = launch_one(executor)
    stop_in_moto(arn, exit_code=137, container_reason="OutOfMemoryError: Container killed due to memory usage")
    send_event(
        events_env,
        arn,
        3,
        "STOPPED",
        exit_code=137,
        stop_code="EssentialContainerExited",
        container_reason="OutOfMemoryError: Container killed due to memory usage",
    )
    heartbeat_until(executor, lambda: key in executor.event_buffer)
    assert executor.event_buffer[key] == (TaskInstanceState.FAILED, arn)
    (entry,) = [e for e in executor._task_event_logs if e.event == "ecs task failed"]
    assert "more memory" in entry.extra
    executor.terminate()


def test_events_of_tasks_it_does_not_own_are_left_in_the_queue(events_env):
    executor = started()
    foreign = f"arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/0123456789abcdef0123456789abcdef"
    send_event(events_env, foreign, 2, "RUNNING", started_by="another-scheduler")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        executor.heartbeat()
        time.sleep(0.1)
    # Received, not applied, not deleted: handed back, visible again for the scheduler that owns it.
    assert messages_left(events_env) == 1
    assert executor.aws_calls.get("DeleteMessageBatch", 0) == 0
    assert executor.aws_calls.get("ChangeMessageVisibilityBatch", 0) >= 1
    executor.terminate()


def test_on_its_own_queue_an_event_of_a_task_it_does_not_track_is_deleted_at_the_first_receive(events_env):
    events_env.configure(events_queue_exclusive="True")
    executor = started()
    assert executor.tasks.settings.exclusive_queue
    foreign = f"arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/0123456789abcdef0123456789abcdef"
    send_event(events_env, foreign, 2, "STOPPED", started_by="a-try-of-a-dead-process")
    wait_until_drained(executor, events_env, timeout=10)
    assert executor.aws_calls.get("ChangeMessageVisibilityBatch", 0) == 0
    assert executor.aws_calls.get("DeleteMessageBatch") == 1
    assert executor._events.receive_calls <= 2  # received once (the second long poll may be waiting)
    executor.terminate()


def test_two_schedulers_on_one_queue_each_learn_their_own_tasks_and_delete_only_those(events_env):
    first, second = started(), started()
    first_key, first_arn = launch_one(first, task_id="of_the_first")
    second_key, second_arn = launch_one(second, task_id="of_the_second")
    for arn in (first_arn, second_arn):
        send_event(events_env, arn, 3, "STOPPED", exit_code=0, stop_code="EssentialContainerExited")
    deadline = time.monotonic() + 30
    while not (first_key in first.event_buffer and second_key in second.event_buffer):
        assert time.monotonic() < deadline, (first.event_buffer, second.event_buffer)
        first.heartbeat()
        second.heartbeat()
        time.sleep(0.05)
    assert first.event_buffer[first_key] == (TaskInstanceState.SUCCESS, first_arn)
    assert second.event_buffer[second_key] == (TaskInstanceState.SUCCESS, second_arn)
    assert second_key not in first.event_buffer and first_key not in second.event_buffer
    deadline = time.monotonic() + 15
    while messages_left(events_env) and time.monotonic() < deadline:
        first.heartbeat()
        second.heartbeat()
        time.sleep(0.1)
    assert messages_left(events_env) == 0
    for executor in (first, second):
        assert executor.aws_calls.get("DescribeTasks", 0) == 0  # neither had to poll
        executor.terminate()


def test_an_event_that_beats_run_tasks_answer_is_kept_until_the_arn_is_known(events_env):
    executor = started()
    held = []

    def early_event(parsed, **_):
        # ECS's first event can reach the queue before RunTask's answer reaches the executor.
        task = parsed["tasks"][0]
        send_event(events_env, task["taskArn"], 2, "RUNNING", started_by=task["startedBy"])
        time.sleep(1.5)  # long enough for the consumer to receive it first
        held.append(task["taskArn"])

    executor._ecs_launch.meta.events.register("after-call.ecs.RunTask", early_event)
    from tests.executor_harness import make_workload, queue_all

    workload = make_workload()
    queue_all(executor, [workload])
    heartbeat_until(
        executor, lambda: executor.event_buffer.get(workload.ti.key, (None,))[0] == TaskInstanceState.RUNNING
    )
    wait_until_drained(executor, events_env)
    executor.terminate()


def test_a_lost_stop_event_is_caught_by_the_reconciliation_sweep(events_env):
    events_env.configure(reconcile_interval="0.5")
    executor = started()
    listed: list[dict] = []
    executor._ecs.meta.events.register(
        "provide-client-params.ecs.ListTasks", lambda params, **_: listed.append(dict(params))
    )
    key, arn = launch_one(executor)
    moto_task(arn).status = "RUNNING"
    stop_in_moto(arn, exit_code=0)  # no event is ever sent for it
    heartbeat_until(
        executor, lambda: key in executor.event_buffer and executor.event_buffer[key][0] == TaskInstanceState.SUCCESS
    )
    assert executor.aws_calls["ListTasks"] >= 1
    # Only our task definition's family: the sweep's cost follows our tasks, not the rest of the cluster.
    assert listed and all(params.get("family") == "airflow-worker" for params in listed)
    executor.terminate()


def test_the_consumer_long_polls_20_seconds_for_up_to_10_messages_and_ends_when_stopped():
    """One ReceiveMessage per 20 s when nothing happens (SQS's longest wait), 10 messages per call (its most)."""
    import queue
    import threading

    from airflow_ecs.aws.event_queue import EventConsumer

    calls: list[dict] = []
    polled = threading.Event()

    class Sqs:
        def receive_message(self, **kwargs):
            calls.append(kwargs)
            consumer.stop()  # the consumer checks its flag after each call, as after a real long poll
            polled.set()
            return {}

    consumer = EventConsumer(Sqs(), "https://sqs.example/q", queue.SimpleQueue())
    consumer.start()
    assert polled.wait(5)
    consumer._thread.join(5)
    assert not consumer._thread.is_alive()
    assert calls == [{"QueueUrl": "https://sqs.example/q", "MaxNumberOfMessages": 10, "WaitTimeSeconds": 20}]
