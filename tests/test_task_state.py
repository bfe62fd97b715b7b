"""ECS task states to Airflow verdicts, row by row, with tasks shaped like DescribeTasks answers."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from airflow_ecs.core.task_state import Verdict, epoch_seconds, judge, judge_missing

NAME = "airflow-worker"
STARTED_AT = "2026-01-01T00:00:05Z"
PENDING, RUNNING, SUCCEEDED, FAILED, RELAUNCH = (
    Verdict.PENDING,
    Verdict.RUNNING,
    Verdict.SUCCEEDED,
    Verdict.FAILED,
    Verdict.RELAUNCH,
)


def task(
    status: str | None,
    *,
    exit_code: Any = "absent",
    started: bool = False,
    stop_code: str | None = None,
    reason: str | None = None,
    container_reason: str | None = None,
    sidecar_exit: int | None = None,
    containers: list | None = None,
) -> dict[str, Any]:
    airflow: dict[str, Any] = {"name": NAME, "lastStatus": status or "PENDING"}
    if exit_code != "absent":
        airflow["exitCode"] = exit_code
    if container_reason:
        airflow["reason"] = container_reason
    found: dict[str, Any] = {
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/airflow/0123456789abcdef0123456789abcdef",
        "containers": containers if containers is not None else [airflow],
    }
    if status is not None:
        found["lastStatus"] = status
    if sidecar_exit is not None:
        found["containers"].append({"name": "log-router", "exitCode": sidecar_exit, "lastStatus": "STOPPED"})
    if started:
        found["startedAt"] = STARTED_AT
    if stop_code:
        found["stopCode"] = stop_code
    if reason:
        found["stoppedReason"] = reason
    return found


@pytest.mark.parametrize("status", ["PROVISIONING", "PENDING", "ACTIVATING", None])
@pytest.mark.parametrize("seen_running", [False, True])
def test_before_running_is_pending(status, seen_running):
    outcome = judge(task(status), NAME, seen_running=seen_running)
    assert outcome.verdict is PENDING
    assert not outcome.final


@pytest.mark.parametrize("started", [False, True])
def test_running(started):
    outcome = judge(task("RUNNING", started=started), NAME)
    assert outcome.verdict is RUNNING
    assert outcome.last_status == "RUNNING"
    assert not outcome.final


@pytest.mark.parametrize("status", ["DEACTIVATING", "STOPPING", "DEPROVISIONING"])
@pytest.mark.parametrize(
    ("started", "seen_running", "verdict"),
    [
        (False, False, PENDING),
        (True, False, RUNNING),
        (False, True, RUNNING),
    ],
)
def test_on_the_way_down_the_outcome_waits_for_stopped(status, started, seen_running, verdict):
    outcome = judge(task(status, exit_code=1, started=started), NAME, seen_running=seen_running)
    assert outcome.verdict is verdict
    assert not outcome.final


def test_stopped_with_exit_0_succeeded():
    outcome = judge(task("STOPPED", exit_code=0, started=True, stop_code="EssentialContainerExited"), NAME)
    assert outcome.verdict is SUCCEEDED
    assert outcome.exit_code == 0
    assert outcome.final


@pytest.mark.parametrize(
    ("exit_code", "says"), [(1, "exited 1"), (137, "exit 137"), (143, "exit 143"), (2, "exited 2")]
)
def test_stopped_with_a_non_zero_exit_failed_with_a_diagnosis(exit_code, says):
    outcome = judge(
        task(
            "STOPPED",
            exit_code=exit_code,
            started=True,
            stop_code="EssentialContainerExited",
            reason="Essential container in task exited",
        ),
        NAME,
        seen_running=True,
    )
    assert outcome.verdict is FAILED
    assert outcome.exit_code == exit_code
    assert says in outcome.diagnosis.cause
    assert outcome.diagnosis.action


@pytest.mark.parametrize(
    ("stop_code", "reason"),
    [
        ("SpotInterruption", "Your Spot Task was interrupted."),
        ("TerminationNotice", "Task stopped due to maintenance"),
        ("TaskFailedToStart", "Timeout waiting for network interface provisioning to complete."),
        ("TaskFailedToStart", "CannotPullContainerError: pull image manifest has been retried 7 time(s)"),
    ],
)
@pytest.mark.parametrize(
    ("started", "seen_running", "exit_code", "verdict"),
    [
        (False, False, "absent", RELAUNCH),
        (False, False, None, RELAUNCH),
        (True, False, "absent", FAILED),
        (False, True, "absent", FAILED),
        (True, True, 143, FAILED),
        # The container ran and exited, though no startedAt reached us (a stop that raced the RUNNING report):
        # launching it again would run the try in a second container.
        (False, False, 143, FAILED),
        (False, False, 1, FAILED),
    ],
    ids=[
        "never-ran",
        "never-ran-null-exit",
        "started-at",
        "seen-running",
        "ran-and-exited",
        "exit-code-no-start",
        "exit-1-no-start",
    ],
)
def test_infrastructure_stops_relaunch_only_what_never_ran(
    stop_code, reason, started, seen_running, exit_code, verdict
):
    outcome = judge(
        task("STOPPED", exit_code=exit_code, started=started, stop_code=stop_code, reason=reason),
        NAME,
        seen_running=seen_running,
    )
    assert outcome.verdict is verdict
    assert outcome.final
    assert outcome.diagnosis.infrastructure
    assert reason in outcome.diagnosis.cause


@pytest.mark.parametrize(
    ("started", "seen_running", "verdict"),
    [(True, False, FAILED), (False, True, FAILED), (True, True, FAILED), (False, False, RELAUNCH)],
)
def test_stopped_without_an_exit_code_is_never_running(started, seen_running, verdict):
    outcome = judge(
        task(
            "STOPPED",
            started=started,
            stop_code="EssentialContainerExited",
            reason="Essential container in task exited",
        ),
        NAME,
        seen_running=seen_running,
    )
    assert outcome.verdict is verdict
    assert outcome.final
    assert outcome.exit_code is None
    assert "exit code" in outcome.diagnosis.cause


@pytest.mark.parametrize("sidecar_exit", [1, 137, 255])
def test_a_failed_sidecar_does_not_fail_a_succeeded_task(sidecar_exit):
    outcome = judge(task("STOPPED", exit_code=0, started=True, sidecar_exit=sidecar_exit), NAME)
    assert outcome.verdict is SUCCEEDED


def test_a_succeeded_sidecar_does_not_save_a_failed_task():
    outcome = judge(task("STOPPED", exit_code=3, started=True, sidecar_exit=0), NAME)
    assert outcome.verdict is FAILED
    assert outcome.exit_code == 3


def test_exit_0_wins_over_an_interruption_that_came_after_it():
    outcome = judge(task("STOPPED", exit_code=0, started=True, stop_code="SpotInterruption"), NAME)
    assert outcome.verdict is SUCCEEDED


def test_out_of_memory_after_running_fails_with_advice():
    outcome = judge(
        task(
            "STOPPED",
            exit_code=137,
            started=True,
            stop_code="EssentialContainerExited",
            container_reason="OutOfMemoryError: Container killed due to memory usage",
        ),
        NAME,
    )
    assert outcome.verdict is FAILED
    # The container's own reason reaches the diagnosis: sure of out-of-memory, not "most often" as a bare 137.
    assert "killed for using more memory than it has" in outcome.diagnosis.cause
    assert "OutOfMemoryError: Container killed due to memory usage" in outcome.diagnosis.cause
    assert not outcome.diagnosis.infrastructure


STOPPED_AT = "2026-01-01T00:02:00Z"
STOPPED_EPOCH = 1767225720.0  # 2026-01-01T00:02:00Z, worked out by hand


@pytest.mark.parametrize(
    ("exit_code", "started", "stop_code", "verdict"),
    [
        (0, True, "EssentialContainerExited", SUCCEEDED),
        (1, True, "EssentialContainerExited", FAILED),
        ("absent", False, "TaskFailedToStart", RELAUNCH),
    ],
)
def test_every_final_verdict_carries_the_status_and_when_ecs_stopped_it(exit_code, started, stop_code, verdict):
    # stopped_to_known (docs/metrics.md) is timed from this stoppedAt.
    found = {**task("STOPPED", exit_code=exit_code, started=started, stop_code=stop_code), "stoppedAt": STOPPED_AT}
    outcome = judge(found, NAME)
    assert (outcome.verdict, outcome.last_status, outcome.stopped_at) == (verdict, "STOPPED", STOPPED_EPOCH)
    assert outcome.exit_code == (None if exit_code == "absent" else exit_code)


@pytest.mark.parametrize("status", ["PROVISIONING", "PENDING", "RUNNING", "STOPPING"])
def test_a_verdict_that_is_not_final_carries_the_status(status):
    assert judge(task(status, started=True), NAME, seen_running=True).last_status == status


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (STOPPED_AT, STOPPED_EPOCH),
        ("2026-01-01T00:02:00+00:00", STOPPED_EPOCH),
        ("2026-01-01T01:02:00+01:00", STOPPED_EPOCH),
        (datetime.datetime(2026, 1, 1, 0, 2, tzinfo=datetime.timezone.utc), STOPPED_EPOCH),
        (datetime.datetime(2026, 1, 1, 0, 2), STOPPED_EPOCH),  # naive: boto3's are UTC
        (STOPPED_EPOCH, STOPPED_EPOCH),
        (1767225720, STOPPED_EPOCH),
        ("yesterday", None),
        (None, None),
        (True, None),
        ([], None),
    ],
)
def test_epoch_seconds_reads_what_boto3_and_events_carry(value, seconds):
    assert epoch_seconds(value) == seconds


@pytest.mark.parametrize(("started", "seen_running"), [(False, False), (True, True)])
def test_a_missing_airflow_container_is_named(started, seen_running):
    found = task(
        "STOPPED",
        started=started,
        containers=[{"name": "worker", "exitCode": 0}, {"name": "log-router", "exitCode": 0}],
    )
    outcome = judge(found, NAME, seen_running=seen_running)
    assert outcome.verdict is FAILED, "a wrong container_name must not be relaunched forever nor succeed"
    assert repr(NAME) in outcome.diagnosis.cause
    assert "worker, log-router" in outcome.diagnosis.cause
    assert "container_name" in outcome.diagnosis.action


@pytest.mark.parametrize(("seen_running", "verdict"), [(False, RELAUNCH), (True, FAILED)])
def test_stopped_with_no_containers_at_all(seen_running, verdict):
    outcome = judge(task("STOPPED", containers=[], stop_code="TaskFailedToStart"), NAME, seen_running=seen_running)
    assert outcome.verdict is verdict


@pytest.mark.parametrize(("seen_running", "verdict"), [(False, RELAUNCH), (True, FAILED)])
def test_missing(seen_running, verdict):
    outcome = judge_missing(seen_running=seen_running)
    assert outcome.verdict is verdict
    assert outcome.last_status == "MISSING"
    assert outcome.final
    assert "MISSING" in outcome.diagnosis.cause
    assert outcome.diagnosis.action


# ECS's DescribeTasks is eventually consistent: a task RunTask placed under a minute ago may read MISSING. The
# minute is a literal here (the module's MISSING_GRACE_SECONDS), so a changed grace fails this test.
@pytest.mark.parametrize(
    ("seen_running", "age", "verdict"),
    [
        (False, 0.0, PENDING),
        (False, 59.9, PENDING),
        (False, 60.0, RELAUNCH),
        (False, 3600.0, RELAUNCH),
        (False, None, RELAUNCH),  # age unknown: taken as old
        (True, 0.0, FAILED),  # it ran: never pending again, never a second container
        (True, 59.9, FAILED),
        (True, None, FAILED),
    ],
)
def test_missing_is_not_yet_visible_for_a_minute_after_run_task(seen_running, age, verdict):
    outcome = judge_missing(seen_running=seen_running, age=age)
    assert outcome.verdict is verdict
    assert outcome.last_status == "MISSING"
    assert outcome.final is (verdict is not PENDING)
    if verdict is PENDING:
        assert outcome.diagnosis is None
    else:
        assert outcome.diagnosis.infrastructure
        assert outcome.diagnosis.cause == "ECS reports the task MISSING"


def test_an_event_detail_is_judged_like_a_described_task():
    # EventBridge's detail carries the same fields as DescribeTasks, plus some of its own.
    detail = {
        **task("STOPPED", exit_code=0, started=True),
        "version": 7,
        "updatedAt": "2026-01-01T00:01:00Z",
        "desiredStatus": "STOPPED",
    }
    assert judge(detail, NAME).verdict is SUCCEEDED
