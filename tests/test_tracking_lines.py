"""What people read of the tracker's decisions, word for word: the reasons ECS shows in a stopped task's
``stoppedReason`` (the Stop commands), the task instance's event-log lines and the scheduler's notes, and
the defaults the executor's launcher relies on when it calls ``launch_answered``.

tests/test_tracking.py pins the decisions; these pin the text, so a changed line is a visible test change
(mutation review of tracking.py, docs/mutation.md). Literals, not the module's constants.
"""

from __future__ import annotations

import re

import pytest

from airflow_ecs.core.tracking import EventLog, Launch, Metric, Note, ReadLogTail, Report, Settings, Stop, Tracker
from tests.test_tracking import (
    ARN,
    CONTAINER,
    PERMANENT,
    THROTTLED,
    described,
    identity,
    launch_of,
    launched,
    of,
    queue,
)

# --- the Stop reasons: ECS shows them as the task's stoppedReason (console, describe-tasks, our status) ---


def test_a_requeue_stops_the_old_task_never_seen_running_saying_why():
    tracker = Tracker()
    _, old = launched(tracker)
    assert of(queue(tracker, now=1.0), Stop) == [Stop(old, "superseded: Airflow queued this try again")]


def test_a_hand_over_stops_the_old_task_never_seen_running_saying_why():
    tracker = Tracker()
    _, old = launched(tracker)
    assert tracker.handed_over("a") == [
        Stop(old, "superseded: Airflow queued this try again"),
        Metric("incr", "tasks.superseded"),
    ]


def test_an_adoption_stops_the_task_it_replaces_saying_why():
    tracker = Tracker()
    _, old = launched(tracker)
    commands = tracker.adopt("a", identity(), "ti-a", ARN.format("adopted"), CONTAINER, 1.0, seen_running=False)
    assert commands == [Stop(old, "superseded by adoption"), Metric("incr", "tasks.superseded")]


def test_a_late_answer_for_an_attempt_gone_stops_its_task_saying_why():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    tracker.revoke("a")
    commands = tracker.launch_answered("a", first.generation, first.launch, 1.0, arn=ARN.format("late"))
    assert commands == [
        Stop(ARN.format("late"), "Airflow no longer wants this task (revoked or superseded)"),
        Metric("incr", "run_task.superseded"),
    ]
    assert tracker.recently_finished(ARN.format("late"))  # its later events are recognised as ours


# --- the event-log lines (the task instance's log in the UI) and what Airflow is told ---


def test_a_failed_task_is_logged_and_reported_with_its_arn_its_diagnosis_and_its_log_tail():
    tracker = Tracker()
    _, arn = launched(tracker)
    (read,) = tracker.observed(arn, described(arn, "STOPPED", 3), 1.0)
    assert isinstance(read, ReadLogTail) and read.arn == arn
    commands = tracker.log_tail("a", read.generation, ["Traceback", "boom"])
    (line,) = of(commands, EventLog)
    assert line.event == "ecs task failed" and line.level == "error"
    assert line.extra.startswith(f"{arn} stopped: ")
    assert line.extra.endswith("\nLast 2 log lines:\nTraceback\nboom")
    assert of(commands, Report) == [Report("a", "failed", arn, line.extra)]


def test_a_failure_with_no_log_lines_says_no_more_than_its_diagnosis():
    tracker = Tracker()
    _, arn = launched(tracker)
    (read,) = tracker.observed(arn, described(arn, "STOPPED", 3), 1.0)
    (line,) = of(tracker.log_tail("a", read.generation, []), EventLog)
    assert line.extra.startswith(f"{arn} stopped: ") and "log lines" not in line.extra


def test_a_pending_timeout_is_logged_and_reported_word_for_word():
    tracker = Tracker(Settings(pending_timeout=90.5))
    _, arn = launched(tracker)
    commands = tracker.tick(91.0)
    said = f"{arn} did not reach RUNNING within pending_timeout=90.5s (last status PROVISIONING); stopped it"
    assert commands == [
        Stop(arn, "pending_timeout exceeded"),
        EventLog("a", "ecs task pending timeout", said, level="error"),
        Report("a", "failed", arn, said),
    ]


def test_a_pending_timeout_of_a_task_never_described_says_its_status_is_unknown():
    tracker = Tracker(Settings(pending_timeout=600.0))
    arn = ARN.format("adopted")
    tracker.adopt("a", identity(), "ti-a", arn, CONTAINER, 0.0, seen_running=False)
    (line,) = of(tracker.tick(601.0), EventLog)
    assert line.extra == f"{arn} did not reach RUNNING within pending_timeout=600s (last status unknown); stopped it"


def test_a_relaunch_is_a_warning_naming_the_old_task_and_why():
    tracker = Tracker()
    _, arn = launched(tracker)
    commands = tracker.missing(arn, 100.0)
    assert of(commands, EventLog) == [
        EventLog(
            "a",
            "ecs task relaunched",
            f"{arn}: ECS reports the task MISSING. Relaunched if it had not started; otherwise failed so Airflow "
            "retries it",
            level="warning",
        )
    ]
    assert commands[0] == Metric("incr", "tasks.relaunched")


def test_a_task_stopped_before_it_started_is_relaunched_without_stopping_it_again():
    tracker = Tracker()
    _, arn = launched(tracker)
    commands = tracker.observed(arn, described(arn, "STOPPED", None, started=False, stop_code="TaskFailedToStart"), 1.0)
    (line,) = of(commands, EventLog)
    assert line.event == "ecs task relaunched" and line.level == "warning" and line.extra.startswith(f"{arn}: ")
    assert not of(commands, Stop)  # ECS already stopped it
    assert launch_of(commands).launch == 1


@pytest.mark.parametrize(
    ("failure", "max_attempts", "said"),
    [
        (PERMANENT, 5, "RunTask failed (permanent, not retried): InvalidParameterException: bad subnet"),
        (THROTTLED, 1, "RunTask failed (throttled, gave up after 1 attempts): ThrottlingException: Rate exceeded"),
    ],
)
def test_a_launch_that_fails_for_good_is_logged_and_reported_word_for_word(failure, max_attempts, said):
    tracker = Tracker(Settings(max_attempts=max_attempts))
    first = launch_of(queue(tracker))
    commands = tracker.launch_answered("a", first.generation, 0, 1.0, failure=failure)
    assert commands == [
        Metric("incr", f"run_task.{failure.kind.value}"),
        EventLog("a", "ecs run_task failed", said, level="error"),
        Report("a", "failed", None, said),
    ]


def test_a_launch_retried_is_a_note_for_the_scheduler_log_naming_the_failure_and_the_delay():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    commands = tracker.launch_answered("a", first.generation, 0, 1.0, failure=THROTTLED)
    metric, (note,) = commands[0], of(commands, Note)
    assert metric == Metric("incr", "run_task.throttled") and len(commands) == 2
    assert note.key == "a"
    assert re.fullmatch(r"RunTask throttled \(ThrottlingException: Rate exceeded\); retrying in \d+\.\ds", note.message)


@pytest.mark.parametrize(
    ("now", "expires_at", "when"),
    [(400.0, 0.0, "expired 400s ago"), (0.0, 100.0, "expires in 100s")],
)
def test_a_launch_too_late_in_the_tokens_life_says_when_it_expires_and_what_to_do(now, expires_at, when):
    tracker = Tracker()
    commands = queue(tracker, now=now, token_expires_at=expires_at)
    said = (
        f"not started: the workload's token {when} (Airflow issues it for [scheduler] task_queued_timeout) and a "
        "container needs up to 180s to reach the execution API. Failed so Airflow retries it with a fresh token "
        "(when retries remain); if this is frequent, raise [scheduler] task_queued_timeout or lower the launch "
        "backlog"
    )
    assert commands == [
        EventLog("a", "ecs task token expiring", said, level="error"),
        Report("a", "failed", None, said),
    ]


def test_a_token_with_time_left_says_how_long():
    tracker = Tracker()
    (line,) = of(queue(tracker, now=0.0, token_expires_at=179.6), EventLog)
    assert "the workload's token expires in 180s (" in line.extra
    assert of(queue(tracker, "b", now=0.0, token_expires_at=180.5), Launch)  # more than 180 s left: started


# --- the defaults of launch_answered: the launcher passes only what RunTask said ---


def test_an_answer_with_a_task_and_no_status_counts_it_provisioning():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    commands = tracker.launch_answered("a", first.generation, 0, 1.0, arn=ARN.format(1))
    assert commands == [Metric("incr", "run_task.launched"), Report("a", "queued", ARN.format(1))]
    assert tracker.status_counts() == {"PROVISIONING": 1} and tracker.get("a").last_status == "PROVISIONING"


def test_a_failure_not_answered_by_ecs_is_retried_under_the_same_client_token():
    # A throttled or timed-out call may have started the task: the retry must reuse the token, so ECS answers
    # with that task instead of starting a second one.
    tracker = Tracker()
    first = launch_of(queue(tracker))
    tracker.launch_answered("a", first.generation, 0, 1.0, failure=THROTTLED)
    retry = launch_of(tracker.tick(10_000.0))
    assert retry.launch == 0 and retry.request == first.request


def test_an_answer_not_cancelled_is_taken():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    assert of(tracker.launch_answered("a", first.generation, 0, 1.0, arn=ARN.format(1)), Report)
    assert tracker.arns() == [ARN.format(1)] and tracker.pending_launches() == 0


# --- metric values (names and kinds are checked against metrics.METRICS by the hypothesis machine) ---


def test_queued_to_running_is_timed_from_the_queueing_and_reported_once():
    tracker = Tracker()
    _, arn = launched(tracker, now=10.0)
    commands = tracker.observed(arn, described(arn, "RUNNING"), 12.5)
    assert commands == [Metric("timing", "queued_to_running", 2.5), Report("a", "running", arn)]
    assert tracker.observed(arn, described(arn, "RUNNING"), 13.0) == []


def test_stopped_to_known_carries_ecs_stopped_at():
    tracker = Tracker()
    _, arn = launched(tracker)
    task = described(arn, "STOPPED", 0)
    task["stoppedAt"] = "2026-11-25T00:01:00Z"
    commands = tracker.observed(arn, task, 1.0)
    assert commands[0] == Metric("timing_since_epoch", "stopped_to_known", 1795564860.0)
    assert commands[1:] == [Report("a", "success", arn)]
