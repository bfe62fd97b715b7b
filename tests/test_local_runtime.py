"""The local ECS on its own: moto's server over HTTP plus the runtime, driven with plain boto3 calls.

Each test runs real processes as tasks and reads back what a user of ECS would: DescribeTasks, the awslogs
stream and the Task State Change events that the EventBridge rule routes to the SQS queue.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import pytest

from airflow_ecs.local.server import LocalEcs

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def local():
    with LocalEcs(port=0, start_delay=0.2, max_concurrent=2, stop_timeout=1.0) as ecs:
        yield ecs


def run(local: LocalEcs, command: list[str], *, memory: int | None = None, started_by: str = "test") -> str:
    return run_task(local, command, memory=memory, started_by=started_by)["taskArn"]


def run_task(local: LocalEcs, command: list[str], *, memory: int | None = None, started_by: str = "test") -> dict:
    """RunTask's answer for the task it placed."""
    value = local.outputs
    overrides: dict[str, Any] = {"containerOverrides": [{"name": value["container_name"]["value"], "command": command}]}
    if memory:
        overrides["memory"] = str(memory)
    response = local.client("ecs").run_task(
        cluster=value["cluster_name"]["value"],
        taskDefinition=value["task_definition_family"]["value"],
        launchType="FARGATE",
        startedBy=started_by,
        overrides=overrides,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": value["subnet_ids"]["value"],
                "securityGroups": value["security_group_ids"]["value"],
            }
        },
    )
    return response["tasks"][0]


def describe(local: LocalEcs, arn: str) -> dict:
    tasks = local.client("ecs").describe_tasks(cluster=local.outputs["cluster_name"]["value"], tasks=[arn])["tasks"]
    return tasks[0]


def wait_for(local: LocalEcs, arn: str, status: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = describe(local, arn)
        if task["lastStatus"] == status:
            return task
        time.sleep(0.05)
    raise AssertionError(f"{arn} did not reach {status}; last {task['lastStatus']}")


def events_for(local: LocalEcs, arn: str, until_status: str = "STOPPED", timeout: float = 20) -> list[dict]:
    """Drain the events queue of this task's Task State Change events, until one shows ``until_status``."""
    sqs = local.client("sqs")
    url = local.outputs["events_queue_url"]["value"]
    found: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(e["detail"]["lastStatus"] == until_status for e in found):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            event = json.loads(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if event["detail"]["taskArn"] == arn:
                found.append(event)
    return found


def wait_for_log(local: LocalEcs, arn: str, line: str, timeout: float = 30) -> None:
    """Until the task has written ``line``: what it did before printing it is done."""
    logs = local.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        try:
            if line in log_lines(local, arn):
                return
        except logs.exceptions.ResourceNotFoundException:
            pass  # the stream is made with the task's first line
        if time.monotonic() > deadline:
            raise AssertionError(f"{arn} never logged {line!r}")
        time.sleep(0.05)


def log_lines(local: LocalEcs, arn: str) -> list[str]:
    group = local.outputs["log_group_name"]["value"]
    prefix, container = local.outputs["log_stream_prefix"]["value"], local.outputs["container_name"]["value"]
    stream = f"{prefix}/{container}/{arn.rsplit('/', 1)[-1]}"
    response = local.client("logs").get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [event["message"] for event in response["events"]]


def test_a_task_runs_its_command_through_every_status_with_logs_and_events(local):
    placed = run_task(
        local,
        [
            "python",
            "-c",
            (
                "import os; print('hello from', os.environ['AIRFLOW__CORE__LOAD_EXAMPLES'] "
                "if 'AIRFLOW__CORE__LOAD_EXAMPLES' in os.environ else 'task')"
            ),
        ],
    )
    arn = placed["taskArn"]
    # RunTask's own answer, as ECS gives it; a DescribeTasks now could already see the runtime's next step.
    assert placed["lastStatus"] == "PROVISIONING"
    task = wait_for(local, arn, "STOPPED")
    container = task["containers"][0]
    assert container["exitCode"] == 0
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["createdAt"] <= task["startedAt"] <= task["stoppedAt"]
    assert log_lines(local, arn) == ["hello from task"]
    events = events_for(local, arn)
    statuses = [e["detail"]["lastStatus"] for e in sorted(events, key=lambda e: e["detail"]["version"])]
    assert statuses == ["PROVISIONING", "PENDING", "RUNNING", "STOPPED"]
    assert {e["detail-type"] for e in events} == {"ECS Task State Change"}
    assert events[-1]["detail"]["startedBy"] == "test"


def test_with_no_start_delay_each_status_is_one_event_in_version_order(local, monkeypatch):
    # RunTask's own PROVISIONING event must not race the runtime's next change of the same task.
    monkeypatch.setattr(local.runtime, "start_delay", 0.0)
    arns = [run(local, ["python", "-c", "pass"], started_by=f"t{i}") for i in range(4)]
    for arn in arns:
        wait_for(local, arn, "STOPPED")
    sqs, url = local.client("sqs"), local.outputs["events_queue_url"]["value"]
    events: list[dict] = []
    for _ in range(10):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not messages and len(events) >= 16:
            break
        events += [json.loads(m["Body"])["detail"] for m in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    for arn in arns:
        details = sorted((d for d in events if d["taskArn"] == arn), key=lambda d: d["version"])
        assert [(d["version"], d["lastStatus"]) for d in details] == [
            (1, "PROVISIONING"),
            (2, "PENDING"),
            (3, "RUNNING"),
            (4, "STOPPED"),
        ], arn


def test_a_non_zero_exit_is_recorded_as_ecs_records_it(local):
    arn = run(local, ["python", "-c", "import sys; print('crashing'); sys.exit(3)"])
    task = wait_for(local, arn, "STOPPED")
    assert task["containers"][0]["exitCode"] == 3
    assert task["stoppedReason"] == "Essential container in task exited"
    assert log_lines(local, arn) == ["crashing"]


def test_memory_over_the_task_size_is_killed_as_out_of_memory(local):
    hog = "b = bytearray(400 * 2**20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(20)"
    arn = run(local, ["python", "-c", hog], memory=128)
    task = wait_for(local, arn, "STOPPED")
    container = task["containers"][0]
    assert container["exitCode"] == 137
    assert container["reason"].startswith("OutOfMemoryError")


def test_stop_task_sends_sigterm_then_sigkill_after_the_stop_timeout(local):
    polite = run(local, ["python", "-c", "import time; print('up', flush=True); time.sleep(60)"])
    stubborn = run(
        local,
        [
            "python",
            "-c",
            (
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('up', flush=True); time.sleep(60)"
            ),
        ],
    )
    for arn in (polite, stubborn):
        wait_for_log(local, arn, "up")  # printed after the stubborn one ignores SIGTERM
    ecs = local.client("ecs")
    for arn in (polite, stubborn):
        ecs.stop_task(cluster=local.outputs["cluster_name"]["value"], task=arn, reason="test says stop")
    polite_task, stubborn_task = wait_for(local, polite, "STOPPED"), wait_for(local, stubborn, "STOPPED")
    assert polite_task["containers"][0]["exitCode"] == 143  # SIGTERM
    assert stubborn_task["containers"][0]["exitCode"] == 137  # SIGKILL after stop_timeout
    assert polite_task["stopCode"] == stubborn_task["stopCode"] == "UserInitiated"
    assert polite_task["stoppedReason"] == "test says stop"


def test_a_task_stopped_before_it_ran_never_reports_an_exit_code(local):
    blocker = [run(local, ["python", "-c", "import time; time.sleep(60)"]) for _ in range(2)]  # fill the cap of 2
    waiting = run(local, ["python", "-c", "print('never')"])
    time.sleep(0.6)
    assert describe(local, waiting)["lastStatus"] == "PROVISIONING"  # the concurrency cap holds it back
    ecs = local.client("ecs")
    for arn in [waiting, *blocker]:
        ecs.stop_task(cluster=local.outputs["cluster_name"]["value"], task=arn, reason="cleanup")
    task = wait_for(local, waiting, "STOPPED")
    assert "exitCode" not in task["containers"][0]
    assert task["stopCode"] == "UserInitiated"


def test_spot_interruption_stops_a_running_task_with_its_stop_code(local):
    arn = run(local, ["python", "-c", "import time; print('up', flush=True); time.sleep(60)"])
    wait_for(local, arn, "RUNNING")
    local.runtime.interrupt_spot(arn)
    task = wait_for(local, arn, "STOPPED")
    assert task["stopCode"] == "SpotInterruption"
    assert task["containers"][0]["exitCode"] == 143


def test_each_started_by_is_counted_once_per_launch(local):
    arn = run(local, ["python", "-c", "pass"], started_by="count-me")
    wait_for(local, arn, "STOPPED")
    assert local.runtime.launches_by_started_by["count-me"] == 1


def test_a_command_that_cannot_start_fails_to_start(local):
    arn = run(local, ["/nonexistent/binary"])
    task = wait_for(local, arn, "STOPPED")
    assert task["stopCode"] == "TaskFailedToStart"
    assert "CannotStartContainerError" in task["stoppedReason"]
    assert "exitCode" not in task["containers"][0]


def test_outputs_satisfy_the_generator_contract(local):
    from airflow_ecs.deploy.terraform_outputs import parse_outputs

    outputs = parse_outputs(local.outputs)
    assert outputs.events_queue_url and outputs.subnet_ids and outputs.cluster_arn.endswith(outputs.cluster_name)


def test_airflow_ecs_local_serves_until_signalled_and_its_outputs_render(tmp_path):
    """`airflow-ecs local` as a user runs it: a process, its outputs file, the generator, one task, Ctrl-C."""
    import os
    import signal
    import subprocess

    import boto3

    from airflow_ecs.cli import main as cli_main
    from airflow_ecs.core.config import load_config

    outputs = tmp_path / "outputs.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_ecs",
            "local",
            "--port",
            "0",
            "--outputs",
            str(outputs),
            "--start-delay",
            "0",
            "--provision",
            "python",
        ],  # the applied modules: tests/e2e/test_airflow_e2e.py
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        endpoint = None
        deadline = time.monotonic() + 60
        while endpoint is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line or process.poll() is None, "airflow-ecs local exited early"
            if line.startswith("local ECS on "):
                endpoint = line.split()[3].rstrip(";")
        assert endpoint and endpoint.startswith("http://127.0.0.1:")

        assert cli_main(["render", "--outputs", str(outputs), "--out", str(tmp_path / "generated")]) == 0
        import configparser

        parser = configparser.ConfigParser()
        parser.read(tmp_path / "generated" / "airflow.cfg")
        config = load_config(lambda key: parser.get("ecs_fargate", key, fallback=None))
        assert config.events_queue_url and config.subnets

        ecs = boto3.client(
            "ecs",
            region_name=config.region,
            endpoint_url=endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        arn = ecs.run_task(
            cluster=config.cluster,
            taskDefinition=config.task_definition,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": list(config.subnets), "securityGroups": list(config.security_groups)}
            },
            overrides={"containerOverrides": [{"name": config.container_name, "command": ["python", "-c", "pass"]}]},
        )["tasks"][0]["taskArn"]
        deadline = time.monotonic() + 30
        while (task := ecs.describe_tasks(cluster=config.cluster, tasks=[arn])["tasks"][0])["lastStatus"] != "STOPPED":
            assert time.monotonic() < deadline, task["lastStatus"]
            time.sleep(0.1)
        assert task["containers"][0]["exitCode"] == 0
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


def test_run_task_through_the_executors_endpoint_is_idempotent_by_client_token(local):
    """As on ECS (moto alone has no idempotency): a RunTask retried with its clientToken gets the same task."""
    import boto3

    ecs = boto3.client(
        "ecs",
        region_name=local.region,
        endpoint_url=local.executor_endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    value = local.outputs
    request = dict(
        cluster=value["cluster_name"]["value"],
        taskDefinition=value["task_definition_family"]["value"],
        launchType="FARGATE",
        startedBy="idempotent",
        clientToken="airflow-same-token",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": value["subnet_ids"]["value"],
                "securityGroups": value["security_group_ids"]["value"],
            }
        },
        overrides={
            "containerOverrides": [{"name": value["container_name"]["value"], "command": ["python", "-c", "pass"]}]
        },
    )
    first = ecs.run_task(**request)["tasks"][0]["taskArn"]
    second = ecs.run_task(**request)["tasks"][0]["taskArn"]
    assert first == second
    wait_for(local, first, "STOPPED")
    assert local.runtime.launches_by_started_by["idempotent"] == 1


def test_the_task_definition_reads_as_registered_and_its_tasks_run(local):
    """The worker's container has task-level memory only, as terraform/ registers it: moto's RunTask could not
    place it alone, so the local ECS's gap layer fills it in front of moto (terraform_gaps.py); every caller,
    the executor included, reads the definition as it was registered, and moto itself is not patched."""
    import boto3
    from moto.ecs.models import EC2ContainerServiceBackend

    family = local.outputs["task_definition_family"]["value"]
    for url in (local.gaps.url, local.executor_endpoint_url):
        ecs = boto3.client(
            "ecs", region_name=local.region, endpoint_url=url, aws_access_key_id="l", aws_secret_access_key="l"
        )
        definition = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        (container,) = definition["containerDefinitions"]
        assert definition["memory"] == "2048"
        assert "memory" not in container and "memoryReservation" not in container, url
    arn = run(local, ["python", "-c", "pass"])
    assert wait_for(local, arn, "STOPPED")["containers"][0]["exitCode"] == 0
    calculate = vars(EC2ContainerServiceBackend)["_calculate_task_resource_requirements"]
    assert calculate.__func__.__module__ == "moto.ecs.models" and not hasattr(calculate.__func__, "__wrapped__")


def test_with_a_queue_per_scheduler_every_queue_gets_every_event_once():
    """EventBridge's rule sends each event to every target: each scheduler's queue has its own copy."""
    with LocalEcs(port=0, start_delay=0.1, max_concurrent=2, stop_timeout=1.0, schedulers=3) as ecs:
        urls = ecs.outputs["events_queue_urls"]["value"]
        assert urls[0] == ecs.outputs["events_queue_url"]["value"] and len(set(urls)) == 3
        assert [url.rsplit("/", 1)[1] for url in urls] == [
            "airflow-ecs-local-task-events",
            "airflow-ecs-local-task-events-2",
            "airflow-ecs-local-task-events-3",
        ]
        arn = run(ecs, ["python", "-c", "pass"])
        wait_for(ecs, arn, "STOPPED")
        sqs = ecs.client("sqs")
        for url in urls:
            seen: list[tuple[int, str]] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(status == "STOPPED" for _, status in seen):
                for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                    "Messages", []
                ):
                    detail = json.loads(message["Body"])["detail"]
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    seen.append((detail["version"], detail["lastStatus"]))
            assert sorted(seen) == [(1, "PROVISIONING"), (2, "PENDING"), (3, "RUNNING"), (4, "STOPPED")], url
        assert sorted(ecs.events_queue_urls()) == sorted(urls)


def test_describe_tasks_reads_each_task_as_one_moment_never_half_finished():
    """moto's DescribeTasks serializes ``containers`` before ``lastStatus``; read live, a task finished in between
    came out STOPPED without an exit code. It gets copies made under the runtime's lock instead."""
    from types import SimpleNamespace

    from airflow_ecs.local.runtime import TaskTable

    lock = threading.Lock()
    task = SimpleNamespace(status="RUNNING", containers=[SimpleNamespace(exitCode=None, last_status="RUNNING")])
    table = TaskTable(lambda arn, placed: None, {"arn": task}, lock)
    [(_, seen)] = table.items()
    task.containers[0].exitCode, task.containers[0].last_status, task.status = 0, "STOPPED", "STOPPED"
    assert (seen.status, seen.containers[0].last_status, seen.containers[0].exitCode) == ("RUNNING", "RUNNING", None)
    assert table["arn"] is task  # moto's own lookups (StopTask, RunTask's answer) still get the live task

    # While the runtime changes a task (under its lock), a DescribeTasks waits for the change to be whole.
    answers: list = []
    with lock:
        reader = threading.Thread(target=lambda: answers.append(table.items()))
        reader.start()
        reader.join(timeout=0.3)
        assert reader.is_alive() and not answers
    reader.join(timeout=5)
    [(_, after)] = answers[0]
    assert (after.status, after.containers[0].exitCode) == ("STOPPED", 0)
