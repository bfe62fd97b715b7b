"""The local ECS's container runtime: each ECS task a podman container of the worker image (docker/Dockerfile,
built by `make worker-image`), first on its own (boto3 calls against the local ECS), then under a real Airflow
running the outcomes DAG. Skipped, with the reason, where podman or the image is missing.

Every container carries its runtime's label; each test module checks that none of its own is left behind.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from airflow_ecs.local.containers import (
    TASK_LABEL,
    ContainerRuntimeUnavailable,
    check_podman,
    labelled,
    podman_environment,
)
from airflow_ecs.local.server import LocalEcs
from devtools.local_deployment import local_deployment
from tests.test_local_runtime import log_lines, run, wait_for

# make test builds the worker image in the background while the other tests run, and says where it writes
# the build's exit code (and its log beside it): these tests wait for that file, at most IMAGE_WAIT seconds.
IMAGE_STATUS = os.environ.get("AIRFLOW_ECS_WORKER_IMAGE_STATUS")
IMAGE_WAIT = float(os.environ.get("AIRFLOW_ECS_WORKER_IMAGE_WAIT", "900"))
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600 + (IMAGE_WAIT if IMAGE_STATUS else 0))]
DAGS = Path(__file__).parent / "dags"


def why_no_containers() -> str | None:
    try:
        check_podman()
    except ContainerRuntimeUnavailable as why_not:
        return f"no containers here, so no container runtime tests: {why_not}"
    return None


if not IMAGE_STATUS and (why := why_no_containers()):  # one line in the test summary (make test runs pytest -rs)
    pytest.skip(why, allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def worker_image():
    """Wait for make test's background build of the worker image; skip in one line if it failed or is late."""
    if not IMAGE_STATUS:
        return
    status, log = Path(IMAGE_STATUS), Path(IMAGE_STATUS).with_suffix(".log")
    deadline = time.monotonic() + IMAGE_WAIT
    while not status.exists():
        if time.monotonic() > deadline:
            pytest.skip(
                f"no container runtime tests: the worker image was not built within {IMAGE_WAIT:g} s "
                f"(its build's log: {log})"
            )
        time.sleep(1)
    code = status.read_text().strip()
    if code != "0":
        last = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1] if log.exists() else ""
        pytest.skip(f"no container runtime tests: make worker-image failed (exit {code}): {last} (log: {log})")
    if why := why_no_containers():
        pytest.skip(why)


@pytest.fixture(scope="module")
def local(worker_image):
    """The local ECS with the container runtime; the task definition gains a secret and a stopTimeout of 1 s."""
    with LocalEcs(port=0, start_delay=0.2, max_concurrent=4, stop_timeout=30.0, runtime="container") as ecs:
        secret_arn = ecs.client("secretsmanager").create_secret(
            Name="airflow/connection", SecretString='{"password": "pw-from-secrets-manager"}'
        )["ARN"]
        ecs.client("ssm").put_parameter(Name="/airflow/fernet", Value="fernet-from-ssm", Type="SecureString")
        ecs_client = ecs.client("ecs")
        family = ecs.outputs["task_definition_family"]["value"]
        current = ecs_client.describe_task_definition(taskDefinition=family)["taskDefinition"]
        container = {
            **current["containerDefinitions"][0],
            "stopTimeout": 1,
            "secrets": [
                {"name": "CONN_PASSWORD", "valueFrom": f"{secret_arn}:password::"},
                {"name": "FERNET_KEY", "valueFrom": "/airflow/fernet"},
            ],
        }
        ecs_client.register_task_definition(
            family=family,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu=current["cpu"],
            memory=current["memory"],
            executionRoleArn=current["executionRoleArn"],
            taskRoleArn=current["taskRoleArn"],
            containerDefinitions=[container],
        )
        yield ecs
    assert labelled(ecs.runtime.containers.run_id) == []  # the runtime removed every container it started


def stopped_how(task: dict) -> str:
    """For a failure message: how the runtime says the task ended (a podman error is in the stopped reason)."""
    container = task["containers"][0]
    return f"{task.get('stopCode')}: {task.get('stoppedReason')}; container {container.get('reason')}"


def containers_left(arn: str, timeout: float = 30) -> list[str]:
    """The task's containers still there after ``timeout`` s: the runtime removes each once it has read its end
    from podman, while it runs on, not only in its sweep at the end."""
    deadline = time.monotonic() + timeout
    while True:
        listed = subprocess.run(
            ["podman", "ps", "--all", "--quiet", "--filter", f"label={TASK_LABEL}={arn}"],
            env=podman_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if not listed.stdout.split() or time.monotonic() > deadline:
            return listed.stdout.split()
        time.sleep(0.2)


def test_the_image_runs_with_its_user_home_environment_secrets_and_exit_code(local):
    arn = run(
        local,
        [
            "python",
            "-c",
            (
                "import os, sys, airflow, airflow_ecs; "
                "print('uid', os.getuid(), 'home', os.environ['AIRFLOW_HOME'], 'airflow', airflow.__version__); "
                "print('secrets', os.environ['CONN_PASSWORD'], os.environ['FERNET_KEY']); "
                "print('pid', os.getpid()); sys.exit(3)"
            ),
        ],
    )
    task = wait_for(local, arn, "STOPPED", timeout=120)
    assert task["containers"][0]["exitCode"] == 3
    assert task["stopCode"] == "EssentialContainerExited"
    lines = log_lines(local, arn)
    assert lines[0].startswith("uid 50000 home /opt/airflow airflow 3.")  # the image's user and AIRFLOW_HOME
    assert lines[1] == "secrets pw-from-secrets-manager fernet-from-ssm"
    assert lines[2] != "pid 1"  # an init process is PID 1, so the task gets the signals it would on ECS
    assert containers_left(arn) == []


def test_memory_over_the_task_size_is_killed_by_the_kernel_as_out_of_memory(local):
    hog = "b = bytearray(400 * 2**20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(20)"
    arn = run(local, ["python", "-c", hog], memory=128)
    task = wait_for(local, arn, "STOPPED", timeout=120)
    container = task["containers"][0]
    assert container.get("exitCode") == 137, stopped_how(task)
    assert container["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert containers_left(arn) == []


def test_a_child_killed_for_memory_marks_the_container_though_its_main_process_exits_0(local):
    """Airflow's supervisor survives its task process being OOM-killed, reports the failure and exits 0. The
    parent takes a second before it exits, as the supervisor does reporting to the API server: the runtime reads
    the container's OOM count while it runs (docs/local-ecs.md), and an instant exit at load 9 once beat it."""
    hog = "b = bytearray(400 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    parent = (
        "import subprocess, sys, time; "
        f"r = subprocess.run([sys.executable, '-c', {hog!r}]); print('child', r.returncode, flush=True); time.sleep(1)"
    )
    arn = run(local, ["python", "-c", parent], memory=128)
    task = wait_for(local, arn, "STOPPED", timeout=120)
    assert log_lines(local, arn) == ["child -9"]
    assert task["containers"][0].get("exitCode") == 0, stopped_how(task)
    assert task["containers"][0]["reason"] == "OutOfMemoryError: Container killed due to memory usage"


def test_stop_task_sends_sigterm_then_sigkill_after_the_definitions_stop_timeout(local):
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
        wait_for(local, arn, "RUNNING", timeout=120)
        deadline = time.monotonic() + 120
        while log_lines(local, arn) != ["up"]:  # RUNNING is podman started; "up": the handler is in place
            assert time.monotonic() < deadline, f"{arn} never printed up"
            time.sleep(0.2)
    ecs = local.client("ecs")
    stopped_at = time.monotonic()
    for arn in (polite, stubborn):
        ecs.stop_task(cluster=local.outputs["cluster_name"]["value"], task=arn, reason="test says stop")
    polite_task, stubborn_task = wait_for(local, polite, "STOPPED"), wait_for(local, stubborn, "STOPPED")
    # stopTimeout is 1 s in the definition (the runtime's own default is 30 s): SIGKILL came after 1 s.
    assert time.monotonic() - stopped_at < 20
    assert polite_task["containers"][0]["exitCode"] == 143  # SIGTERM, through the init process
    assert stubborn_task["containers"][0]["exitCode"] == 137
    assert "reason" not in stubborn_task["containers"][0]  # killed by the stop, not out of memory
    assert polite_task["stopCode"] == stubborn_task["stopCode"] == "UserInitiated"
    assert containers_left(polite) == containers_left(stubborn) == []


def test_an_image_that_is_not_there_fails_to_start(local):
    ecs = local.client("ecs")
    family = local.outputs["task_definition_family"]["value"]
    container = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]["containerDefinitions"][0]
    definition = ecs.register_task_definition(
        family="no-such-image",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{**container, "image": "local/no-such-image:1", "secrets": []}],
    )["taskDefinition"]
    value = local.outputs
    arn = ecs.run_task(
        cluster=value["cluster_name"]["value"],
        taskDefinition=definition["taskDefinitionArn"],
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": value["subnet_ids"]["value"],
                "securityGroups": value["security_group_ids"]["value"],
            }
        },
    )["tasks"][0]["taskArn"]
    task = wait_for(local, arn, "STOPPED", timeout=60)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError: ")
    assert "exitCode" not in task["containers"][0]


def test_the_outcomes_dag_in_containers(worker_image, tmp_path):
    """Success, failure through the API, a crash's exit code and OOM, each task in its own container."""
    with local_deployment(
        tmp_path, DAGS, env={"AIRFLOW__ECS_FARGATE__POLL_INTERVAL": "1"}, runtime="container"
    ) as deployed:
        stack, run_id = deployed.stack, deployed.local.runtime.containers.run_id
        stack.wait_for_dag("ecs_e2e_outcomes")
        stack.trigger("ecs_e2e_outcomes", "outcomes")
        assert stack.wait_for_run("ecs_e2e_outcomes", "outcomes", timeout=400) == "failed"
        rows = {row.name: row for row in stack.task_rows("ecs_e2e_outcomes", "outcomes")}
        events = stack.event_log("ecs_e2e_outcomes", "outcomes")
        # The run fails as soon as the supervisor reports the failure; its container exits a moment later.
        oom_task = wait_for(deployed.local, rows["out_of_memory"].external_executor_id, "STOPPED", timeout=60)
    assert {name: row.state for name, row in rows.items()} == {
        "succeeds": "success",
        "fails": "failed",
        "crashes": "failed",
        "out_of_memory": "failed",
    }
    crash = " ".join(extra for task, event, extra in events if task == "crashes" and event == "ecs task failed")
    assert "exited 3" in crash and "crashing" in crash
    # The kernel's OOM killer took the task's process (the biggest), not Airflow's supervisor, which reported
    # the failure itself: as on Fargate, the container's reason says so while its exit code is the supervisor's.
    assert oom_task["containers"][0].get("reason") == "OutOfMemoryError: Container killed due to memory usage", (
        oom_task["containers"][0],
        [e for e in events if e[0] == "out_of_memory"],
    )
    # The task that raised ran its Airflow task runner to the end in the image: exit 0, failed through the API.
    assert not [e for e in events if e[0] == "fails" and e[1] == "ecs task failed"]
    assert labelled(run_id) == []
