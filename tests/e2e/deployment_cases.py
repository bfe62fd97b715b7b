"""The tests every tracking mode runs against a whole deployment, and the fixtures they stand on: a real
Airflow 3 (scheduler, api-server and dag-processor as processes), the executor talking HTTP to the local ECS,
each task a local process under the runtime.

Each mode is its own test file (test_airflow_e2e.py: the events queue, on terraform/ applied into the local ECS;
test_airflow_e2e_polling.py: DescribeTasks polling, on the Python provisioner's likeness of it), which gives
the fixtures ``tracking`` and ``provision`` and imports the tests below: make test runs the two files side by
side, each with its own local ECS and Airflow (the fixtures ``applied``, ``deployment`` and ``workloads``,
in conftest.py)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from devtools.airflow_stack import AirflowStack
from tests.e2e.workloads import (
    DEADLINE,
    SENSORS,
    launches_by_workload,
    task_end_states,
    uuid_hex,
    wait_for_callbacks,
    wait_for_connection_test,
    workload_of,
)

pytestmark = pytest.mark.e2e
DAGS = Path(__file__).parent / "dags"
# Distinctive, so a test can look for it in every log and rendered file.
SECRET_KEY = f"e2eSecret{uuid.uuid4().hex}"
TEAM = "team_a"  # an Airflow team whose resources the local ECS holds too


def rows_by_task(stack: AirflowStack, dag_id: str, run_id: str) -> dict:
    return {row.name: row for row in stack.task_rows(dag_id, run_id)}


def test_outcomes_success_failure_crash_and_out_of_memory(deployment):
    stack = deployment.stack
    stack.wait_for_dag("ecs_e2e_outcomes")
    stack.trigger("ecs_e2e_outcomes", "outcomes")
    assert stack.wait_for_run("ecs_e2e_outcomes", "outcomes", timeout=240) == "failed"
    rows = rows_by_task(stack, "ecs_e2e_outcomes", "outcomes")
    assert {name: row.state for name, row in rows.items()} == {
        "succeeds": "success",
        "fails": "failed",
        "crashes": "failed",
        "out_of_memory": "failed",
    }
    events = stack.event_log("ecs_e2e_outcomes", "outcomes")
    crash = " ".join(extra for task, event, extra in events if task == "crashes" and event == "ecs task failed")
    assert "exited 3" in crash and "crashing" in crash  # the diagnosis and the log tail
    oom = " ".join(extra for task, event, extra in events if task == "out_of_memory" and event == "ecs task failed")
    assert "OutOfMemoryError" in oom
    # The Airflow task that raised ran to its end in its container: exit 0, failed through the API.
    assert not [e for e in events if e[0] == "fails" and e[1] == "ecs task failed"]


def test_spot_interruption_restart_adoption_and_live_log(deployment, monkeypatch):
    stack, local = deployment.stack, deployment.local
    stack.wait_for_dag("ecs_e2e_long")
    stack.trigger("ecs_e2e_long", "long")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = rows_by_task(stack, "ecs_e2e_long", "long")
        if len(rows) == 3 and all(r.state == "running" for r in rows.values()):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the long tasks did not all start: {rows}")

    # The task log, live, through the executor's get_task_log (as the api-server would call it).
    arn = rows["long_task[0]"].external_executor_id
    for key, value in deployment.env.items():  # the api-server's view of the config, for this test only
        monkeypatch.setenv(key, value)
    from airflow_ecs.executor import EcsFargateExecutor

    deadline = time.monotonic() + 30
    lines: list[str] = []
    while time.monotonic() < deadline and not any("long task 0 try 1 started" in line for line in lines):
        sources, lines = EcsFargateExecutor().get_task_log(SimpleNamespace(external_executor_id=arn), 1)
        time.sleep(1)
    assert any("long task 0 try 1 started" in line for line in lines), (sources, lines)

    # Fargate Spot takes one task back while it runs: Airflow retries it as try 2 on a new ECS task.
    local.runtime.interrupt_spot(rows["long_task[1]"].external_executor_id)
    # The scheduler dies hard while the others run; the restarted one adopts them.
    stack.kill_component("scheduler")
    time.sleep(2)
    stack.start_component("scheduler")

    assert stack.wait_for_run("ecs_e2e_long", "long", timeout=240) == "success"
    rows = rows_by_task(stack, "ecs_e2e_long", "long")
    assert rows["long_task[0]"].try_number == 1 and rows["long_task[2]"].try_number == 1  # adopted, not rerun
    assert rows["long_task[1]"].try_number == 2
    launches = local.runtime.launches_by_started_by
    # One ECS task per task instance try: no try was ever launched twice.
    assert all(count == 1 for count in launches.values()), launches
    events = stack.event_log("ecs_e2e_long", "long")
    assert any("Spot" in extra for _, event, extra in events if event == "ecs task failed")


def test_clearing_a_running_task_stops_its_ecs_task_and_runs_the_next_try(deployment):
    stack, local = deployment.stack, deployment.local
    stack.wait_for_dag("ecs_e2e_clear")
    stack.trigger("ecs_e2e_clear", "clear")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = rows_by_task(stack, "ecs_e2e_clear", "clear")
        # Running, and its ARN recorded: the task runner may say it runs before the scheduler has saved the
        # ECS task's ARN from the executor's event.
        if rows and rows["cleared"].state == "running" and rows["cleared"].external_executor_id:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the task did not start: {rows}")
    first_arn = rows["cleared"].external_executor_id
    stack.airflow("tasks", "clear", "ecs_e2e_clear", "--task-regex", "cleared", "--yes")
    cleared_at = time.time()  # the CLI has cleared it (Airflow's CLI alone takes seconds to start under load)

    assert stack.wait_for_run("ecs_e2e_clear", "clear", timeout=180) == "success"
    row = rows_by_task(stack, "ecs_e2e_clear", "clear")["cleared"]
    assert row.try_number == 2 and row.external_executor_id != first_arn
    first = local.runtime.tasks[first_arn]
    # The cleared try's container was stopped by the clear: within a minute of it, and before its 120 s sleep
    # (which begins after the container started) could have ended.
    assert first.done and first.moto_task.stopped_at - cleared_at < 60
    assert first.moto_task.stopped_at - first.moto_task.started_at < 120
    assert all(count == 1 for count in local.runtime.launches_by_started_by.values())
    # Airflow 3.3 does not call revoke_task for a cleared task: its task runner stops itself, the container
    # exits 0, and the executor's success for try 1 is what lets Airflow schedule try 2.
    events = stack.event_log("ecs_e2e_clear", "clear")
    assert not [e for e in events if e[1].startswith("ecs task")], events
    assert "was cleared and successfully terminated" in (stack.home / "scheduler.log").read_text(errors="replace")


# --- every kind of work Airflow 3.3 hands the executor (dags/ecs_e2e_workloads.py) ---
# The right end states are what Airflow's LocalExecutor gives the same DAGs through the same harness
# (python -m tests.e2e.baseline, Airflow 3.3.2): every task success on try 1, the sensor after 2 reschedules,
# the succeeding deadline callback success (and its file written), the raising one failed, the connection
# test success with "Path / is existing.". (In one of the two baseline runs LocalExecutor itself failed the
# sensor: its result for one poke arrived after the next poke was queued, the race this test holds us to.)
SENSORS_END = {
    "rescheduled": ("success", 1, 2),
    "deferred": ("success", 1, 0),
    "waits_in_triggerer": ("success", 1, 0),
    "numbers": ("success", 1, 0),
    "square[0]": ("success", 1, 0),
    "square[1]": ("success", 1, 0),
    "square[2]": ("success", 1, 0),
    "total": ("success", 1, 0),
}
# ECS tasks per task instance: one per attempt. Each poke of the reschedule sensor is an attempt, and so is
# the resume after a deferral; a deferral that ends in the triggerer is not queued again.
SENSORS_ECS_TASKS = {
    "rescheduled": 3,
    "deferred": 2,
    "waits_in_triggerer": 1,
    "numbers": 1,
    "square[0]": 1,
    "square[1]": 1,
    "square[2]": 1,
    "total": 1,
}


def test_reschedule_deferral_and_mapping_end_as_on_local_executor(deployment, workloads):
    """...with one ECS task per attempt, and no attempt credited with an earlier attempt's result."""
    stack, local = deployment.stack, deployment.local
    state = stack.wait_for_run(SENSORS, "workloads", timeout=240)
    rows = task_end_states(stack, SENSORS, "workloads")
    assert {name: (r["state"], r["try_number"], r["reschedules"]) for name, r in rows.items()} == SENSORS_END
    assert state == "success"
    launches = launches_by_workload(local.runtime)
    assert {name: launches.get(r["id"], 0) for name, r in rows.items()} == SENSORS_ECS_TASKS
    # No attempt was credited with an earlier one's result: Airflow fails a task the executor says finished
    # while it is queued (a crashed container's failure is the one such line other tests leave).
    credited = [
        line
        for line in (stack.home / "scheduler.log").read_text(errors="replace").splitlines()
        if "state attribute is queued" in line and f"<TaskInstance: {SENSORS}." in line
    ]
    assert credited == []
    # Every attempt's ECS task ends (the last containers exit just after reporting through the API).
    ids = {r["id"] for r in rows.values()}
    deadline = time.monotonic() + 30
    while (
        alive := [
            t.arn for t in list(local.runtime.tasks.values()) if not t.done and uuid_hex(t.moto_task.started_by) in ids
        ]
    ) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert alive == []


def test_a_connection_test_runs_where_the_tasks_run_or_is_refused_in_one_line(deployment, workloads):
    from airflow_ecs.executor import EcsFargateExecutor

    stack, local = deployment.stack, deployment.local
    token = workloads.connection_test_token
    result = wait_for_connection_test(stack, token)
    test_id = uuid_hex(stack.query("SELECT id FROM connection_test_request WHERE token = ?", (token,))[0][0])
    launched = launches_by_workload(local.runtime).get(test_id, 0)
    if EcsFargateExecutor.supports_connection_test:
        # As on LocalExecutor, from the worker's side: one ECS task ran it.
        assert result == {"state": "success", "result_message": "Path / is existing."}
        assert launched == 1
    else:
        # Left off explicitly: Airflow fails the test with its reason, the scheduler goes on, nothing launched.
        assert result["state"] == "failed"
        assert "does not support connection testing" in result["result_message"]
        assert launched == 0
    stack.check_alive()


def test_deadline_callbacks_run_on_ecs_and_their_results_reach_airflow(deployment, workloads):
    """On LocalExecutor the callback that succeeds ends success and writes its file where it ran; the one
    that raises ends failed. The scheduler stays up throughout."""
    stack, local = deployment.stack, deployment.local
    assert stack.wait_for_run(DEADLINE, "workloads", timeout=240) == "success"
    callbacks = wait_for_callbacks(stack, DEADLINE, "workloads")
    assert [(c["missed"], c["state"]) for c in callbacks] == [(True, "success"), (True, "failed")]
    assert callbacks[1]["output"]  # why it failed, for the UI
    marker = stack.home.parent / "task-home" / "deadline-missed-workloads.txt"
    assert marker.read_text() == "e2e ecs_e2e_deadline workloads\n"
    launches = launches_by_workload(local.runtime)
    assert [launches.get(c["id"], 0) for c in callbacks] == [1, 1]
    rows = task_end_states(stack, DEADLINE, "workloads")
    assert {name: (r["state"], r["try_number"]) for name, r in rows.items()} == {
        "outlives_its_deadline": ("success", 1)
    }
    stack.check_alive()


def test_the_executor_tracked_tasks_the_configured_way(deployment):
    # The tasks above ran the worker's command forked from a warm interpreter (forkserver.py), but for the first
    # ones, which started cold while it imported Airflow (the crash's python -c, not the worker's command, is
    # always started cold and not counted).
    forks = deployment.local.runtime.forks
    assert forks is not None and forks.forked >= 1 and forks.cold >= 1, "no task ran forked"
    scheduler_log = (deployment.stack.home / "scheduler.log").read_text(errors="replace")
    if deployment.tracking == "polling":
        assert "tracking by polling every 1s" in scheduler_log
    else:
        url = deployment.local.outputs["events_queue_url"]["value"]
        name = url.rsplit("/", 1)[-1]
        # The rendered config says the queue is this scheduler's own (one queue per scheduler).
        assert f"tracking by events queue {name} (its own)" in scheduler_log
        # Every event was applied and deleted, those of tasks nobody here tracks too (the killed scheduler's
        # late events among them): the queue is drained and nothing went to the dead-letter queue.
        sqs = deployment.local.client("sqs")
        deadline = time.monotonic() + 30
        while True:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            left = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
            if left == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert left == 0, f"{left} events left on the queue: {_events_left(deployment, sqs, url)}"
        dead_letters = sqs.get_queue_attributes(
            QueueUrl=sqs.get_queue_url(QueueName=f"{name}-dlq")["QueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages"],
        )["Attributes"]["ApproximateNumberOfMessages"]
        assert dead_letters == "0"


def _events_left(deployment, sqs, url: str) -> list[tuple]:
    """For the failure message: (task, try, lastStatus, receives so far) of what is still on the queue."""
    whose = {}
    for task in list(deployment.local.runtime.tasks.values()):
        workload = workload_of(task)
        if workload is not None:
            ti = workload.get("ti") or {}
            whose[task.arn] = (f"{ti.get('dag_id')}.{ti.get('task_id')}", ti.get("try_number"))
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"]
    ).get("Messages", [])
    left = []
    for message in messages:
        detail = json.loads(message["Body"]).get("detail", {})
        task, try_number = whose.get(detail.get("taskArn"), ("unknown task", None))
        left.append((task, try_number, detail.get("lastStatus"), message["Attributes"]["ApproximateReceiveCount"]))
    return left


def test_no_log_holds_a_workload_token_or_a_credential(deployment):
    """The JWT of every workload this run launched (read from the commands the local ECS ran) appears in
    no Airflow log, no executor log line, no task log in CloudWatch, and no rendered config file."""
    runtime, local = deployment.local.runtime, deployment.local
    tokens = set()
    for task in runtime.tasks.values():
        workload = workload_of(task)
        if workload is not None:
            tokens.add(workload["token"])
    assert len(tokens) >= 5, "the earlier tests' tasks carried their tokens"
    texts = {"Airflow logs": deployment.stack.logs_text()}
    logs = local.client("logs")
    group = local.outputs["log_group_name"]["value"]
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)
        texts[f"CloudWatch {stream['logStreamName']}"] = "\n".join(e["message"] for e in events["events"])
    config_dir = deployment.stack.home.parent / "config"
    for path in config_dir.iterdir():
        texts[str(path)] = path.read_text()
    assert len(texts["Airflow logs"]) > 10_000 and len(texts) > 5  # there was plenty to look in
    for where, text in texts.items():
        leaked = [token[:12] + "..." for token in tokens if token in text]
        assert not leaked, f"{where} holds workload tokens {leaked}"
        assert SECRET_KEY not in text, f"{where} holds the scheduler's AWS secret key"
