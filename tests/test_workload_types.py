"""Deadline callbacks and connection tests run as ECS tasks, like task instances (docs/workloads.md).

Against moto's ECS server, through the harness of tests/executor_harness.py. Airflow 3.1 has neither
workload type: there the executor must say it supports neither, and these tests are skipped.
"""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import TypeAdapter

from airflow_ecs.executor import EcsFargateExecutor
from airflow_ecs.glue.airflow_compat import CALLBACKS_SUPPORTED, CONNECTION_TESTS_SUPPORTED, BundleInfo
from tests.executor_harness import heartbeat_until, moto_task, queue_all, started, stop_in_moto

needs_callbacks = pytest.mark.skipif(not CALLBACKS_SUPPORTED, reason="Airflow < 3.3 has no ExecuteCallback")
needs_connection_tests = pytest.mark.skipif(
    not CONNECTION_TESTS_SUPPORTED, reason="Airflow < 3.3 has no TestConnection"
)


def make_callback(path: str = "alerts.notify"):
    from airflow.executors.workloads import ExecuteCallback
    from airflow.executors.workloads.callback import CallbackDTO

    callback_id = str(uuid.uuid4())
    return ExecuteCallback(
        callback=CallbackDTO(id=callback_id, fetch_method="import_path", data={"path": path, "kwargs": {}}),
        dag_rel_path="demo.py",
        token="workload-token",
        bundle_info=BundleInfo(name="dags-folder", version=None),
        log_path=f"executor_callbacks/demo/manual__1/{callback_id}",
    )


def make_connection_test(queue: str | None = None):
    from airflow.executors.workloads import TestConnection

    return TestConnection(
        connection_test_id=uuid.uuid4(), connection_id="my_db", timeout=60, queue=queue, token="workload-token"
    )


def sent_requests(executor: EcsFargateExecutor) -> list[dict]:
    sent: list[dict] = []
    executor._ecs_launch.meta.events.register(
        "before-send.ecs.RunTask", lambda request, **_: sent.append(json.loads(request.body))
    )
    return sent


def decoded_command(request: dict):
    """What the container's ``execute_workload --json-string`` would parse (its own TypeAdapter)."""
    from airflow.executors import workloads

    command = request["overrides"]["containerOverrides"][0]["command"]
    assert command[:4] == ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string"]
    return TypeAdapter(workloads.All).validate_json(command[4])


def test_the_executor_claims_exactly_what_this_airflow_has():
    assert EcsFargateExecutor.supports_callbacks is CALLBACKS_SUPPORTED
    assert EcsFargateExecutor.supports_connection_test is CONNECTION_TESTS_SUPPORTED


@needs_callbacks
def test_a_callback_runs_as_an_ecs_task_and_its_success_reaches_the_callback_key(ecs_env):
    from airflow.utils.state import CallbackState

    executor = started()
    sent = sent_requests(executor)
    workload = make_callback()
    queue_all(executor, [workload])  # raised NotImplementedError in the scheduler's loop before
    heartbeat_until(
        executor, lambda: sent and executor.tasks.get(workload.key) is not None and executor.tasks.get(workload.key).arn
    )
    request = sent[0]
    assert request["startedBy"] == workload.callback.id
    assert {"key": "airflow:dag_id", "value": "demo"} in request["tags"]
    assert {"key": "airflow:task_id", "value": "callback.notify"} in request["tags"]
    assert decoded_command(request) == workload
    assert request["clientToken"].startswith("airflow-")
    arn = executor.tasks.get(workload.key).arn
    assert not executor.event_buffer  # no QUEUED-with-ARN for a callback: it has no external executor id
    moto_task(arn).status = "RUNNING"
    heartbeat_until(executor, lambda: workload.key in executor.event_buffer)
    assert executor.event_buffer.pop(workload.key)[0] == CallbackState.RUNNING
    stop_in_moto(arn, exit_code=0)
    heartbeat_until(executor, lambda: workload.key in executor.event_buffer)
    assert executor.event_buffer[workload.key][0] == CallbackState.SUCCESS
    assert workload.key not in executor.running and not executor.queued_callbacks
    executor.terminate()


@needs_callbacks
def test_a_failed_callback_reports_the_diagnosis_as_its_output(ecs_env):
    from airflow.utils.state import CallbackState

    executor = started()
    workload = make_callback()
    queue_all(executor, [workload])
    heartbeat_until(
        executor, lambda: executor.tasks.get(workload.key) is not None and executor.tasks.get(workload.key).arn
    )
    stop_in_moto(executor.tasks.get(workload.key).arn, exit_code=1)
    heartbeat_until(executor, lambda: workload.key in executor.event_buffer)
    state, info = executor.event_buffer[workload.key]
    assert state == CallbackState.FAILED and "exited 1" in info
    executor.terminate()


@needs_connection_tests
def test_a_connection_test_runs_as_an_ecs_task_on_its_queue(ecs_env):
    from airflow.models.connection_test import ConnectionTestState

    executor = started()
    sent = sent_requests(executor)
    workload = make_connection_test()
    queue_all(executor, [workload])
    executor.heartbeat()  # the base class hands connection tests over in its own step of heartbeat()
    heartbeat_until(
        executor, lambda: executor.tasks.get(workload.key) is not None and executor.tasks.get(workload.key).arn
    )
    assert sent[0]["startedBy"] == str(workload.connection_test_id)
    assert decoded_command(sent[0]) == workload
    stop_in_moto(executor.tasks.get(workload.key).arn, exit_code=0)
    heartbeat_until(executor, lambda: workload.key in executor.event_buffer)
    assert executor.event_buffer[workload.key][0] == ConnectionTestState.SUCCESS
    executor.terminate()


@needs_connection_tests
def test_a_connection_test_the_reaper_gives_up_on_is_stopped(ecs_env):
    executor = started()
    workload = make_connection_test()
    queue_all(executor, [workload])
    heartbeat_until(
        executor, lambda: executor.tasks.get(workload.key) is not None and executor.tasks.get(workload.key).arn
    )
    arn = executor.tasks.get(workload.key).arn
    executor.fail_connection_test(workload.key)
    heartbeat_until(executor, lambda: moto_task(arn).desired_status == "STOPPED")
    assert workload.key not in executor.running
    executor.terminate()
