"""Driving the executor against moto's real ECS server over HTTP, shared by the executor's test files.

moto plays ECS; what moto cannot do (throttle, answer RunTask with failures, report MISSING) is injected
with botocore's own ``before-send`` hook, so every request still goes through botocore's serializer and
every injected answer through its parser. Tasks change state only when a test says (``frozen_moto_tasks``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.utils.state import TaskInstanceState
from botocore.awsrequest import AWSResponse

from airflow_ecs.core import failures
from airflow_ecs.executor import EcsFargateExecutor
from airflow_ecs.glue.airflow_compat import ExecuteTask
from devtools import aws_fixtures as aws
from devtools.workload import make_workload

ACCOUNT = "123456789012"


# The executor's threads: launches, tracking calls, log tails, the events queue's consumer.
EXECUTOR_THREADS = ("ecs-launch", "ecs-track", "ecs-logs", "ecs-events")


def executor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(EXECUTOR_THREADS)]


@contextmanager
def ended_executors(monkeypatch: pytest.MonkeyPatch, *, grace: float = 10.0) -> Iterator[None]:
    """Terminate, at the end of the test, every executor it started and did not end or terminate itself (as
    Airflow's scheduler does at exit), then hold the executor to it: no thread of its may still be alive.

    The events consumer is in a long poll when told to stop; it polls for 1 s here (20 s in production), so
    it notices within ``grace``.
    """
    from airflow_ecs.aws import event_queue

    monkeypatch.setattr(event_queue, "RECEIVE_WAIT_SECONDS", 1)
    live: list[EcsFargateExecutor] = []
    start, end, terminate = EcsFargateExecutor.start, EcsFargateExecutor.end, EcsFargateExecutor.terminate

    def tracked(method, alive: bool):
        def call(self, *args, **kwargs):
            if self in live:
                live.remove(self)
            if alive:
                live.append(self)
            return method(self, *args, **kwargs)

        return call

    monkeypatch.setattr(EcsFargateExecutor, "start", tracked(start, alive=True))
    monkeypatch.setattr(EcsFargateExecutor, "end", tracked(end, alive=False))
    monkeypatch.setattr(EcsFargateExecutor, "terminate", tracked(terminate, alive=False))
    try:
        yield
    finally:
        with fast_backoff():
            for executor in list(live):
                executor.terminate()
        deadline = time.monotonic() + grace
        while (alive := executor_threads()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive, f"executor threads outlived the test after end()/terminate(): {sorted(t.name for t in alive)}"


@pytest.fixture
def frozen_moto_tasks():
    """moto moves a task one status on at each DescribeTasks; here tasks change only when a test says."""
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
    yield
    state_manager.unset_transition("ecs::task")


@pytest.fixture
def ecs_env(moto_server, monkeypatch, frozen_moto_tasks):
    resources = aws.provision(moto_server)

    def configure(**extra: str) -> None:
        for key, value in aws.env_for(moto_server, resources, **{"poll_interval": "0.001", **extra}).items():
            monkeypatch.setenv(key, value)

    configure()
    return SimpleNamespace(url=moto_server, resources=resources, configure=configure)


def started(**kwargs: Any) -> EcsFargateExecutor:
    executor = EcsFargateExecutor(**kwargs)
    executor.start()

    def provisioning(parsed, **_):
        # moto places tasks straight into RUNNING; real ECS starts them in PROVISIONING.
        for task in parsed.get("tasks") or []:
            moto_task(task["taskArn"]).status = "PROVISIONING"

    executor._ecs_launch.meta.events.register("after-call.ecs.RunTask", provisioning)
    return executor


def queue_all(executor: EcsFargateExecutor, workloads: list[ExecuteTask]) -> None:
    for workload in workloads:
        executor.queue_workload(workload, session=None)


def heartbeat_until(executor: EcsFargateExecutor, done, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out; event buffer {executor.event_buffer}"
        executor.heartbeat()
        time.sleep(0.02)


def moto_task(arn: str):
    from moto.backends import get_backend

    backend = get_backend("ecs")[ACCOUNT][aws.REGION]
    return backend.tasks[aws.CLUSTER][arn]


def stop_in_moto(
    arn: str,
    *,
    exit_code: int | None,
    stop_code: str = "EssentialContainerExited",
    reason: str = "Essential container in task exited",
    container_reason: str | None = None,
    started: bool = True,
) -> None:
    task = moto_task(arn)
    # The executor's threads may describe the task between any two of these lines: the container first and
    # the task's status last, so no answer says STOPPED before the exit code is there (one did, and a callback
    # that exited 1 was reported a success).
    container = task.containers[0]
    container.exitCode = exit_code
    if container_reason:
        container.reason = container_reason
    container.last_status = "STOPPED"
    task.stop_code = stop_code
    task.stopped_reason = reason
    if started:
        task.started_at = time.time()
    task.stopped_at = time.time()
    task.desired_status = "STOPPED"
    task.status = "STOPPED"


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any):
        yield self._body


@contextmanager
def fast_backoff() -> Iterator[None]:
    """Retries within a test's timeout: every retryable failure backs off 10-20 ms while inside."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(failures, "BACKOFF", dict.fromkeys(failures.BACKOFF, (0.01, 0.02)))
        yield


def error_response(status: int, code: str, message: str) -> AWSResponse:
    body = json.dumps({"__type": code, "message": message}).encode()
    return AWSResponse("http://injected", status, {"x-amzn-RequestId": "injected"}, _Raw(body))


def json_response(payload: dict) -> AWSResponse:
    return AWSResponse("http://injected", 200, {"x-amzn-RequestId": "injected"}, _Raw(json.dumps(payload).encode()))


def queued_arns(executor: EcsFargateExecutor) -> dict:
    return {k: info for k, (state, info) in executor.event_buffer.items() if state == TaskInstanceState.QUEUED}


def launch_one(executor: EcsFargateExecutor, **kwargs: Any):
    workload = make_workload(**kwargs)
    queue_all(executor, [workload])
    heartbeat_until(executor, lambda: workload.ti.key in queued_arns(executor))
    arn = executor.event_buffer.pop(workload.ti.key)[1]
    return workload.ti.key, arn
