"""The tracking state machine, with no AWS, Airflow, threads or clock: facts in, commands out.

Scenario tables for the cases of issue #13 (a requeue of the same key, revoke then requeue, early events,
relaunch, token expiry, clientTokens after failures[]), then a hypothesis RuleBasedStateMachine over random
interleavings, with the issue's invariants checked after every step.
"""

from __future__ import annotations

import base64
import functools
import gc
import itertools
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from airflow_ecs.core.events import TaskEvent
from airflow_ecs.core.failures import FailureKind, LaunchFailure
from airflow_ecs.core.run_task_request import TaskIdentity, client_token
from airflow_ecs.core.tracking import (
    CancelLaunch,
    Delete,
    Describe,
    EventFate,
    EventLog,
    Forget,
    Launch,
    Metric,
    ReadLogTail,
    Release,
    Report,
    RequestPacker,
    Settings,
    Stop,
    Tracker,
    event_fate,
    token_expiry,
)
from airflow_ecs.glue.metrics import METRICS

ARN = "arn:aws:ecs:us-east-1:123456789012:task/airflow/{}"
CONTAINER = "airflow-worker"
CAPACITY = LaunchFailure(FailureKind.CAPACITY, "RESOURCE:FARGATE", "capacity is unavailable")
THROTTLED = LaunchFailure(FailureKind.THROTTLED, "ThrottlingException", "Rate exceeded")
PERMANENT = LaunchFailure(FailureKind.PERMANENT, "InvalidParameterException", "bad subnet")


def identity(name: str = "a") -> TaskIdentity:
    return TaskIdentity("etl", name, "manual__1", -1, 1, f"ti-{name}")


def request_for(name: str = "a") -> dict[str, Any]:
    ident = identity(name)
    request = {"cluster": "airflow", "taskDefinition": "airflow-worker", "startedBy": ident.ti_id, "count": 1}
    request["clientToken"] = client_token(ident, 0, request)
    return request


def queue(tracker: Tracker, name: str = "a", now: float = 0.0, **kwargs: Any) -> list:
    return tracker.queued(name, identity(name), f"ti-{name}", request_for(name), CONTAINER, now, **kwargs)


def described(
    arn: str,
    status: str,
    exit_code: int | None = None,
    *,
    started: bool = True,
    stop_code: str = "EssentialContainerExited",
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": CONTAINER, "lastStatus": status}
    task: dict[str, Any] = {
        "taskArn": arn,
        "lastStatus": status,
        "containers": [container],
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/airflow-worker:1",
    }
    if exit_code is not None:
        container["exitCode"] = exit_code
    if started and status in ("RUNNING", "STOPPED"):
        task["startedAt"] = "2026-11-25T00:00:00Z"
    if status == "STOPPED":
        task["stopCode"] = stop_code
    return task


def event(arn: str, version: int, status: str, exit_code: int | None = None, started_by: str = "ti-a") -> TaskEvent:
    return TaskEvent(arn, version, started_by, described(arn, status, exit_code))


def of(commands: Sequence, kind: type) -> list:
    return [command for command in commands if isinstance(command, kind)]


def launch_of(commands: Sequence) -> Launch:
    (launch,) = of(commands, Launch)
    return launch


def reports(commands: Sequence) -> list[tuple[Any, str, Any]]:
    return [(r.key, r.state, r.arn) for r in of(commands, Report)]


def launched(tracker: Tracker, name: str = "a", arn: str | None = None, now: float = 0.0) -> tuple[Launch, str]:
    launch = launch_of(queue(tracker, name, now))
    arn = arn or ARN.format(f"{name}{launch.generation}")
    tracker.launch_answered(launch.key, launch.generation, launch.launch, now, arn=arn)
    return launch, arn


# --- the plain life of a task ---


def test_queued_launched_running_succeeded():
    tracker = Tracker()
    launch = launch_of(queue(tracker))
    assert launch.request == request_for() and launch.launch == 0
    commands = tracker.launch_answered("a", launch.generation, 0, 1.0, arn=ARN.format(1), status="PROVISIONING")
    assert reports(commands) == [("a", "queued", ARN.format(1))]
    assert reports(tracker.observed(ARN.format(1), described(ARN.format(1), "RUNNING"), 2.0)) == [
        ("a", "running", ARN.format(1))
    ]
    assert reports(tracker.observed(ARN.format(1), described(ARN.format(1), "STOPPED", 0), 3.0)) == [
        ("a", "success", ARN.format(1))
    ]
    assert tracker.live_size() == 0


def test_a_failure_reads_the_log_tail_then_reports_it_with_the_lines():
    tracker = Tracker()
    _launch, arn = launched(tracker)
    commands = tracker.observed(arn, described(arn, "STOPPED", 3), 1.0)
    (read,) = of(commands, ReadLogTail)
    assert not of(commands, Report)  # not before its log tail is known
    assert tracker.observed(arn, described(arn, "STOPPED", 3), 1.5) == []  # a second sweep changes nothing
    commands = tracker.log_tail(read.key, read.generation, ["Traceback", "boom"])
    assert reports(commands) == [("a", "failed", arn)]
    (line,) = of(commands, EventLog)
    assert "exited 3" in line.extra and line.extra.endswith("Last 2 log lines:\nTraceback\nboom")
    assert tracker.live_size() == 0


# --- issue #13 item 2: the same key queued again while its previous ECS task is not yet seen stopped ---


@pytest.mark.parametrize(("old_seen_running", "stopped"), [(True, False), (False, True)])
def test_a_requeued_key_never_gets_the_previous_tasks_result(old_seen_running, stopped):
    tracker = Tracker()
    first, old = launched(tracker)
    if old_seen_running:
        tracker.observed(old, described(old, "RUNNING"), 1.0)
    commands = queue(tracker, now=2.0)  # a reschedule sensor poked, gave up for now, and was queued again
    second = launch_of(commands)
    assert second.generation > first.generation
    # A task that ran is left to finish (it already handed its state to Airflow); one never seen running is stopped.
    assert [s.arn for s in of(commands, Stop)] == ([old] if stopped else [])
    new = ARN.format("new")
    tracker.launch_answered("a", second.generation, second.launch, 3.0, arn=new)
    # The old container's exit 0 arrives late, by sweep and by event: neither is reported for the new attempt.
    assert tracker.observed(old, described(old, "STOPPED", 0), 4.0) == []
    assert of(tracker.event("m1", event(old, 5, "STOPPED", 0), 4.0), Report) == []
    assert tracker.get("a").arn == new and tracker.arns() == [new]  # the new task is tracked, the old one not
    assert reports(tracker.observed(new, described(new, "STOPPED", 0), 5.0)) == [("a", "success", new)]


def test_the_old_tasks_stop_seen_before_the_new_request_is_built_is_not_reported():
    # The executor builds requests a bounded number per heartbeat: the old task's STOPPED can be seen (sweep
    # or event) after Airflow handed the key over again and before queued() starts the new attempt.
    tracker = Tracker()
    _, old = launched(tracker)
    tracker.observed(old, described(old, "RUNNING"), 1.0)
    assert of(tracker.handed_over("a"), Stop) == []  # it ran: left to finish by itself
    assert tracker.observed(old, described(old, "STOPPED", 0), 2.0) == []
    assert of(tracker.event("m1", event(old, 5, "STOPPED", 0), 2.0), Report) == []
    second = launch_of(queue(tracker, now=3.0))
    new = ARN.format("new")
    tracker.launch_answered("a", second.generation, second.launch, 4.0, arn=new)
    assert reports(tracker.observed(new, described(new, "STOPPED", 0), 5.0)) == [("a", "success", new)]


def test_a_requeue_while_the_old_launch_is_in_flight_cancels_it_and_stops_what_it_started():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    commands = queue(tracker, now=1.0)
    assert of(commands, CancelLaunch) == [CancelLaunch("a", first.generation)]
    second = launch_of(commands)
    late = tracker.launch_answered("a", first.generation, first.launch, 2.0, arn=ARN.format("old"))
    assert of(late, Stop) == [Stop(ARN.format("old"), "Airflow no longer wants this task (revoked or superseded)")]
    assert not of(late, Report)
    answer = tracker.launch_answered("a", second.generation, second.launch, 3.0, arn=ARN.format("new"))
    assert reports(answer) == [("a", "queued", ARN.format("new"))]


# --- item 3: revoke, then the same key queued again ---


def test_revoke_then_requeue_never_takes_the_revoked_launch_for_the_new_one():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    revoked = tracker.revoke("a")
    assert revoked == [CancelLaunch("a", first.generation)]
    assert tracker.live_size() == 0
    second = launch_of(queue(tracker, now=1.0))
    # The launcher sent the revoked request anyway (its thread already held a rate-limit token).
    late = tracker.launch_answered("a", first.generation, first.launch, 2.0, arn=ARN.format("revoked"))
    assert of(late, Stop) and not of(late, Report)
    assert tracker.get("a").arn is None  # not taken as the new launch's answer
    tracker.launch_answered("a", second.generation, second.launch, 3.0, arn=ARN.format("new"))
    assert tracker.arns() == [ARN.format("new")]


def test_revoke_of_a_launched_task_stops_it_and_reports_nothing():
    tracker = Tracker()
    _, arn = launched(tracker)
    assert tracker.revoke("a") == [Stop(arn, "revoked by Airflow")]
    assert tracker.observed(arn, described(arn, "STOPPED", 143), 1.0) == []
    assert tracker.live_size() == 0


# --- item 4: events between a relaunch and its new RunTask answer ---


def test_events_stashed_before_the_answer_are_applied_or_deleted_never_kept():
    tracker = Tracker()
    _launch, old = launched(tracker)
    relaunch = launch_of(
        tracker.observed(old, described(old, "STOPPED", None, started=False, stop_code="TaskFailedToStart"), 1.0)
    )
    assert relaunch.launch == 1
    new, stray = ARN.format("new"), ARN.format("stray")
    assert tracker.event("m1", event(new, 1, "PENDING"), 2.0) == []  # beat the answer: kept
    assert tracker.event("m2", event(stray, 1, "PENDING"), 2.0) == []  # e.g. a superseded launch's task
    assert of(tracker.event("m3", event(old, 3, "STOPPED"), 2.0), Delete) == [Delete("m3")]  # the old task's: late
    commands = tracker.launch_answered("a", relaunch.generation, 1, 3.0, arn=new)
    assert {d.receipt_handle for d in of(commands, Delete)} == {"m1", "m2"}
    assert tracker.live_size() == len(["by key", "by ARN", "by startedBy"])  # nothing stashed any more


def test_events_stashed_for_an_attempt_that_ends_are_deleted():
    tracker = Tracker()
    launch = launch_of(queue(tracker))
    tracker.event("m1", event(ARN.format("x"), 1, "PENDING"), 1.0)
    commands = tracker.launch_answered("a", launch.generation, 0, 2.0, failure=PERMANENT, answered=True)
    assert of(commands, Delete) == [Delete("m1")] and reports(commands) == [("a", "failed", None)]
    assert tracker.live_size() == 0


def test_another_schedulers_event_is_handed_back_and_a_late_one_of_ours_deleted():
    tracker = Tracker()
    _, arn = launched(tracker)
    tracker.observed(arn, described(arn, "STOPPED", 0), 1.0)
    assert tracker.event("m1", event(ARN.format("theirs"), 2, "RUNNING", started_by="ti-z"), 2.0) == [Release("m1")]
    assert of(tracker.event("m2", event(arn, 4, "STOPPED", 0), 2.0), Delete) == [Delete("m2")]


# --- one events queue per scheduler: what an event nobody here tracks becomes ---


@pytest.mark.parametrize(
    ("tracked", "owner_waits_for_arn", "owner_known", "finished", "exclusive_queue"),
    list(itertools.product([False, True], repeat=5)),
)
def test_event_fate_over_every_combination(tracked, owner_waits_for_arn, owner_known, finished, exclusive_queue):
    if owner_waits_for_arn and not owner_known:
        pytest.skip("an owner waiting for its ARN is a known owner")
    fate = event_fate(
        tracked=tracked,
        owner_waits_for_arn=owner_waits_for_arn,
        owner_known=owner_known,
        finished=finished,
        exclusive_queue=exclusive_queue,
    )
    # The table, written out rather than derived: a tracked task's event is applied whatever else is true;
    # one that beat RunTask's answer is kept; one of an older task of ours is deleted; and only an event of
    # nobody we know depends on the queue: handed back on a shared queue, deleted on our own.
    if tracked:
        expected = EventFate.APPLY
    elif owner_waits_for_arn and not finished:
        expected = EventFate.STASH
    elif owner_known or finished:
        expected = EventFate.DELETE_OURS
    elif exclusive_queue:
        expected = EventFate.DELETE_UNKNOWN
    else:
        expected = EventFate.RELEASE
    assert fate is expected


def test_only_an_event_of_nobody_we_know_on_a_shared_queue_is_ever_handed_back():
    released = [
        combination
        for combination in itertools.product([False, True], repeat=5)
        if event_fate(
            tracked=combination[0],
            owner_waits_for_arn=combination[1] and combination[2],
            owner_known=combination[2],
            finished=combination[3],
            exclusive_queue=combination[4],
        )
        is EventFate.RELEASE
    ]
    assert released == [(False, False, False, False, False), (False, True, False, False, False)]


@pytest.mark.parametrize("exclusive", [False, True])
def test_an_unknown_event_is_released_on_a_shared_queue_and_deleted_on_our_own(exclusive):
    tracker = Tracker(Settings(events=True, exclusive_queue=exclusive))
    launched(tracker)
    commands = tracker.event("m1", event(ARN.format("theirs"), 2, "RUNNING", started_by="ti-z"), 1.0)
    if exclusive:
        assert commands == [Delete("m1"), Metric("incr", "events.not_ours")]
    else:
        assert commands == [Release("m1")]
    assert tracker.live_size() == len(["by key", "by ARN", "by startedBy"])  # nothing kept for it


def test_after_a_restart_the_dead_processes_finished_tasks_events_are_deleted_on_our_own_queue():
    # The orphans: the dead process launched and finished these; their ARN and startedBy (a new TI UUID each
    # try) are unknown to the next process. On a shared queue they come back until the dead-letter queue takes
    # them; on our own they go at the first receive.
    dead = Tracker(Settings(events=True))
    _, arn = launched(dead)
    dead.observed(arn, described(arn, "STOPPED", 0), 1.0)
    late = event(arn, 4, "STOPPED", 0)
    assert of(dead.event("m0", late, 2.0), Delete) == [Delete("m0")]  # the dead process knew it was its own
    shared = Tracker(Settings(events=True))
    own = Tracker(Settings(events=True, exclusive_queue=True))
    for receive in range(3):
        assert shared.event(f"m{receive}", late, 10.0 + receive) == [Release(f"m{receive}")]
    assert own.event("m1", late, 10.0) == [Delete("m1"), Metric("incr", "events.not_ours")]


def test_an_event_that_beats_run_tasks_answer_is_kept_on_our_own_queue_too():
    tracker = Tracker(Settings(events=True, exclusive_queue=True))
    launch = launch_of(queue(tracker))
    arn = ARN.format("early")
    assert tracker.event("m1", event(arn, 2, "RUNNING"), 1.0) == []
    commands = tracker.launch_answered("a", launch.generation, 0, 2.0, arn=arn)
    assert of(commands, Delete) == [Delete("m1")] and ("a", "running", arn) in reports(commands)


def test_an_adopted_task_is_learned_by_the_sweep_adoption_starts_without_any_event():
    # On our own queue the adopted task's earlier events were deleted before adoption (nobody tracked it then):
    # adoption must not wait for an event. It starts a sweep at once; the sweep lists the stopped tasks of our
    # families and describes those it tracks, and the stale pending ones.
    tracker = Tracker(Settings(events=True, exclusive_queue=True, reconcile_interval=60.0))
    arn = ARN.format("adopted")
    assert tracker.event("m1", event(arn, 3, "STOPPED", 0, started_by="ti-a"), 0.0) == [
        Delete("m1"),
        Metric("incr", "events.not_ours"),
    ]
    tracker.tick(0.5)
    assert tracker.adopt("a", identity(), "ti-a", arn, CONTAINER, 1.0, seen_running=True) == []
    (sweep,) = of(tracker.tick(1.0), Describe)
    assert sweep.reconcile and arn in sweep.arns
    assert reports(tracker.observed(arn, described(arn, "STOPPED", 0), 2.0)) == [("a", "success", arn)]
    tracker.sweep_done()
    # A later event of a task adopted and still running is its owner's now, on this queue too.
    other = ARN.format("adopted-running")
    tracker.adopt("b", identity("b"), "ti-b", other, CONTAINER, 3.0, seen_running=False)
    assert of(tracker.tick(3.0), Describe) == [Describe((other,), reconcile=True, stale=())]
    tracker.sweep_done()
    assert reports(tracker.event("m2", event(other, 2, "RUNNING", started_by="ti-b"), 4.0)) == [("b", "running", other)]
    # One never seen running and never described again is named stale once it has waited a minute.
    tracker.adopt("c", identity("c"), "ti-c", ARN.format("c"), CONTAINER, 5.0, seen_running=False)
    (sweep,) = of(tracker.tick(70.0), Describe)
    assert sweep.stale == (ARN.format("c"),)


def test_events_apply_once_in_version_order():
    tracker = Tracker()
    _, arn = launched(tracker)
    assert reports(tracker.event("m2", event(arn, 2, "RUNNING"), 1.0)) == [("a", "running", arn)]
    assert reports(tracker.event("m1", event(arn, 1, "PENDING"), 1.0)) == []  # older: ignored
    assert reports(tracker.event("m2", event(arn, 2, "RUNNING"), 1.0)) == []  # duplicate
    assert reports(tracker.event("m3", event(arn, 3, "STOPPED", 0), 1.0)) == [("a", "success", arn)]


def test_out_of_order_and_duplicate_deliveries_apply_each_version_once():
    # SQS delivers at least once and in any order: versions 2, 4 and 5 apply, every message is deleted.
    tracker = Tracker()
    _, arn = launched(tracker)
    status = {1: "PENDING", 2: "PENDING", 3: "RUNNING", 4: "RUNNING", 5: "STOPPED"}
    applied, deleted, results = [], [], []
    for n, version in enumerate([2, 1, 2, 4, 3, 4, 5, 5]):
        commands = tracker.event(f"m{n}", event(arn, version, status[version], 0 if version == 5 else None), 1.0)
        deleted += [c.receipt_handle for c in of(commands, Delete)]
        if Metric("incr", "events.applied") in commands:
            applied.append(version)
        results += [r for r in reports(commands) if r[1] in ("success", "failed")]
    assert applied == [2, 4, 5]
    assert deleted == [f"m{n}" for n in range(8)]
    assert results == [("a", "success", arn)]


# --- items 6 and 7: the token's expiry; a new clientToken after failures[] ---


def test_a_launch_too_close_to_the_tokens_expiry_fails_with_a_diagnosis():
    tracker = Tracker(Settings(max_attempts=5))
    launch = launch_of(queue(tracker, now=0.0, token_expires_at=600.0))
    commands = tracker.launch_answered("a", launch.generation, 0, 400.0, failure=THROTTLED)
    assert not of(commands, Report)
    commands = tracker.tick(1000.0)  # the retry is due only after 420 s (token expiry 600 s minus 180 s)
    assert not of(commands, Launch)
    assert reports(commands) == [("a", "failed", None)]
    (line,) = of(commands, EventLog)
    assert "token" in line.extra and "task_queued_timeout" in line.extra and "retries it" in line.extra
    assert line.event == "ecs task token expiring"


def test_a_relaunch_late_in_the_tokens_life_is_not_started():
    tracker = Tracker()
    launch = launch_of(queue(tracker, now=0.0, token_expires_at=600.0))
    tracker.launch_answered("a", launch.generation, 0, 1.0, arn=ARN.format(1))
    commands = tracker.observed(
        ARN.format(1), described(ARN.format(1), "STOPPED", None, started=False, stop_code="TaskFailedToStart"), 500.0
    )
    assert not of(commands, Launch) and reports(commands) == [("a", "failed", None)]


def test_no_token_deadline_is_ever_too_late():
    tracker = Tracker()
    assert of(queue(tracker, now=10**9), Launch)


@pytest.mark.parametrize(("answered", "new_token"), [(True, True), (False, False)])
def test_a_retry_after_an_answered_failure_gets_a_new_client_token(answered, new_token):
    tracker = Tracker()
    first = launch_of(queue(tracker))
    failure = LaunchFailure(FailureKind.TRANSIENT, "AGENT", "agent disconnected")
    tracker.launch_answered("a", first.generation, 0, 1.0, failure=failure, answered=answered)
    retry = launch_of(tracker.tick(10_000.0))
    assert (retry.request["clientToken"] != first.request["clientToken"]) is new_token
    assert retry.launch == (1 if new_token else 0)


def test_capacity_moves_to_the_attempts_own_fallback_strategy():
    tracker = Tracker()
    fallback = [{"capacityProvider": "gpu-ec2", "weight": 1, "base": 0}]
    first = launch_of(queue(tracker, fallback_strategy=fallback))
    tracker.launch_answered("a", first.generation, 0, 1.0, failure=CAPACITY, answered=True)
    retry = launch_of(tracker.tick(10_000.0))
    assert retry.request["capacityProviderStrategy"] == fallback
    assert retry.request["clientToken"] != first.request["clientToken"]


def test_without_a_fallback_capacity_is_retried_as_it_was():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    tracker.launch_answered("a", first.generation, 0, 1.0, failure=CAPACITY, answered=True)
    retry = launch_of(tracker.tick(10_000.0))
    assert "capacityProviderStrategy" not in retry.request


def test_attempts_are_bounded_and_permanent_failures_fail_at_once():
    tracker = Tracker(Settings(max_attempts=2))
    first = launch_of(queue(tracker))
    tracker.launch_answered("a", first.generation, 0, 1.0, failure=THROTTLED)
    second = launch_of(tracker.tick(10_000.0))
    commands = tracker.launch_answered("a", second.generation, second.launch, 10_001.0, failure=THROTTLED)
    assert (
        reports(commands) == [("a", "failed", None)] and "gave up after 2 attempts" in of(commands, EventLog)[0].extra
    )
    third = launch_of(queue(tracker, "b"))
    commands = tracker.launch_answered("b", third.generation, 0, 1.0, failure=PERMANENT)
    assert "not retried" in of(commands, EventLog)[0].extra


# --- sweeps, timeouts, shutdown, adoption ---


def test_polling_describes_every_tracked_task_each_interval_one_sweep_at_a_time():
    tracker = Tracker(Settings(poll_interval=5.0))
    assert tracker.tick(0.0) == []  # nothing launched: nothing to describe
    _, arn = launched(tracker)
    assert of(tracker.tick(1.0), Describe) == [Describe((arn,))]
    assert of(tracker.tick(10.0), Describe) == []  # the first has not answered
    tracker.sweep_done()
    assert of(tracker.tick(10.0), Describe) == [Describe((arn,))]


def test_with_events_the_sweep_reconciles_and_names_the_stale_pending_tasks():
    tracker = Tracker(Settings(events=True, reconcile_interval=60.0))
    _, arn = launched(tracker, now=0.0)
    assert of(tracker.tick(1.0), Describe) == [Describe((arn,), reconcile=True, stale=())]
    tracker.sweep_done()
    assert of(tracker.tick(120.0), Describe) == [Describe((arn,), reconcile=True, stale=(arn,))]


def test_pending_timeout_stops_and_fails():
    tracker = Tracker(Settings(pending_timeout=600.0))
    _, arn = launched(tracker, now=0.0)
    assert not of(tracker.tick(599.0), Stop)
    commands = tracker.tick(601.0)
    assert of(commands, Stop) == [Stop(arn, "pending_timeout exceeded")] and reports(commands) == [("a", "failed", arn)]


def test_a_missing_task_is_relaunched_only_when_old_and_never_seen_running():
    tracker = Tracker()
    _, arn = launched(tracker, now=0.0)
    assert tracker.missing(arn, 10.0) == []  # ECS's eventual consistency
    commands = tracker.missing(arn, 100.0)
    assert of(commands, Stop) == [Stop(arn, "relaunched by Airflow's ECS executor")] and of(commands, Launch)


def test_stop_launching_hands_unlaunched_attempts_back_and_retries_nothing():
    tracker = Tracker()
    first = launch_of(queue(tracker, "a"))
    launched(tracker, "b")
    tracker.launch_answered("a", first.generation, 0, 1.0, failure=THROTTLED)
    assert of(tracker.stop_launching(), Forget) == [Forget("a")]
    assert [a.key for a in tracker] == ["b"]
    assert of(queue(tracker, "c"), Forget) == [Forget("c")]


@pytest.mark.parametrize("seen_running", [False, True])
def test_an_adopted_task_is_tracked_by_its_arn_and_never_relaunched(seen_running):
    # Adopted, so its request is gone: MISSING (before or after it was seen running) fails it, never relaunches.
    tracker = Tracker()
    arn = ARN.format("adopted")
    assert tracker.adopt("a", identity(), "ti-a", arn, CONTAINER, 0.0, seen_running=seen_running) == []
    assert of(tracker.tick(0.0), Describe) == [Describe((arn,))]
    commands = tracker.missing(arn, 100.0)
    assert not of(commands, Launch) and reports(commands) == [("a", "failed", arn)]


def token_with_exp(exp: object) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS512'})}.{part({'exp': exp, 'sub': 'ti'})}.signature"


def test_token_expiry_is_read_from_the_jwt_and_nothing_else():
    assert token_expiry(token_with_exp(1_800_000_000)) == 1_800_000_000.0
    assert token_expiry("workload-token") is None
    assert token_expiry("a.!!!.c") is None
    assert token_expiry(token_with_exp("soon")) is None


# --- random interleavings: the invariants of issue #13 ---

KEYS = ("a", "b")


DECLARED = {metric.name: metric.kind for metric in METRICS}
METRIC_KINDS = {"incr": "counter", "timing": "timer", "timing_since_epoch": "timer"}


class ScanTracker(Tracker):
    """tick() as it was before the deadline heap: every tracked attempt looked at, in the order tracked."""

    def _due(self, now: float) -> list:
        return list(self._attempts.values())


COMMAND_METHODS = {
    "queued",
    "handed_over",
    "adopt",
    "revoke",
    "launch_answered",
    "observed",
    "missing",
    "event",
    "log_tail",
    "sweep_done",
    "stop_launching",
    "tick",
}


class Twin:
    """A Tracker and a ScanTracker fed the same inputs: every input's commands must be the same from both, so
    the heap finds exactly the attempts a full scan finds, in the same order. Queries answer from the Tracker."""

    def __init__(self, settings: Settings) -> None:
        self.fast, self.scan = Tracker(settings), ScanTracker(settings)

    def __getattr__(self, name: str) -> Any:
        fast = getattr(self.fast, name)
        if name not in COMMAND_METHODS:
            return fast

        def both(*args: Any, **kwargs: Any) -> Any:
            jitter = random.getstate()  # retries are jittered: both draw the same
            expected = getattr(self.scan, name)(*args, **kwargs)
            random.setstate(jitter)
            got = fast(*args, **kwargs)
            assert got == expected, f"{name}{args}: the heap gave {got}, a full scan {expected}"
            return got

        return both

    def __iter__(self):
        return iter(self.fast)

    def __len__(self) -> int:
        return len(self.fast)


class Interleavings(RuleBasedStateMachine):
    """A scheduler, a launcher and ECS, as the tracker sees them, in any order.

    The model remembers every launch and answer; the invariants compare the tracker's commands with it.
    """

    exclusive = False  # one events queue per scheduler (a subclass runs the same machine with it)

    def __init__(self) -> None:
        super().__init__()
        self.tracker = Twin(Settings(max_attempts=3, events=True, exclusive_queue=self.exclusive))
        self.now = 0.0
        self.newest: dict[str, int] = {}  # key -> generation Airflow wants (absent: revoked or finished)
        self.in_flight: list[Launch] = []  # sent, not yet answered
        self.arn_generation: dict[str, tuple[str, int]] = {}  # every ARN ever answered -> (key, generation)
        self.stopped: set[str] = set()
        self.ended: set[str] = set()  # reported success/failed, or left to finish by a supersede
        self.delivered: list[tuple[str, TaskEvent]] = []
        self.counter = 0

    def run(self, commands: Sequence) -> None:
        for command in commands:
            if isinstance(command, Launch):
                self.in_flight.append(command)
            elif isinstance(command, CancelLaunch):
                pass  # the launcher may have sent it already: its answer still comes (it is stopped then)
            elif isinstance(command, Stop):
                self.stopped.add(command.arn)
            elif isinstance(command, Report):
                if command.state in ("success", "failed", "running", "queued"):
                    assert self.newest.get(command.key) is not None, f"{command} for a key Airflow gave up on"
                    if command.arn:
                        owner = self.arn_generation[command.arn]
                        assert owner == (command.key, self.newest[command.key]), (
                            f"{command} reports an older attempt's task"
                        )
                if command.state in ("success", "failed"):
                    del self.newest[command.key]
                    if command.arn:
                        self.ended.add(command.arn)
            elif isinstance(command, Forget):
                self.newest.pop(command.key, None)
            elif isinstance(command, ReadLogTail):
                self.run(self.tracker.log_tail(command.key, command.generation, ["line"]))
            elif isinstance(command, Release):
                # Only a shared queue hands an event back: on our own, nobody else would ever read it.
                assert not self.exclusive, f"{command} on a queue only this scheduler reads"
            elif isinstance(command, Metric):
                # The executor emits it through metrics.Metrics, which refuses an undeclared name or kind.
                assert DECLARED.get(command.name) == METRIC_KINDS[command.kind], f"{command} is not declared"

    def mark_retired(self, key: str) -> None:
        old = self.tracker.get(key)
        if old is not None and old.arn and old.seen_running:
            self.ended.add(old.arn)  # retired: left to finish, it already ran its workload

    @rule(key=st.sampled_from(KEYS))
    def queue(self, key: str) -> None:
        self.mark_retired(key)
        commands = self.tracker.queued(key, identity(key), f"ti-{key}", request_for(key), CONTAINER, self.now)
        self.newest[key] = self.tracker.get(key).generation
        self.run(commands)

    @rule(key=st.sampled_from(KEYS))
    def hand_over(self, key: str) -> None:
        """Airflow hands the key over again; its request waits to be built (queue() comes later, or never)."""
        self.mark_retired(key)
        self.newest[key] = -1  # no generation yet: nothing may be reported with an ARN for it meanwhile
        self.run(self.tracker.handed_over(key))

    @rule(key=st.sampled_from(KEYS))
    def revoke(self, key: str) -> None:
        self.newest.pop(key, None)
        self.run(self.tracker.revoke(key))

    @precondition(lambda self: self.in_flight)
    @rule(index=st.integers(0, 10), outcome=st.sampled_from(["task", "task", "capacity", "throttled", "permanent"]))
    def answer(self, index: int, outcome: str) -> None:
        launch = self.in_flight.pop(index % len(self.in_flight))
        if outcome == "task":
            self.counter += 1
            arn = ARN.format(f"{launch.key}-{self.counter}")
            self.arn_generation[arn] = (launch.key, launch.generation)
            self.run(self.tracker.launch_answered(launch.key, launch.generation, launch.launch, self.now, arn=arn))
        else:
            failure = {"capacity": CAPACITY, "throttled": THROTTLED, "permanent": PERMANENT}[outcome]
            self.run(
                self.tracker.launch_answered(
                    launch.key,
                    launch.generation,
                    launch.launch,
                    self.now,
                    failure=failure,
                    answered=outcome == "capacity",
                )
            )

    @precondition(lambda self: self.arn_generation)
    @rule(
        index=st.integers(0, 50),
        status=st.sampled_from(["RUNNING", "STOPPED0", "STOPPED1", "NOSTART"]),
        version=st.integers(1, 4),
        by_event=st.booleans(),
    )
    def ecs_says(self, index: int, status: str, version: int, by_event: bool) -> None:
        arns = sorted(self.arn_generation)
        arn = arns[index % len(arns)]
        key = self.arn_generation[arn][0]
        task = {
            "RUNNING": described(arn, "RUNNING"),
            "STOPPED0": described(arn, "STOPPED", 0),
            "STOPPED1": described(arn, "STOPPED", 1),
            "NOSTART": described(arn, "STOPPED", None, started=False, stop_code="TaskFailedToStart"),
        }[status]
        if status != "RUNNING":
            self.ended.add(arn)  # ECS itself says it stopped: no longer a live task, whoever tracks it
        if by_event:
            self.counter += 1
            message = TaskEvent(arn, version, f"ti-{key}", task)
            self.delivered.append((f"m{self.counter}", message))
            self.run(self.tracker.event(f"m{self.counter}", message, self.now))
        else:
            self.run(self.tracker.observed(arn, task, self.now))

    @precondition(lambda self: self.delivered)
    @rule(index=st.integers(0, 50))
    def redeliver(self, index: int) -> None:
        receipt, message = self.delivered[index % len(self.delivered)]
        self.run(self.tracker.event(receipt, message, self.now))

    @rule(seconds=st.sampled_from([0.5, 30.0, 200.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.run(self.tracker.tick(self.now))
        self.tracker.sweep_done()

    @rule()
    def restart(self) -> None:
        """The scheduler restarts: end() waits for launches in flight, the next one adopts by ARN."""
        while self.in_flight:
            self.answer(0, "task")
        old, self.tracker = self.tracker, Twin(Settings(max_attempts=3, events=True, exclusive_queue=self.exclusive))
        for attempt in old:
            if attempt.arn:
                self.run(
                    self.tracker.adopt(
                        attempt.key,
                        attempt.identity,
                        attempt.started_by,
                        attempt.arn,
                        CONTAINER,
                        self.now,
                        seen_running=attempt.seen_running,
                    )
                )
                # The new scheduler's generations are its own: the adopted task is its newest attempt.
                self.newest[attempt.key] = self.tracker.get(attempt.key).generation
                self.arn_generation[attempt.arn] = (attempt.key, self.newest[attempt.key])
            else:
                self.newest.pop(attempt.key, None)  # reset by Airflow: queued again later

    @invariant()
    def at_most_one_live_ecs_task_per_key(self) -> None:
        live: dict[str, list[str]] = {}
        for arn, (key, _) in self.arn_generation.items():
            if arn not in self.stopped and arn not in self.ended:
                live.setdefault(key, []).append(arn)
        tracked = set(self.tracker.arns())
        for key, arns in live.items():
            untracked = [arn for arn in arns if arn not in tracked]
            assert not untracked, f"{key}: ECS tasks neither tracked, stopped nor reported: {untracked}"
            assert len(arns) <= 1, f"{key} has {len(arns)} live ECS tasks"

    @invariant()
    def the_kept_counts_agree_with_a_full_count(self) -> None:
        attempts = list(self.tracker.fast)
        assert self.tracker.status_counts() == dict(Counter(a.last_status for a in attempts if a.arn))
        assert self.tracker.pending_launches() == sum(1 for a in attempts if a.in_flight or a.retry_at is not None)

    @invariant()
    def tracked_tasks_belong_to_the_newest_attempt(self) -> None:
        for arn in self.tracker.arns():
            key, generation = self.arn_generation[arn]
            assert self.tracker.get(key).generation == generation

    def teardown(self) -> None:
        """When all work ends, memory is back to zero."""
        for key in [key for key, generation in self.newest.items() if generation == -1]:
            del self.newest[key]  # handed over, never built: the executor fails it before launch (no tracker state)
        for _ in range(20):
            while self.in_flight:
                self.answer(0, "task")
            for arn in list(self.tracker.arns()):
                self.run(self.tracker.observed(arn, described(arn, "STOPPED", 0), self.now))
            self.now += 1000.0
            self.run(self.tracker.tick(self.now))
            self.tracker.sweep_done()
            if not self.in_flight and not len(self.tracker):
                break
        assert self.tracker.live_size() == 0 and not self.newest


TestInterleavings = Interleavings.TestCase
TestInterleavings.settings = settings(
    max_examples=int(os.environ.get("TRACKER_EXAMPLES", "150")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class ExclusiveInterleavings(Interleavings):
    exclusive = True


TestExclusiveInterleavings = ExclusiveInterleavings.TestCase
TestExclusiveInterleavings.settings = settings(
    max_examples=int(os.environ.get("TRACKER_EXAMPLES", "150")) // 3,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- what a tick costs, and what a tracked task keeps ---


def test_a_tick_looks_only_at_the_attempts_due():
    tracker = Tracker(Settings(pending_timeout=600.0))
    for i in range(1000):
        launched(tracker, f"t{i}", now=float(i))
    looked_at: list = []
    due = tracker._due
    tracker._due = lambda now: looked_at.extend(due(now)) or looked_at
    assert not of(tracker.tick(500.0), Stop)
    assert looked_at == []
    stops = of(tracker.tick(605.5), Stop)  # tasks launched at 0..5 have been pending for more than 600 s
    assert [stop.reason for stop in stops] == ["pending_timeout exceeded"] * 6
    assert len(looked_at) == 6


def test_a_retry_is_launched_at_the_tick_of_its_due_time_and_not_before():
    tracker = Tracker()
    first = launch_of(queue(tracker))
    tracker.launch_answered("a", first.generation, 0, 1.0, failure=THROTTLED)
    due = tracker.get("a").retry_at
    assert due is not None and due > 1.0
    assert tracker.tick(due - 0.001) == []
    assert launch_of(tracker.tick(due)).request == first.request  # at its time exactly, not a tick later


def test_a_pending_timeout_fires_only_once_it_is_exceeded():
    tracker = Tracker(Settings(pending_timeout=600.0))
    _, arn = launched(tracker, now=0.0)
    assert not of(tracker.tick(600.0), Stop)  # reached, not exceeded
    assert of(tracker.tick(600.5), Stop) == [Stop(arn, "pending_timeout exceeded")]
    assert tracker.tick(1200.0) == []  # once


def test_the_deadline_heap_follows_the_attempts_tracked_not_every_attempt_ever_made():
    # Each requeue supersedes the last attempt and leaves its deadline behind in the heap: a scheduler up for
    # weeks must not keep them all.
    tracker = Tracker()
    for i in range(2000):
        launched(tracker, "a", now=float(i))
    assert len(tracker) == 1
    assert len(tracker._deadlines) < 200
    (stop,) = of(tracker.tick(1999.0 + 601.0), Stop)  # the live attempt's deadline survived the clean-ups
    assert stop.reason == "pending_timeout exceeded"


def test_a_shorter_pending_timeout_set_later_applies_to_the_tasks_already_tracked():
    tracker = Tracker()  # the executor sets its settings at start()
    launched(tracker, "a", now=0.0)
    tracker.settings = Settings(pending_timeout=60.0)
    assert reports(tracker.tick(61.0)) == [("a", "failed", ARN.format("a1"))]


def test_the_status_gauges_and_the_launch_backlog_are_kept_as_tasks_change():
    tracker = Tracker(Settings(max_attempts=3))
    launch_of(queue(tracker, "a"))
    assert tracker.pending_launches() == 1 and tracker.status_counts() == {}
    _, arn = launched(tracker, "b")
    assert tracker.pending_launches() == 1 and tracker.status_counts() == {"PROVISIONING": 1}
    tracker.observed(arn, described(arn, "RUNNING"), 1.0)
    assert tracker.status_counts() == {"RUNNING": 1}
    tracker.observed(arn, described(arn, "STOPPED", 0), 2.0)
    assert tracker.status_counts() == {}
    tracker.revoke("a")
    assert tracker.pending_launches() == 0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=75, deadline=None)
@given(
    first=st.dictionaries(st.text(max_size=10), JSON, max_size=5),
    request=st.dictionaries(st.text(max_size=10), JSON, max_size=5),
)
def test_a_packed_request_unpacks_to_the_same_request(first, request):
    packer = RequestPacker()
    packer.pack(first)  # the preset dictionary comes from the first request packed
    assert packer.unpack(packer.pack(request)) == request


def test_a_request_that_is_not_json_is_kept_as_it_is():
    packer = RequestPacker()
    request = {"cluster": "airflow", "tags": {("not", "json")}}
    assert packer.unpack(packer.pack(request)) is request


def test_a_relaunch_sends_the_request_that_was_packed():
    tracker = Tracker(Settings(max_attempts=3))
    first, arn = launched(tracker, "a", now=0.0)
    relaunch = launch_of(tracker.missing(arn, 400.0))  # MISSING, never seen running, old: relaunched
    assert relaunch.launch == 1
    assert {k: v for k, v in relaunch.request.items() if k != "clientToken"} == {
        k: v for k, v in first.request.items() if k != "clientToken"
    }
    assert relaunch.request["clientToken"] != first.request["clientToken"]


def realistic_tracking() -> Callable[[Tracker, int], str]:
    """``track(tracker, i)``: the i-th attempt queued with a RunTask request rendered from the default template (a
    workload JSON with its own JWT in the command) and launched; returns the ARN RunTask answered."""
    import uuid

    from airflow_ecs.core.config import load_config
    from airflow_ecs.core.executor_config import parse_executor_config
    from airflow_ecs.core.run_task_request import build_request, load_template

    config = load_config(
        {
            "region": "us-east-1",
            "cluster": "airflow",
            "container_name": "airflow-worker",
            "task_definition": "airflow-worker:3",
            "subnets": "subnet-0a1b2c3d,subnet-4e5f6a7b",
            "security_groups": "sg-0123456789abcdef0",
        }.get
    )
    template = load_template(None)

    def track(tracker: Tracker, i: int) -> str:
        ti_id = str(uuid.UUID(int=i + 1))
        ident = TaskIdentity("etl", f"load_{i % 50}", "scheduled__2026-01-01T00:00:00+00:00", i // 50, 1, ti_id)
        token = token_with_exp(2_000_000_000 + i) + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        workload = json.dumps(
            {
                "token": token,
                "ti": {
                    "id": ti_id,
                    "dag_id": "etl",
                    "task_id": ident.task_id,
                    "run_id": ident.run_id,
                    "try_number": 1,
                    "map_index": i // 50,
                    "pool_slots": 1,
                    "queue": "default",
                    "priority_weight": 1,
                },
                "dag_rel_path": "etl.py",
                "bundle_info": {"name": "dags-folder", "version": None},
                "log_path": f"dag_id=etl/run_id={ident.run_id}/task_id={ident.task_id}/attempt=1.log",
                "type": "ExecuteTask",
            }
        )
        request = build_request(
            template=template,
            config=config,
            identity=ident,
            command=["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", workload],
            executor_config=None,
            settings=parse_executor_config(None),
        )
        assert len(json.dumps(request)) > 1000  # the request would be the bulk of what a task keeps
        key = ("etl", ident.task_id, ident.run_id, 1, ident.map_index)  # a TaskInstanceKey's shape
        launch = launch_of(tracker.queued(key, ident, request["startedBy"], request, CONTAINER, 0.0))
        arn = f"arn:aws:ecs:us-east-1:123456789012:task/airflow/{uuid.uuid4().hex}"
        tracker.launch_answered(key, launch.generation, 0, 0.0, arn=arn, status="PROVISIONING")
        return arn

    return track


def test_a_tracked_task_costs_under_2_kb_with_a_realistic_request():
    """Memory per tracked task, as tracemalloc sees it: 1,000 launched attempts, each with its own RunTask
    request rendered from the default template (a workload JSON with its own JWT in the command), everything
    the tracker keeps counted (key, identity, ARN, request), the caller's copies dropped as a scheduler's are."""
    import tracemalloc

    track = realistic_tracking()
    warm = Tracker()
    track(warm, 0)  # template, botocore model and caches loaded before counting
    tracker = Tracker()
    track(tracker, 0)  # and the preset dictionary: the first request, once per scheduler
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1, 1001):
            track(tracker, i)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(tracker) == 1001  # each its own key: a superseded attempt would keep nothing of its request
    per_task = (after - before) / 1000
    assert per_task < 2048, f"{per_task:.0f} bytes per tracked task"


@functools.cache
def describe_tasks_parsing() -> tuple[Any, Any]:
    """botocore's JSON parser and DescribeTasks' output shape, loaded once (a session per call would load the
    ECS model each time)."""
    import botocore.parsers
    import botocore.session

    shape = botocore.session.get_session().get_service_model("ecs").operation_model("DescribeTasks").output_shape
    return botocore.parsers.create_parser("json"), shape


def described_by_botocore(arns: Sequence[str]) -> list[dict[str, Any]]:
    """A DescribeTasks answer for these RUNNING tasks as the executor's sweep gets it: ECS's JSON parsed by
    botocore against the ECS model (every string, datetime and dict new per task)."""
    parser, shape = describe_tasks_parsing()
    cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/airflow"
    tasks = [
        {
            "taskArn": arn,
            "clusterArn": cluster,
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/airflow-worker:3",
            "lastStatus": "RUNNING",
            "desiredStatus": "RUNNING",
            "launchType": "FARGATE",
            "cpu": "1024",
            "memory": "2048",
            "group": "family:airflow-worker",
            "startedBy": f"ti-{arn[-12:]}",
            "createdAt": 1_795_000_000.123,
            "pullStartedAt": 1_795_000_010.5,
            "startedAt": 1_795_000_030.25,
            "containers": [
                {
                    "containerArn": f"{cluster}/container/{arn[-32:]}",
                    "taskArn": arn,
                    "name": CONTAINER,
                    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow:3",
                    "lastStatus": "RUNNING",
                    "networkInterfaces": [{"attachmentId": arn[-36:], "privateIpv4Address": "10.0.1.23"}],
                }
            ],
        }
        for arn in arns
    ]
    body = json.dumps({"tasks": tasks, "failures": []}).encode()
    return parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)["tasks"]


def test_a_running_task_costs_under_2_kb_and_seeing_it_run_keeps_nothing_of_the_answer():
    """Memory per RUNNING task: 1,000 attempts tracked as above, then each seen RUNNING in DescribeTasks answers
    of 100 parsed by botocore, dropped afterwards as the executor drops them. Under 2 KB a task in all, and seeing
    it run keeps nothing of the answer: the status kept is a shared string, not the answer's (56 bytes a task)."""
    import sys
    import tracemalloc

    def see_running(tracker: Tracker, arns: list[str]) -> None:
        for start in range(0, len(arns), 100):
            for task in described_by_botocore(arns[start : start + 100]):
                tracker.observed(task["taskArn"], task, 1.0)

    track = realistic_tracking()
    warm = Tracker()
    warm_arns = [track(warm, i) for i in range(300)]
    tracker = Tracker()
    track(tracker, 0)
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        arns = [track(tracker, i) for i in range(1, 1001)]
        gc.collect()
        tracked = tracemalloc.get_traced_memory()[0]
        # The same answers for other tasks first, traced: the interpreter's free lists and botocore's caches then
        # hold traced blocks before the count starts, not during it (about 60 bytes a task of 1,000 otherwise).
        see_running(warm, warm_arns)
        gc.collect()  # botocore's parsed answers hold reference cycles (datetimes' tzinfo): garbage, not kept
        seen_before = tracemalloc.get_traced_memory()[0]
        see_running(tracker, arns)
        gc.collect()
        running = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert tracker.status_counts() == {"PROVISIONING": 1, "RUNNING": 1000}  # the 0th was not described
    assert all(tracker.by_arn(arn).last_status is sys.intern("RUNNING") for arn in arns)
    seeing_it_run = (running - seen_before) / 1000
    per_task = (tracked - before) / 1000 + seeing_it_run
    assert per_task < 2048, f"{per_task:.0f} bytes per RUNNING task"
    assert seeing_it_run < 16, f"seeing a task RUNNING kept {seeing_it_run:.0f} bytes of it"
