"""The executor's bookkeeping as one pure state machine: facts in, commands out.

Like h11's ``Connection``, the ``Tracker`` never calls AWS or Airflow, never starts a thread and never reads
the clock: each input method takes what happened (and ``now``, a monotonic time in seconds) and returns the
commands the executor must carry out, in order. The executor only carries them out; every decision about a
task's life (launch, retry, relaunch, which result Airflow hears, which ECS task to stop, which event
message to delete or hand back) is made here and tested here, without AWS, threads or Airflow.

Generations: every workload Airflow hands over starts a new *attempt* of its key with a generation number
unique in this tracker. Airflow queues the same key again (a sensor in reschedule mode, a task resuming from
deferral, a requeue after revoke) while the previous ECS task may still be running or unseen as stopped: the
new attempt supersedes the old one, whose launch answers, observations and events are never reported. Its
ECS task is retired: stopped if it was never seen running (it must not start the same try beside the new
one), else left to finish (it already ran its workload; Airflow moved on).
"""

from __future__ import annotations

import base64
import binascii
import enum
import heapq
import json
import zlib
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_ecs.core.diagnosis import Diagnosis
from airflow_ecs.core.events import TaskEvent, is_newer
from airflow_ecs.core.failures import LaunchFailure, decide_retry
from airflow_ecs.core.identity import TaskIdentity, with_launch
from airflow_ecs.core.task_state import ECS_STATES, TaskOutcome, Verdict, judge, judge_missing

RECENTLY_FINISHED = 10_000  # ARNs remembered after they finish, so late duplicate events are recognised
# With an events queue, tasks not yet RUNNING after this long are described in each sweep too,
# so a lost RUNNING event never makes the pending timeout stop a running task.
STALE_PENDING_SECONDS = 60.0
# A container started this close to its workload token's expiry cannot be expected to reach Airflow's
# execution API in time (Fargate start-up plus image pull is often one to two minutes).
TOKEN_START_MARGIN = 180.0
# An attempt keeps ECS's lastStatus as one of these shared strings: the one parsed from a RunTask or DescribeTasks
# answer or an event is a new string per task (56-61 bytes), kept for as long as the task is tracked.
_STATUSES: dict[str, str] = {status: status for status in (*ECS_STATES, "MISSING")}


# --- commands: what the executor must do ---


@dataclass(frozen=True)
class Launch:
    """Send this RunTask request (on the launcher's threads); answer with ``launch_answered``."""

    key: Hashable
    generation: int
    launch: int
    request: Mapping[str, Any]


@dataclass(frozen=True)
class CancelLaunch:
    """Drop this generation's launch if it has not been sent; a sent one is answered (and then stopped)."""

    key: Hashable
    generation: int


@dataclass(frozen=True)
class Stop:
    arn: str
    reason: str


@dataclass(frozen=True)
class Report:
    """Tell Airflow: ``state`` is queued (with the ARN to store), running, success or failed."""

    key: Hashable
    state: str
    arn: str | None = None
    message: str = ""


@dataclass(frozen=True)
class EventLog:
    """A line for the task instance's event log (and the scheduler's log)."""

    key: Hashable
    event: str
    extra: str
    level: str = "error"


@dataclass(frozen=True)
class Note:
    """A line for the scheduler's log only (e.g. a retry that may yet succeed)."""

    key: Hashable
    message: str


@dataclass(frozen=True)
class Forget:
    """The key is no longer this executor's, with no result: Airflow's own adoption or timeout takes it."""

    key: Hashable


@dataclass(frozen=True)
class ReadLogTail:
    """Read the failed task's log tail (off the sweep, bounded); answer with ``log_tail``."""

    key: Hashable
    generation: int
    arn: str
    task: Mapping[str, Any]


@dataclass(frozen=True)
class Describe:
    """A sweep: describe ``arns`` (polling), or with ``reconcile`` list the stopped tasks of our families and
    describe those of ``arns`` plus ``stale``. Answer with observed/missing, then ``sweep_done``."""

    arns: tuple[str, ...]
    reconcile: bool = False
    stale: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delete:
    receipt_handle: str


@dataclass(frozen=True)
class Release:
    """Another scheduler's event: make it visible again for its owner."""

    receipt_handle: str


@dataclass(frozen=True)
class Metric:
    kind: str  # incr | timing
    name: str
    value: float = 1.0


Command = (
    Launch
    | CancelLaunch
    | Stop
    | Report
    | EventLog
    | Note
    | Forget
    | ReadLogTail
    | Describe
    | Delete
    | Release
    | Metric
)


@dataclass(frozen=True)
class Settings:
    max_attempts: int = 5
    pending_timeout: float = 600.0
    poll_interval: float = 5.0
    reconcile_interval: float = 60.0
    events: bool = False  # an events queue tracks tasks; sweeps only reconcile
    # This scheduler is the only reader of its events queue (one queue per scheduler, the EventBridge rule
    # fanning every event out to each): an event it cannot place is deleted, not handed back.
    exclusive_queue: bool = False


class EventFate(enum.Enum):
    """What becomes of one events-queue message (``event_fate``)."""

    APPLY = "apply"  # a tracked task's: applied (when newer), then deleted
    STASH = "stash"  # beat RunTask's answer: kept until the answer says whose task it is
    DELETE_OURS = "delete ours"  # an older task of ours (superseded, relaunched or finished): deleted
    DELETE_UNKNOWN = "delete unknown"  # nobody's we know, on a queue only we read: deleted
    RELEASE = "release"  # nobody's we know, on a shared queue: handed back for its owner


def event_fate(
    *, tracked: bool, owner_waits_for_arn: bool, owner_known: bool, finished: bool, exclusive_queue: bool
) -> EventFate:
    """The one decision about an event message, from what the tracker knows of its task.

    ``tracked``: its ARN is an attempt's. ``owner_known``: its startedBy is a tracked attempt's;
    ``owner_waits_for_arn``: that attempt's RunTask has not answered (and it is not failing). ``finished``: its
    ARN is one we tracked and finished.

    On a shared queue an unknown event may be another scheduler's, so it goes back to the queue. On an
    exclusive queue every scheduler has its own copy of every event, so an unknown one is nobody's here: a
    task this scheduler adopts later is learned by the DescribeTasks sweep that adoption starts, and a
    released event would come back until the dead-letter queue took it (an event of a task a dead process
    finished: its ARN and startedBy are new to the next process, which would hand it back forever).
    """
    if tracked:
        return EventFate.APPLY
    if owner_waits_for_arn and not finished:
        return EventFate.STASH
    if owner_known or finished:
        return EventFate.DELETE_OURS
    return EventFate.DELETE_UNKNOWN if exclusive_queue else EventFate.RELEASE


class _Counts:
    """What the gauges and the launch backlog need, kept as attempts change instead of counted per heartbeat:
    tracked attempts with an ECS task by ``last_status``, and attempts whose launch is in flight or due."""

    __slots__ = ("by_status", "pending")

    def __init__(self) -> None:
        self.by_status: dict[str, int] = {}
        self.pending = 0

    def add(self, status: str | None, pending: bool, sign: int) -> None:
        if status is not None:
            count = self.by_status.get(status, 0) + sign
            if count:
                self.by_status[status] = count
            else:
                del self.by_status[status]
        if pending:
            self.pending += sign


class Attempt:
    """One attempt (generation) of one Airflow key: at most one ECS task at a time.

    ``__slots__`` and the request kept as compressed JSON (``request``, decoded only for a relaunch or a
    retry): a scheduler tracks ten thousand of these. The four fields the gauges count (``arn``,
    ``last_status``, ``in_flight``, ``retry_at``) update the tracker's counts when set, while the attempt is
    tracked, so no heartbeat has to walk every attempt to count them.
    """

    __slots__ = (
        "_arn",
        "_counts",
        "_in_flight",
        "_last_status",
        "_packer",
        "_request",
        "_retry_at",
        "attempts",
        "container_name",
        "failing",
        "fallback_strategy",
        "generation",
        "identity",
        "key",
        "launch",
        "launched_at",
        "on_fallback",
        "queued_at",
        "seen_running",
        "started_by",
        "token_expires_at",
        "version",
    )

    def __init__(
        self,
        key: Hashable,
        generation: int,
        identity: TaskIdentity,
        started_by: str,
        request: Mapping[str, Any] | None,
        container_name: str,
        queued_at: float,
        *,
        token_expires_at: float | None = None,
        fallback_strategy: tuple[Mapping[str, Any], ...] = (),
        attempts: int = 0,
        arn: str | None = None,
        launched_at: float | None = None,
        seen_running: bool = False,
        packer: RequestPacker | None = None,
    ) -> None:
        self.key = key
        self.generation = generation
        self.identity = identity
        self.started_by = started_by
        self._packer = packer or RequestPacker()
        # None for an adopted task: it cannot be relaunched.
        self._request = None if request is None else self._packer.pack(request)
        self.container_name = container_name
        self.queued_at = queued_at
        self.token_expires_at = token_expires_at
        self.fallback_strategy = fallback_strategy
        self.launch = 0  # which launch of this attempt; part of the clientToken
        self.attempts = attempts  # RunTask calls plus relaunches, bounded by max_attempts
        self.on_fallback = False
        self._counts: _Counts | None = None  # set while the tracker tracks it
        self._in_flight = False  # a Launch was emitted and not answered yet
        self._retry_at: float | None = None
        self._arn = arn
        self.launched_at = launched_at
        self._last_status = ""
        self.seen_running = seen_running
        self.version = -1  # detail.version of the last applied event
        self.failing: str | None = None  # the failure message, while its log tail is read

    def __repr__(self) -> str:
        return (
            f"Attempt(key={self.key!r}, generation={self.generation}, arn={self.arn!r}, "
            f"last_status={self.last_status!r}, launch={self.launch}, attempts={self.attempts})"
        )

    @property
    def request(self) -> Mapping[str, Any] | None:
        return None if self._request is None else self._packer.unpack(self._request)

    @property
    def relaunchable(self) -> bool:
        return self._request is not None

    def counted(self) -> tuple[str | None, bool]:
        """What this attempt adds to the counts: its status if it has an ECS task, and a launch pending."""
        return (self._last_status if self._arn else None), (self._in_flight or self._retry_at is not None)

    def _set(self, name: str, value: Any) -> None:
        counts = self._counts
        if counts is None:
            object.__setattr__(self, name, value)
            return
        counts.add(*self.counted(), -1)
        object.__setattr__(self, name, value)
        counts.add(*self.counted(), 1)

    @property
    def arn(self) -> str | None:
        return self._arn

    @arn.setter
    def arn(self, value: str | None) -> None:
        self._set("_arn", value)

    @property
    def last_status(self) -> str:
        return self._last_status

    @last_status.setter
    def last_status(self, value: str) -> None:
        self._set("_last_status", _STATUSES.get(value, value))

    @property
    def in_flight(self) -> bool:
        return self._in_flight

    @in_flight.setter
    def in_flight(self, value: bool) -> None:
        self._set("_in_flight", value)

    @property
    def retry_at(self) -> float | None:
        return self._retry_at

    @retry_at.setter
    def retry_at(self, value: float | None) -> None:
        self._set("_retry_at", value)


class RequestPacker:
    """A RunTask request as compact bytes for as long as its attempt is tracked (about 1.5 KB of JSON, several
    KB as Python dicts, times ten thousand tasks): JSON compressed with zlib against a preset dictionary, the
    first request packed, which shares the template's keys and values with every later one."""

    __slots__ = ("_zdict",)

    def __init__(self) -> None:
        self._zdict: bytes | None = None

    def pack(self, request: Mapping[str, Any]) -> bytes | Mapping[str, Any]:
        try:
            raw = json.dumps(request, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            return request  # not JSON (a value botocore would take, but JSON not): kept as it is
        if self._zdict is None:
            self._zdict = raw[-32768:]
        packer = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, self._zdict)
        return packer.compress(raw) + packer.flush()

    def unpack(self, packed: bytes | Mapping[str, Any]) -> Mapping[str, Any]:
        if not isinstance(packed, bytes):
            return packed
        assert self._zdict is not None
        unpacker = zlib.decompressobj(-15, self._zdict)
        return json.loads(unpacker.decompress(packed) + unpacker.flush())


def token_expiry(token: object) -> float | None:
    """The ``exp`` claim (epoch seconds) of a workload JWT, read without verifying it; None if unreadable.

    Only the expiry is read, and nothing of the token is ever logged.
    """
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class Tracker:
    def __init__(self, settings: Settings | None = None) -> None:
        self._attempts: dict[Hashable, Attempt] = {}
        # When an attempt may next need the clock: its retry, or its pending timeout. (when, generation, key);
        # an entry whose attempt has gone or changed is dropped when it comes up, so a tick costs the
        # attempts due, not every attempt tracked.
        self._deadlines: list[tuple[float, int, Hashable]] = []
        self._counts = _Counts()
        self._packer = RequestPacker()
        self.settings = settings or Settings()
        self._by_arn: dict[str, Hashable] = {}
        self._by_started_by: dict[str, Hashable] = {}
        # Events that beat RunTask's answer: ARN -> (key, generation, [(receipt, event)]).
        self._early: dict[str, tuple[Hashable, int, list[tuple[str, TaskEvent]]]] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._generations = 0
        self._accepting = True
        self._sweep_in_flight = False
        self._next_sweep = 0.0

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._settings = settings
        self._rebuild_deadlines()  # a new pending_timeout moves every deadline

    # --- queries ---

    def __len__(self) -> int:
        return len(self._attempts)

    def __iter__(self) -> Iterator[Attempt]:
        return iter(list(self._attempts.values()))

    def get(self, key: Hashable) -> Attempt | None:
        return self._attempts.get(key)

    def by_arn(self, arn: str) -> Attempt | None:
        key = self._by_arn.get(arn)
        return self._attempts.get(key) if key is not None else None

    def arns(self) -> list[str]:
        return list(self._by_arn)

    def recently_finished(self, arn: str) -> bool:
        return arn in self._finished

    def live_size(self) -> int:
        """Entries that exist only while work is in progress; zero when all work has ended."""
        return len(self._attempts) + len(self._by_arn) + len(self._by_started_by) + len(self._early)

    def pending_launches(self) -> int:
        """Attempts whose launch is in flight or waits for its retry."""
        return self._counts.pending

    def status_counts(self) -> Mapping[str, int]:
        """Attempts with an ECS task, by the ECS lastStatus last seen ("" when none was)."""
        return dict(self._counts.by_status)

    # --- inputs ---

    def queued(
        self,
        key: Hashable,
        identity: TaskIdentity,
        started_by: str,
        request: Mapping[str, Any],
        container_name: str,
        now: float,
        *,
        token_expires_at: float | None = None,
        fallback_strategy: Sequence[Mapping[str, Any]] = (),
    ) -> list[Command]:
        """Airflow handed a workload over (its request already built): launch it, superseding an older attempt."""
        commands = self._supersede(key, "superseded: Airflow queued this try again")
        self._generations += 1
        attempt = Attempt(
            key,
            self._generations,
            identity,
            started_by,
            request,
            container_name,
            now,
            token_expires_at=token_expires_at,
            fallback_strategy=tuple(fallback_strategy),
            packer=self._packer,
        )
        self._track(attempt)
        if not self._accepting:
            return [*commands, *self._forget(attempt)]
        return [*commands, *self._launch(attempt, now, request)]

    def handed_over(self, key: Hashable) -> list[Command]:
        """Airflow handed the key over again; its request is built later (a bounded number per heartbeat).

        The older attempt is superseded now, not when the new request is built: a STOPPED of the old task
        seen in between (the sweep or event of the same heartbeat) must not be reported for the new attempt.
        """
        return self._supersede(key, "superseded: Airflow queued this try again")

    def adopt(
        self,
        key: Hashable,
        identity: TaskIdentity,
        started_by: str,
        arn: str,
        container_name: str,
        now: float,
        *,
        seen_running: bool,
    ) -> list[Command]:
        """A task another (dead) scheduler launched: track its ECS task from now on."""
        commands = self._supersede(key, "superseded by adoption")
        self._generations += 1
        attempt = Attempt(
            key,
            self._generations,
            identity,
            started_by,
            None,
            container_name,
            now,
            attempts=1,
            arn=arn,
            launched_at=now,
            seen_running=seen_running,
            packer=self._packer,
        )
        self._track(attempt)
        self._by_arn[arn] = key
        self._finished.pop(arn, None)
        self._next_sweep = 0.0  # learn their state at the next tick
        return commands

    def revoke(self, key: Hashable) -> list[Command]:
        """Airflow gave up on the key (e.g. stuck in queued): stop its ECS task, report nothing."""
        attempt = self._attempts.get(key)
        if attempt is None:
            return []
        return self._retire(attempt, "revoked by Airflow", stop=True)

    def launch_answered(
        self,
        key: Hashable,
        generation: int,
        launch: int,
        now: float,
        *,
        arn: str | None = None,
        status: str = "",
        failure: LaunchFailure | None = None,
        answered: bool = False,
        cancelled: bool = False,
    ) -> list[Command]:
        """RunTask answered (with a task, or a failure; ``answered``: ECS replied with ``failures[]``)."""
        attempt = self._attempts.get(key)
        if attempt is None or attempt.generation != generation or attempt.launch != launch or not attempt.in_flight:
            # Revoked, superseded or relaunched meanwhile: what it started anyway must not run unowned.
            if arn:
                self._remember_finished(arn)
                return [
                    Stop(arn, "Airflow no longer wants this task (revoked or superseded)"),
                    Metric("incr", "run_task.superseded"),
                ]
            return []
        attempt.in_flight = False
        if cancelled:
            return []
        if arn:
            attempt.launched_at = now
            attempt.arn = arn
            self._schedule(attempt)
            attempt.last_status = status or "PROVISIONING"
            self._by_arn[arn] = key
            commands: list[Command] = [Metric("incr", "run_task.launched"), Report(key, "queued", arn)]
            return commands + self._release_early(attempt, now)
        assert failure is not None
        decision = decide_retry(
            failure, attempt.attempts, self.settings.max_attempts, has_fallback=bool(attempt.fallback_strategy)
        )
        commands = [Metric("incr", f"run_task.{failure.kind.value}")]
        if not decision.retry:
            why = "not retried" if not failure.kind.retryable else f"gave up after {attempt.attempts} attempts"
            return commands + self._fail(
                attempt, f"RunTask failed ({failure.kind.value}, {why}): {failure.describe()}", "ecs run_task failed"
            )
        if decision.use_fallback and not attempt.on_fallback:
            attempt.on_fallback = True
            attempt.launch += 1  # other parameters need another clientToken
        elif answered:
            # ECS answered with failures[]: no task started under that token, and ECS may replay the same
            # answer for a known token, so the retry needs a new one.
            attempt.launch += 1
        attempt.retry_at = now + decision.delay
        self._schedule(attempt)
        return [
            *commands,
            Note(key, f"RunTask {failure.kind.value} ({failure.describe()}); retrying in {decision.delay:.1f}s"),
        ]

    def observed(self, arn: str, task: Mapping[str, Any], now: float) -> list[Command]:
        """DescribeTasks showed this task."""
        attempt = self.by_arn(arn)
        if attempt is None or attempt.failing is not None:
            return []
        return self._apply(attempt, judge(task, attempt.container_name, seen_running=attempt.seen_running), task, now)

    def missing(self, arn: str, now: float) -> list[Command]:
        """DescribeTasks answered MISSING for this task."""
        attempt = self.by_arn(arn)
        if attempt is None or attempt.failing is not None:
            return []
        age = now - attempt.launched_at if attempt.launched_at is not None else None
        return self._apply(attempt, judge_missing(seen_running=attempt.seen_running, age=age), None, now)

    def event(self, receipt_handle: str, event: TaskEvent, now: float) -> list[Command]:
        """A Task State Change event from the queue: apply it, stash it, delete it or hand it back."""
        attempt = self.by_arn(event.task_arn)
        if attempt is None:
            owner_key = self._by_started_by.get(event.started_by) if event.started_by else None
            owner = self._attempts.get(owner_key) if owner_key is not None else None
            fate = event_fate(
                tracked=False,
                owner_waits_for_arn=owner is not None and owner.arn is None and owner.failing is None,
                owner_known=owner is not None,
                finished=event.task_arn in self._finished,
                exclusive_queue=self.settings.exclusive_queue,
            )
            if fate is EventFate.STASH:
                assert owner is not None
                entry = self._early.setdefault(event.task_arn, (owner.key, owner.generation, []))
                entry[2].append((receipt_handle, event))
                return []
            if fate is EventFate.DELETE_OURS:
                return [Delete(receipt_handle), Metric("incr", "events.ignored")]
            if fate is EventFate.DELETE_UNKNOWN:
                return [Delete(receipt_handle), Metric("incr", "events.not_ours")]
            return [Release(receipt_handle)]  # perhaps another scheduler's task: never delete it
        commands: list[Command] = [Delete(receipt_handle)]
        if attempt.failing is not None or not is_newer(event.version, attempt.version):
            return [*commands, Metric("incr", "events.ignored")]
        attempt.version = event.version
        commands.append(Metric("incr", "events.applied"))
        outcome = judge(event.detail, attempt.container_name, seen_running=attempt.seen_running)
        return commands + self._apply(attempt, outcome, event.detail, now)

    def log_tail(self, key: Hashable, generation: int, lines: Sequence[str]) -> list[Command]:
        """The log tail a ReadLogTail asked for: the failure can now be reported, with it."""
        attempt = self._attempts.get(key)
        if attempt is None or attempt.generation != generation or attempt.failing is None:
            return []
        message = attempt.failing
        if lines:
            message += f"\nLast {len(lines)} log lines:\n" + "\n".join(lines)
        return self._finish(attempt, "failed", message, "ecs task failed")

    def sweep_now(self) -> None:
        """The next tick sweeps (e.g. a benchmark that needs every task's state at once)."""
        self._next_sweep = 0.0

    def sweep_done(self) -> list[Command]:
        self._sweep_in_flight = False
        return []

    def stop_launching(self) -> list[Command]:
        """Shutting down: nothing new is launched; attempts with no ECS task are handed back to Airflow."""
        self._accepting = False
        commands: list[Command] = []
        for attempt in list(self._attempts.values()):
            if attempt.arn is None and not attempt.in_flight:
                commands += self._forget(attempt)
        return commands

    def tick(self, now: float) -> list[Command]:
        """Time passed: due retries, pending timeouts, token expiry, and the next sweep."""
        commands: list[Command] = []
        for attempt in self._due(now):
            if attempt.retry_at is not None and attempt.retry_at <= now:
                attempt.retry_at = None
                commands += self._launch(attempt, now) if self._accepting else self._forget(attempt)
            elif self._pending_too_long(attempt, now):
                assert attempt.arn is not None
                commands.append(Stop(attempt.arn, "pending_timeout exceeded"))
                commands += self._finish(
                    attempt,
                    "failed",
                    f"{attempt.arn} did not reach RUNNING within pending_timeout={self.settings.pending_timeout:g}s "
                    f"(last status {attempt.last_status or 'unknown'}); stopped it",
                    "ecs task pending timeout",
                )
        return commands + self._maybe_sweep(now)

    # --- deadlines: what tick() must look at ---

    def _due(self, now: float) -> list[Attempt]:
        """The attempts whose retry or pending timeout may be due, in the order they were tracked (a superset:
        tick checks each). Entries of attempts gone, superseded or changed are dropped; those still waiting
        are pushed again at their current deadline."""
        due: dict[int, Attempt] = {}
        waiting: list[Attempt] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, generation, key = heapq.heappop(self._deadlines)
            attempt = self._attempts.get(key)
            if attempt is None or attempt.generation != generation or generation in due:
                continue
            if (attempt.retry_at is not None and attempt.retry_at <= now) or self._pending_too_long(attempt, now):
                due[generation] = attempt
            else:
                waiting.append(attempt)
        for attempt in waiting:
            if attempt.generation not in due:
                self._schedule(attempt)
        return [due[generation] for generation in sorted(due)]  # generations grow with insertion order

    def _pending_too_long(self, attempt: Attempt, now: float) -> bool:
        return bool(
            attempt.arn
            and not attempt.seen_running
            and attempt.launched_at is not None
            and attempt.failing is None
            and now - attempt.launched_at > self.settings.pending_timeout
        )

    def _schedule(self, attempt: Attempt) -> None:
        """Push the attempt's deadlines (a retry, a pending timeout) that tick() must not miss."""
        if attempt.retry_at is not None:
            heapq.heappush(self._deadlines, (attempt.retry_at, attempt.generation, attempt.key))
        if attempt.arn and not attempt.seen_running and attempt.launched_at is not None and attempt.failing is None:
            heapq.heappush(
                self._deadlines, (attempt.launched_at + self.settings.pending_timeout, attempt.generation, attempt.key)
            )
        if len(self._deadlines) > 2 * len(self._attempts) + 64:
            self._rebuild_deadlines()  # entries of ended attempts: dropped, so the heap follows the tracked

    def _rebuild_deadlines(self) -> None:
        self._deadlines = []
        for attempt in self._attempts.values():
            if attempt.retry_at is not None:
                self._deadlines.append((attempt.retry_at, attempt.generation, attempt.key))
            if attempt.arn and not attempt.seen_running and attempt.launched_at is not None and attempt.failing is None:
                self._deadlines.append(
                    (attempt.launched_at + self.settings.pending_timeout, attempt.generation, attempt.key)
                )
        heapq.heapify(self._deadlines)

    # --- the rules ---

    def _maybe_sweep(self, now: float) -> list[Command]:
        if self._sweep_in_flight or now < self._next_sweep or not self._by_arn:
            return []
        self._sweep_in_flight = True
        if self.settings.events:
            self._next_sweep = now + self.settings.reconcile_interval
            stale = tuple(
                a.arn
                for a in self._attempts.values()
                if a.arn
                and not a.seen_running
                and a.launched_at is not None
                and now - a.launched_at > STALE_PENDING_SECONDS
            )
            return [Describe(tuple(self._by_arn), reconcile=True, stale=stale)]
        self._next_sweep = now + self.settings.poll_interval
        return [Describe(tuple(self._by_arn))]

    def _launch(self, attempt: Attempt, now: float, request: Mapping[str, Any] | None = None) -> list[Command]:
        """``request``: the attempt's request when the caller has it at hand (not decoded again)."""
        assert attempt.relaunchable
        if attempt.token_expires_at is not None and now + TOKEN_START_MARGIN >= attempt.token_expires_at:
            left = round(attempt.token_expires_at - now)  # whole seconds, so no "-0s" at the very moment
            expiry = f"expires in {left}s" if left > 0 else f"expired {-left}s ago" if left < 0 else "expires now"
            diagnosis = Diagnosis(
                f"not started: the workload's token {expiry} (Airflow issues it for [scheduler] task_queued_timeout)"
                f" and a container needs up to {TOKEN_START_MARGIN:g}s to reach the execution API",
                "Failed so Airflow retries it with a fresh token (when retries remain); if this is frequent, raise "
                "[scheduler] task_queued_timeout or lower the launch backlog",
            )
            return self._fail(attempt, diagnosis.line(), "ecs task token expiring")
        attempt.attempts += 1
        attempt.in_flight = True
        strategy = [dict(item) for item in attempt.fallback_strategy] if attempt.on_fallback else None
        request = request if request is not None else attempt.request
        assert request is not None
        if attempt.launch or strategy is not None:
            request = with_launch(request, attempt.identity, attempt.launch, strategy)
        return [Launch(attempt.key, attempt.generation, attempt.launch, request)]

    def _apply(
        self, attempt: Attempt, outcome: TaskOutcome, task: Mapping[str, Any] | None, now: float
    ) -> list[Command]:
        attempt.last_status = outcome.last_status
        if outcome.verdict is Verdict.PENDING:
            return []
        if outcome.verdict is Verdict.RUNNING:
            if attempt.seen_running:
                return []
            attempt.seen_running = True
            return [
                Metric("timing", "queued_to_running", now - attempt.queued_at),
                Report(attempt.key, "running", attempt.arn),
            ]
        commands: list[Command] = []
        if outcome.stopped_at is not None:
            commands.append(Metric("timing_since_epoch", "stopped_to_known", outcome.stopped_at))
        if outcome.verdict is Verdict.SUCCEEDED:
            return commands + self._finish(attempt, "success")
        message = outcome.diagnosis.line() if outcome.diagnosis else "the task stopped"
        if (
            outcome.verdict is Verdict.RELAUNCH
            and attempt.relaunchable
            and self._accepting
            and attempt.attempts < self.settings.max_attempts
        ):
            assert attempt.arn is not None
            old = attempt.arn
            commands += [
                Metric("incr", "tasks.relaunched"),
                EventLog(attempt.key, "ecs task relaunched", f"{old}: {message}", level="warning"),
            ]
            if outcome.last_status != "STOPPED":
                # ECS says MISSING, but it may yet run it: make sure the old task cannot run beside the new one.
                commands.append(Stop(old, "relaunched by Airflow's ECS executor"))
            self._unindex_arn(attempt)
            attempt.launch += 1
            attempt.version = -1
            attempt.seen_running = False
            attempt.launched_at = None
            return commands + self._launch(attempt, now)
        assert attempt.arn is not None
        attempt.failing = f"{attempt.arn} stopped: {message}"
        if task is not None and outcome.last_status == "STOPPED":
            return [*commands, ReadLogTail(attempt.key, attempt.generation, attempt.arn, task)]
        return commands + self.log_tail(attempt.key, attempt.generation, [])

    def _fail(self, attempt: Attempt, message: str, event: str) -> list[Command]:
        return self._finish(attempt, "failed", message, event)

    def _finish(self, attempt: Attempt, state: str, message: str = "", event: str = "") -> list[Command]:
        arn = attempt.arn
        commands: list[Command] = self._remove(attempt)
        if state == "failed":
            commands.append(EventLog(attempt.key, event or "ecs task failed", message))
            commands.append(Report(attempt.key, "failed", arn, message))
        else:
            commands.append(Report(attempt.key, "success", arn))
        return commands

    def _forget(self, attempt: Attempt) -> list[Command]:
        return [*self._remove(attempt), Forget(attempt.key)]

    def _supersede(self, key: Hashable, reason: str) -> list[Command]:
        attempt = self._attempts.get(key)
        if attempt is None:
            return []
        # A task that ran its workload is left to end by itself; one never seen running must not start it.
        return [*self._retire(attempt, reason, stop=not attempt.seen_running), Metric("incr", "tasks.superseded")]

    def _retire(self, attempt: Attempt, reason: str, *, stop: bool) -> list[Command]:
        commands: list[Command] = []
        if attempt.in_flight:
            commands.append(CancelLaunch(attempt.key, attempt.generation))
        if attempt.arn and stop:
            commands.append(Stop(attempt.arn, reason))
        return commands + self._remove(attempt)

    def _remove(self, attempt: Attempt) -> list[Command]:
        """Forget the attempt everywhere; its ARN is remembered as finished, its stashed events deleted."""
        if self._attempts.get(attempt.key) is attempt:
            del self._attempts[attempt.key]
            self._counts.add(*attempt.counted(), -1)
            attempt._counts = None
        if self._by_started_by.get(attempt.started_by) == attempt.key and attempt.key not in self._attempts:
            del self._by_started_by[attempt.started_by]
        self._unindex_arn(attempt)
        return self._drop_early(attempt)

    def _track(self, attempt: Attempt) -> None:
        self._attempts[attempt.key] = attempt
        self._by_started_by[attempt.started_by] = attempt.key
        self._counts.add(*attempt.counted(), 1)
        attempt._counts = self._counts
        self._schedule(attempt)

    def _unindex_arn(self, attempt: Attempt) -> None:
        if attempt.arn:
            if self._by_arn.get(attempt.arn) == attempt.key:
                del self._by_arn[attempt.arn]
            self._remember_finished(attempt.arn)
            attempt.arn = None

    def _release_early(self, attempt: Attempt, now: float) -> list[Command]:
        """RunTask answered: apply the events that beat it, delete those stashed for any other ARN."""
        commands: list[Command] = []
        for arn, (key, generation, stashed) in list(self._early.items()):
            if key != attempt.key or generation != attempt.generation:
                continue
            del self._early[arn]
            for receipt_handle, event in stashed:
                if arn == attempt.arn:
                    commands += self.event(receipt_handle, event, now)
                else:
                    commands += [Delete(receipt_handle), Metric("incr", "events.ignored")]
        return commands

    def _drop_early(self, attempt: Attempt) -> list[Command]:
        commands: list[Command] = []
        for arn, (key, generation, stashed) in list(self._early.items()):
            if key == attempt.key and generation == attempt.generation:
                del self._early[arn]
                commands += [Delete(receipt_handle) for receipt_handle, _ in stashed]
        return commands

    def _remember_finished(self, arn: str) -> None:
        self._finished[arn] = None
        self._finished.move_to_end(arn)
        while len(self._finished) > RECENTLY_FINISHED:
            self._finished.popitem(last=False)


__all__ = [
    "Attempt",
    "CancelLaunch",
    "Command",
    "Delete",
    "Describe",
    "EventFate",
    "EventLog",
    "Forget",
    "Launch",
    "Metric",
    "Note",
    "ReadLogTail",
    "Release",
    "Report",
    "Settings",
    "Stop",
    "Tracker",
    "event_fate",
    "token_expiry",
]
