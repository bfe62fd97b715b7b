"""What people read of the tracker's decisions, word for word: the reasons ECS shows in a stopped task's
``stoppedReason`` (the Stop commands), the task instance's event-log lines and the scheduler's notes, and
the defaults the executor's launcher relies on when it calls ``launch_answered``.

tests/test_tracking.py pins the decisions; these pin the text, so a changed line is a visible test change
(mutation review of tracking.py, docs/mutation.md). Literals, not the module's constants.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from airflow_ecs.core.events import TaskEvent
from airflow_ecs.core.tracking import (
    Delete,
    Describe,
    EventLog,
    Forget,
    Launch,
    Metric,
    Note,
    ReadLogTail,
    Report,
    Settings,
    Stop,
    Tracker,
    token_expiry,
)
from tests.test_tracking import (
    ARN,
    CAPACITY,
    CONTAINER,
    PERMANENT,
    THROTTLED,
    described,
    event,
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
    [
        (400.0, 0.0, "expired 400s ago"),
        (0.0, 100.0, "expires in 100s"),
        (50.0, 50.0, "expires now"),  # not "expired -0s ago"
        (50.4, 50.0, "expires now"),
        (50.6, 50.0, "expired 1s ago"),
    ],
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


# --- decisions the mutation review found untested (each test named for what it keeps) ---


def test_a_relaunch_keeps_stopped_to_known_and_is_bounded_by_max_attempts():
    tracker = Tracker(Settings(max_attempts=2))
    _, arn = launched(tracker)  # attempt 1
    task = described(arn, "STOPPED", None, started=False, stop_code="TaskFailedToStart")
    task["stoppedAt"] = "2026-11-25T00:01:00Z"
    commands = tracker.observed(arn, task, 1.0)
    assert commands[0] == Metric("timing_since_epoch", "stopped_to_known", 1795564860.0)
    relaunch = launch_of(commands)  # attempt 2
    new = ARN.format("new")
    tracker.launch_answered("a", relaunch.generation, relaunch.launch, 2.0, arn=new)
    commands = tracker.observed(new, described(new, "STOPPED", None, started=False, stop_code="TaskFailedToStart"), 3.0)
    assert not of(commands, Launch)  # max_attempts=2 reached: failed, not relaunched a third time
    assert of(commands, ReadLogTail)


def test_each_relaunch_gets_a_new_launch_number_and_client_token_and_its_task_is_followed_afresh():
    tracker = Tracker(Settings(max_attempts=5))
    first, arn = launched(tracker)
    tokens = [first.request["clientToken"]]
    for n in (1, 2):
        relaunch = launch_of(tracker.missing(arn, 100.0 * n))
        assert relaunch.launch == n
        tokens.append(relaunch.request["clientToken"])
        arn = ARN.format(f"relaunch{n}")
        tracker.launch_answered("a", relaunch.generation, relaunch.launch, 100.0 * n, arn=arn)
    assert len(set(tokens)) == 3  # the same token would make ECS answer with the task that went missing
    # The new task's first event (version 1) and its RUNNING are its own, not the old task's.
    message = event(arn, 1, "RUNNING")
    assert Report("a", "running", arn) in tracker.event("m1", message, 300.0)


def test_a_task_seen_running_is_never_relaunched_whatever_ecs_omits_later():
    # Seen RUNNING, then STOPPED without startedAt (or MISSING): it ran its workload, so it fails; a relaunch
    # would run the try twice.
    for how in ("observed", "event", "missing"):
        tracker = Tracker()
        _, arn = launched(tracker)
        tracker.observed(arn, described(arn, "RUNNING"), 1.0)
        stopped = described(arn, "STOPPED", None, started=False, stop_code="TaskFailedToStart")
        if how == "observed":
            commands = tracker.observed(arn, stopped, 200.0)
        elif how == "event":
            commands = tracker.event("m1", TaskEvent(arn, 6, "ti-a", stopped), 200.0)
        else:
            commands = tracker.missing(arn, 200.0)
        assert not of(commands, Launch), how
        assert of(commands, ReadLogTail) or of(commands, Report), how


def test_a_failure_learnt_from_an_event_reads_the_log_tail_of_the_task_the_event_carries():
    tracker = Tracker()
    _, arn = launched(tracker)
    message = event(arn, 3, "STOPPED", 1)
    (read,) = of(tracker.event("m1", message, 1.0), ReadLogTail)
    assert read.arn == arn and read.task == message.detail


def test_a_missing_task_gets_its_minute_of_grace_from_its_own_launch_and_relaunches_with_a_token_left():
    tracker = Tracker()
    launch = launch_of(queue(tracker, now=1000.0, token_expires_at=1_000_000.0))
    arn = ARN.format(1)
    tracker.launch_answered("a", launch.generation, 0, 1000.0, arn=arn)
    assert tracker.missing(arn, 1010.0) == []  # 10 s old
    assert launch_of(tracker.missing(arn, 1100.0)).launch == 1


def test_missing_for_a_task_not_tracked_or_already_failing_changes_nothing():
    tracker = Tracker()
    assert tracker.missing(ARN.format("unknown"), 1.0) == []
    _, arn = launched(tracker)
    tracker.observed(arn, described(arn, "STOPPED", 1), 1.0)  # failing: its log tail is being read
    assert tracker.missing(arn, 200.0) == []


def test_a_log_tail_for_an_attempt_gone_or_replaced_is_dropped():
    tracker = Tracker()
    _, arn = launched(tracker)
    (old_read,) = of(tracker.observed(arn, described(arn, "STOPPED", 1), 1.0), ReadLogTail)
    tracker.revoke("a")
    assert tracker.log_tail("a", old_read.generation, ["x"]) == []  # gone
    _, new = launched(tracker, now=2.0)
    (new_read,) = of(tracker.observed(new, described(new, "STOPPED", 1), 3.0), ReadLogTail)
    assert tracker.log_tail("a", old_read.generation, ["old"]) == []  # the old attempt's lines, for the new one
    assert of(tracker.log_tail("a", new_read.generation, ["new"]), Report)


def test_an_event_of_another_task_of_an_attempt_we_track_is_deleted_as_ours():
    tracker = Tracker(Settings(events=True))  # a shared queue: only nobody's events go back
    launched(tracker)
    assert tracker.event("m1", event(ARN.format("stray"), 1, "RUNNING"), 1.0) == [
        Delete("m1"),
        Metric("incr", "events.ignored"),
    ]


def test_every_event_stashed_for_an_attempt_that_fails_is_deleted():
    tracker = Tracker()
    launch = launch_of(queue(tracker))
    for n, name in enumerate(("x", "y")):
        tracker.event(f"m{n}", event(ARN.format(name), 1, "PENDING"), 1.0)
    assert tracker.live_size() == len(["by key", "by startedBy", "x", "y"])
    commands = tracker.launch_answered("a", launch.generation, 0, 2.0, failure=PERMANENT)
    assert of(commands, Delete) == [Delete("m0"), Delete("m1")]


def test_stop_launching_hands_back_every_attempt_not_launched():
    tracker = Tracker()
    for name in ("a", "b"):
        first = launch_of(queue(tracker, name))
        tracker.launch_answered(name, first.generation, 0, 1.0, failure=THROTTLED)
    assert of(tracker.stop_launching(), Forget) == [Forget("a"), Forget("b")]


def test_an_adopted_task_keeps_who_it_is_and_is_no_longer_taken_as_finished():
    tracker = Tracker()
    _, arn = launched(tracker)
    tracker.observed(arn, described(arn, "STOPPED", 0), 1.0)
    assert tracker.recently_finished(arn)
    tracker.adopt("b", identity("b"), "ti-b", arn, CONTAINER, 2.0, seen_running=True)
    adopted = tracker.get("b")
    assert adopted.identity == identity("b") and adopted.started_by == "ti-b"
    assert not tracker.recently_finished(arn)
    # Adopted as running: its RUNNING is not reported again, and its generation is new in this tracker.
    assert tracker.observed(arn, described(arn, "RUNNING"), 3.0) == []
    assert adopted.generation > 1


def test_the_last_10000_finished_arns_are_remembered():
    tracker = Tracker()
    launch = launch_of(queue(tracker))
    tracker.revoke("a")
    for n in range(10_001):  # late answers for the revoked launch: each ARN remembered as finished
        tracker.launch_answered("a", launch.generation, 0, 1.0, arn=f"arn-{n}")
    assert not tracker.recently_finished("arn-0")
    assert tracker.recently_finished("arn-1") and tracker.recently_finished("arn-10000")


@pytest.mark.parametrize("token", [None, 1_800_000_000, b"a.b.c"])
def test_a_token_that_is_not_a_string_has_no_expiry(token):
    assert token_expiry(token) is None


def test_a_jwt_whose_payload_is_not_an_object_has_no_expiry():
    def part(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    assert token_expiry(f"{part({'alg': 'HS512'})}.{part([1_800_000_000])}.signature") is None


@pytest.mark.parametrize("padding", range(4))
def test_a_jwt_payload_of_any_length_is_read(padding):
    # base64url without its "=" padding: every length modulo 4 must decode.
    payload = {"exp": 1_800_000_000, "sub": "t" * padding}
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    assert token_expiry(f"eyJhbGciOiJIUzUxMiJ9.{encoded}.signature") == 1_800_000_000.0


def test_fallback_and_answered_failures_each_take_a_launch_number_never_used():
    # A clientToken once used with other parameters makes ECS refuse the call; one used with the same ones
    # makes ECS answer with the same failures[].
    tracker = Tracker(Settings(max_attempts=9))
    fallback = [{"capacityProvider": "gpu-ec2", "weight": 1, "base": 0}]
    first = launch_of(queue(tracker, fallback_strategy=fallback))
    arn = ARN.format(1)
    tracker.launch_answered("a", first.generation, 0, 1.0, arn=arn)
    relaunch = launch_of(tracker.missing(arn, 100.0))  # launch 1
    tracker.launch_answered("a", relaunch.generation, 1, 100.0, failure=CAPACITY, answered=True)
    on_fallback = launch_of(tracker.tick(10_000.0))
    assert on_fallback.launch == 2
    tracker.launch_answered("a", on_fallback.generation, 2, 10_000.0, failure=CAPACITY, answered=True)
    again = launch_of(tracker.tick(20_000.0))
    assert again.launch == 3
    tracker.launch_answered("a", again.generation, 3, 20_000.0, failure=CAPACITY, answered=True)
    assert launch_of(tracker.tick(30_000.0)).launch == 4


def test_every_retry_due_in_one_tick_is_launched_once():
    tracker = Tracker()
    for name in ("a", "b"):
        first = launch_of(queue(tracker, name))
        tracker.launch_answered(name, first.generation, 0, 1.0, failure=THROTTLED)
    # "a" queued again: its first attempt's retry entry is stale, and comes up first.
    first = launch_of(queue(tracker, "a", now=2.0))
    tracker.launch_answered("a", first.generation, 0, 2.0, failure=THROTTLED)
    launches = of(tracker.tick(10_000.0), Launch)
    assert sorted(launch.key for launch in launches) == ["a", "b"]


def test_a_retry_due_after_shutdown_began_is_handed_back_not_launched():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    assert tracker.stop_launching() == []  # in flight: its answer is awaited
    tracker.launch_answered("a", first.generation, 0, 1.0, failure=THROTTLED)
    assert tracker.tick(10_000.0) == [Forget("a")]


def test_a_pending_timeout_is_found_whatever_the_attempts_generation():
    tracker = Tracker(Settings(pending_timeout=60.0))
    for _ in range(200):  # generations past any time used below
        launch_of(queue(tracker, "churn"))
        tracker.revoke("churn")
    _, arn = launched(tracker, now=0.0)
    assert of(tracker.tick(61.0), Stop) == [Stop(arn, "pending_timeout exceeded")]


def test_a_task_seen_running_outlives_its_old_pending_deadline_quietly():
    tracker = Tracker(Settings(pending_timeout=60.0, poll_interval=1_000.0))
    _, arn = launched(tracker, now=0.0)
    tracker.observed(arn, described(arn, "RUNNING"), 1.0)
    assert not of(tracker.tick(61.0), Stop)
    assert tracker.arns() == [arn]


def test_new_settings_keep_a_pending_retry():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    tracker.launch_answered("a", first.generation, 0, 1.0, failure=THROTTLED)
    launched(tracker, "b")
    tracker.settings = Settings(pending_timeout=60.0)  # the heap rebuilt
    assert sorted(type(c).__name__ for c in tracker.tick(10_000.0) if isinstance(c, (Launch, Stop))) == [
        "Launch",
        "Stop",
    ]


def test_a_sweep_waits_its_interval_after_the_last():
    for settings, interval in (
        (Settings(poll_interval=5.0), 5.0),
        (Settings(events=True, reconcile_interval=60.0), 60.0),
    ):
        tracker = Tracker(settings)
        launched(tracker, now=0.0)
        assert of(tracker.tick(0.5), Describe)  # the first at once
        tracker.sweep_done()
        assert not of(tracker.tick(0.5 + interval - 0.1), Describe)
        assert of(tracker.tick(0.5 + interval), Describe)


def test_a_task_is_named_stale_after_more_than_a_minute_pending_counted_from_its_own_launch():
    tracker = Tracker(Settings(events=True, reconcile_interval=1.0))
    _, arn = launched(tracker, now=1000.0)
    (sweep,) = of(tracker.tick(1010.0), Describe)
    assert sweep.stale == ()
    tracker.sweep_done()
    (sweep,) = of(tracker.tick(1060.0), Describe)
    assert sweep.stale == ()  # a minute exactly: not yet
    tracker.sweep_done()
    (sweep,) = of(tracker.tick(1061.5), Describe)  # the next sweep, reconcile_interval later
    assert sweep.stale == (arn,)


def test_a_token_expiring_exactly_at_the_margin_is_not_started():
    tracker = Tracker()
    assert of(queue(tracker, now=0.0, token_expires_at=180.0), EventLog)
    (line,) = of(queue(tracker, "b", now=0.0, token_expires_at=0.6), EventLog)
    assert "the workload's token expires in 1s (" in line.extra


def test_an_adopted_task_is_no_launch_backlog_and_counts_with_no_status_yet():
    tracker = Tracker()
    tracker.adopt("a", identity(), "ti-a", ARN.format("adopted"), CONTAINER, 0.0, seen_running=False)
    assert tracker.pending_launches() == 0 and tracker.status_counts() == {"": 1}


def test_a_new_tasks_first_event_version_is_applied():
    tracker = Tracker()
    _, arn = launched(tracker)
    assert Report("a", "running", arn) in tracker.event("m1", event(arn, 1, "RUNNING"), 1.0)


def test_events_stashed_for_an_attempt_are_released_whoever_stashed_before_it():
    tracker = Tracker()
    b = launch_of(queue(tracker, "b"))
    a = launch_of(queue(tracker, "a"))
    tracker.event("m0", event(ARN.format("b"), 1, "PENDING", started_by="ti-b"), 1.0)
    new = ARN.format("a")
    tracker.event("m1", event(new, 1, "PENDING"), 1.0)
    tracker.event("m2", event(new, 2, "RUNNING"), 1.0)
    commands = tracker.launch_answered("a", a.generation, 0, 2.0, arn=new)
    assert of(commands, Delete) == [Delete("m1"), Delete("m2")]
    assert Report("a", "running", new) in commands
    tracker.launch_answered("b", b.generation, 0, 2.0, arn=ARN.format("b"))
    assert tracker.live_size() == 2 * len(["by key", "by ARN", "by startedBy"])
