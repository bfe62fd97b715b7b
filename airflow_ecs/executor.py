"""``EcsFargateExecutor``: Airflow's side of the data flow, and nothing more.

Airflow calls ``heartbeat()`` on the scheduler's main loop, so nothing here waits on AWS there:
RunTask goes to the ``Launcher``'s threads, DescribeTasks/StopTask/log reads to a small control pool,
events arrive on the ``EventConsumer``'s thread. All of them report back through one queue, which
``sync()`` drains on the scheduler's thread: the only place Airflow state changes. The decisions are
the pure functions of ``task_state``, ``failures``, ``diagnosis`` and ``run_task_request``.

Configure with ``[core] executor = airflow_ecs.executor.EcsFargateExecutor`` and the ``[ecs_fargate]``
section (``config.py``).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import queue
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from airflow_ecs.glue.airflow_compat import BaseExecutor  # first: refuses an unsupported Airflow in one line

# isort: split
from airflow.utils.state import TaskInstanceState

from airflow_ecs.aws import ecs_api, health
from airflow_ecs.aws.event_queue import RELEASE_DELAY, EventConsumer, delete_messages, release_messages
from airflow_ecs.aws.launcher import Launched, Launcher
from airflow_ecs.aws.rate_limit import TokenBucket
from airflow_ecs.core.config import (
    SECTION,
    ConfigError,
    EcsConfig,
    Profile,
    airflow_getter,
    load_config,
)
from airflow_ecs.core.events import EventsReceived, ReceiveFailed
from airflow_ecs.core.executor_config import ExecutorConfigError
from airflow_ecs.core.failures import start_retry_delay
from airflow_ecs.core.run_task_request import (
    RequestError,
    RunTaskTemplate,
    TaskIdentity,
    started_by,
)
from airflow_ecs.core.task_logs import awslogs_stream, container_name_of
from airflow_ecs.core.tracking import (
    CancelLaunch,
    Command,
    Delete,
    Describe,
    EventLog,
    Forget,
    Launch,
    Metric,
    Note,
    ReadLogTail,
    Release,
    Report,
    Settings,
    Stop,
    Tracker,
    token_expiry,
)
from airflow_ecs.glue.airflow_compat import (
    CALLBACKS_SUPPORTED,
    CONNECTION_TESTS_SUPPORTED,
    airflow_key,
    is_task_key,
    workload_key,
)
from airflow_ecs.glue.metrics import Metrics, status_gauge
from airflow_ecs.glue.startup import build_task_request, check_settings

if TYPE_CHECKING:
    from airflow.models.taskinstance import TaskInstance

    from airflow_ecs.glue.airflow_compat import WorkloadKey

TASK_COMMAND = ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string"]
LOG_TAIL_LINES = 50
# Failed tasks' log tails are read on their own pool of this many threads, outside the sweep: a burst of
# failures delays only their own event-log lines, never another task's state change.
LOG_TAIL_CONCURRENCY = 4
LOG_CACHE_STREAMS = 32  # streams whose lines get_task_log keeps between UI refreshes
# Scheduler time per heartbeat spent building RunTask requests (see _build_pending).
BUILD_BUDGET_SECONDS = 0.02
# Requests are built only as far ahead as the rate limit lets them out: this many seconds of launches (plus
# one per launch thread) waiting in the launcher. Longer than a scheduler loop, so the launcher never runs
# dry between heartbeats; short, so a burst of 2,000 is built 20 a second, not all at once (each build costs
# the scheduler's loop most of a millisecond, and each built request waits in memory until it is sent).
BUILD_AHEAD_SECONDS = 5.0
# How long start() keeps retrying a health check that failed for a transient reason (throttling, 5xx).
START_RETRY_SECONDS = 120


class HealthCheckError(RuntimeError):
    """start() could not prove the cluster, task definition or container exist with these credentials."""


class ExecutorStartError(RuntimeError):
    """The executor cannot start with this configuration: one line, and the scheduler stops.

    Not a SystemExit: Airflow's job runner takes that for Ctrl-C and exits 0, and a scheduler that cannot
    start must exit non-zero for whatever supervises it.
    """

    def __init__(self, cause: Exception):
        super().__init__(f"ECS executor cannot start: {cause}")
        self.cause = cause


@dataclass(frozen=True)
class Polled:
    """A DescribeTasks sweep: the tasks found and those ECS reports MISSING."""

    found: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class LogTail:
    key: Hashable
    generation: int
    lines: list[str]


@dataclass(frozen=True)
class BackgroundError:
    what: str
    error: str


def build_ahead(tokens_ahead: float, concurrency: int, backlog: int) -> int:
    """How many more requests to build now: what the rate limit lets out in the look-ahead, plus one for each
    launch thread, less the launches already waiting in the launcher (``backlog``)."""
    return max(0, math.ceil(tokens_ahead) + concurrency - backlog)


def identity_of(ti: Any) -> TaskIdentity:
    """A workload's task instance (launching) or a database one (adopting), as ECS will know it."""
    return TaskIdentity(
        ti.dag_id,
        ti.task_id,
        ti.run_id,
        ti.map_index,
        ti.try_number,
        str(getattr(ti, "id", "") or ""),
        ti.queue or "default",
    )


def fallback_strategy(config: EcsConfig) -> list[dict[str, Any]]:
    """The capacity provider strategy a task of this (profile's) config falls back to, in boto3's form."""
    return [item.to_boto() for item in config.fallback_capacity_provider_strategy]


def workload_token_lifetime() -> float:
    """Seconds a workload's token is valid: Airflow issues it for ``[scheduler] task_queued_timeout``."""
    from airflow.configuration import conf

    try:
        return float(conf.getfloat("scheduler", "task_queued_timeout"))
    except Exception:  # noqa: BLE001 - unreadable: no deadline rather than a wrong one
        return 0.0


def identity_of_workload(workload: Any) -> TaskIdentity:
    """What ECS knows a workload by: a task's try, a deadline callback or a connection test.

    A callback is named after its DAG run (its log path is ``executor_callbacks/<dag_id>/<run_id>/<id>``) and its
    function, startedBy is its id (a UUID, like a task instance's); it runs with the default queue's profile. A
    connection test is named after the connection and runs with its queue's profile (it tests from where those
    tasks run).
    """
    ti = getattr(workload, "ti", None)
    if ti is not None:
        return identity_of(ti)
    if getattr(workload, "type", "") == "ExecuteCallback":
        callback = workload.callback
        parts = str(workload.log_path or "").split("/")
        dag_id, run_id = (parts[1], "/".join(parts[2:-1])) if len(parts) >= 4 else ("", "")
        name = str((callback.data or {}).get("path") or "").rsplit(".", 1)[-1] or "callback"
        return TaskIdentity(dag_id or "callback", f"callback.{name}", run_id, -1, 1, str(callback.id), "default")
    return TaskIdentity(
        "connection-test",
        str(workload.connection_id),
        "",
        -1,
        1,
        str(workload.connection_test_id),
        getattr(workload, "queue", None) or "default",
    )


class EcsFargateExecutor(BaseExecutor):
    """Runs each Airflow task instance as its own ECS task, on Fargate or EC2."""

    supports_ad_hoc_ti_run = True
    # Callbacks and connection tests run as ECS tasks like any task (docs/workloads.md); Airflow 3.1 has neither.
    supports_callbacks = CALLBACKS_SUPPORTED
    supports_connection_test = CONNECTION_TESTS_SUPPORTED
    # Multi-team (AIP-67, [core] multi_team): one executor per team, each reading its team's [ecs_fargate]
    # (``[<team>=ecs_fargate]``, ``AIRFLOW__<TEAM>___ECS_FARGATE__*``) through ``self.conf``, its team's
    # connections, and tagging its ECS tasks and metrics with the team.
    supports_multi_team = True
    is_local = False
    serve_logs = False

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ecs_config: EcsConfig | None = None
        self.tasks = Tracker()  # every decision about a task's life; this class carries out its commands
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self.build_budget_seconds = BUILD_BUDGET_SECONDS
        self._to_build: collections.deque = collections.deque()  # workloads taken over, requests not built yet
        self._template: RunTaskTemplate | None = None
        self._launcher: Launcher | None = None
        self._control: ThreadPoolExecutor | None = None
        self._log_pool: ThreadPoolExecutor | None = None
        self._events: EventConsumer | None = None
        self._pending_deletes: list[str] = []
        self._pending_releases: list[str] = []
        self._families: set[str] = set()  # our task definitions' families: the reconcile sweep lists only these
        self._token_lifetime = 0.0
        # get_task_log: (log group, stream) -> (lines so far, forward token); ARN -> its stream. Bounded LRU.
        self._log_cache: collections.OrderedDict[tuple[str, str], tuple[list[str], str | None]] = (
            collections.OrderedDict()
        )
        self._log_streams: collections.OrderedDict[str, tuple[str, str]] = collections.OrderedDict()
        self._log_lock = threading.Lock()
        self._accepting = True
        self._ecs: Any = None
        self._ecs_launch: Any = None
        self._logs: Any = None
        self._sqs: Any = None
        self._task_definitions: dict[str, Mapping[str, Any]] = {}
        self.aws_calls: dict[str, int] = {}
        self.metrics = Metrics(team=self._team)
        self._queues_without_profile: set[str] = set()
        self._clock: Callable[[], float] = time.monotonic
        self._sleep: Callable[[float], None] = time.sleep

    # --- configuration and start-up ---

    @property
    def _team(self) -> str | None:
        return getattr(self, "team_name", None)  # BaseExecutor sets it (None outside multi-team)

    def load_ecs_config(self) -> EcsConfig:
        return self._for_team(load_config(airflow_getter(self.conf)))

    def _for_team(self, config: EcsConfig) -> EcsConfig:
        if self._team and not config.execution_api_server_url:
            # A team's API server, when the team names one ([core] execution_api_server_url for the team):
            # the team's containers must reach it, not the image's default.
            team_url = self.conf.get("core", "execution_api_server_url", fallback="") or ""
            if team_url:
                config = dataclasses.replace(config, execution_api_server_url=team_url)
        return config

    def start(self) -> None:
        """Read and check the config, the template and the AWS resources; stop the scheduler if any is wrong.

        A wrong setting is the user's to fix: the one line that names the value and what would be right is
        logged first, and the exception carries only that line (Airflow adds its own traceback).
        """
        try:
            self._start()
        except (ConfigError, RequestError, HealthCheckError, ecs_api.CredentialsError) as error:
            self.log.error("ECS executor cannot start: %s", error)
            raise ExecutorStartError(error) from None

    def _start(self) -> None:
        # The same checks as `airflow-ecs check` (startup.check_settings): one verdict for both.
        config, self._template = check_settings(
            self._configured_section(), airflow_getter(self.conf), refine=self._for_team
        )
        self.ecs_config = config
        self._connect(config)
        if config.check_health_on_startup:
            self.health_check()
        else:
            self.log.info(
                "check_health_on_startup = False: starting without checking the cluster and task "
                "definitions; a wrong setting will fail each task instead"
            )
        self._families = {
            str(definition["family"]) for definition in self._task_definitions.values() if definition.get("family")
        }
        self._token_lifetime = workload_token_lifetime()
        self.tasks.settings = Settings(
            max_attempts=config.max_run_task_attempts,
            pending_timeout=config.pending_timeout,
            poll_interval=config.poll_interval,
            reconcile_interval=config.reconcile_interval,
            events=bool(config.events_queue_url),
            exclusive_queue=bool(config.events_queue_url) and config.events_queue_exclusive,
        )
        self._launcher = Launcher(
            lambda request: self._counted("RunTask", ecs_api.run_task, self._ecs_launch, request),
            TokenBucket(config.launch_rate, config.launch_burst),
            config.launch_concurrency,
            self._results,
        )
        self._control = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ecs-track")
        self._log_pool = ThreadPoolExecutor(max_workers=LOG_TAIL_CONCURRENCY, thread_name_prefix="ecs-logs")
        if config.events_queue_url:
            self._events = EventConsumer(self._sqs, config.events_queue_url, self._results)
            self._events.start()
        self.log.info(
            "ECS executor ready: cluster %s, task definition %s, container %s, %s, tracking by %s",
            config.cluster,
            config.task_definition or "(from template)",
            config.container_name,
            "capacity providers " + ",".join(i.capacity_provider for i in config.capacity_provider_strategy)
            if config.capacity_provider_strategy
            else f"launch type {config.launch_type or 'cluster default'}",
            # "tracking by events queue" stays the line's start: operators' log searches and the e2e tests read it.
            f"events queue {config.events_queue_url.rstrip('/').rsplit('/', 1)[-1]} "
            f"({'its own' if config.events_queue_exclusive else 'shared: others are handed back'})"
            if config.events_queue_url
            else f"polling every {config.poll_interval:g}s",
        )

    def _configured_section(self) -> dict[str, Any]:
        """[ecs_fargate] as Airflow sees it: airflow.cfg, AIRFLOW__ECS_FARGATE__* and the declared defaults."""
        from airflow_ecs.glue.airflow_compat import config_section

        return config_section(SECTION, self._team)

    def _connect(self, config: EcsConfig) -> None:
        client = ecs_api.client_factory(config, self._team)
        pool = config.launch_concurrency + 4
        self._ecs = client("ecs", pool_size=pool)
        self._ecs_launch = client("ecs", retries=1, pool_size=pool)
        self._logs = client("logs")
        if config.events_queue_url:
            self._sqs = client("sqs")

    def health_check(self) -> None:
        """Prove the cluster, and each profile's task definition and container, exist and are reachable.

        A throttled or failed call is tried again, with backoff, for up to START_RETRY_SECONDS: a blip in AWS
        must not stop a scheduler. What retrying cannot fix (no such cluster, no credentials, access denied)
        stops it at once.
        """
        began = self._clock()
        failed_checks = 0
        while True:
            failed = self._failed_health_checks()
            if not failed:
                return
            failed_checks += 1
            delay = None
            if all(check.retryable for check in failed):
                delay = start_retry_delay(failed_checks, self._clock() - began, START_RETRY_SECONDS)
            if delay is None:
                raise HealthCheckError(f"ECS executor health check: {failed[0].detail}")
            self.log.warning(
                "ECS executor health check: %s; trying again in %.1f s (transient errors are retried for up to %d s)",
                failed[0].detail,
                delay,
                START_RETRY_SECONDS,
            )
            self._sleep(delay)

    def _failed_health_checks(self) -> list[health.Check]:
        config = self._require_config()
        checks = [health.check_cluster(self._ecs, config)]
        for view in config.launch_views():
            if checks[-1].status == health.FAIL or not view.task_definition:
                break
            checks.append(health.check_task_definition(self._task_definition, view)[0])
        return [check for check in checks if check.status == health.FAIL]

    def _require_config(self) -> EcsConfig:
        if self.ecs_config is None:
            self.ecs_config = self.load_ecs_config()
        return self.ecs_config

    def _task_definition(self, name: str) -> Mapping[str, Any]:
        if name not in self._task_definitions:
            self._task_definitions[name] = self._counted(
                "DescribeTaskDefinition", ecs_api.describe_task_definition, self._ecs, name
            )
        return self._task_definitions[name]

    def _counted(self, action: str, call: Callable[..., Any], *args: Any) -> Any:
        self.aws_calls[action] = self.aws_calls.get(action, 0) + 1
        return call(*args)

    # --- building requests ---

    def profile_config(self, queue: str) -> tuple[Profile | None, EcsConfig]:
        """The profile a task of ``queue`` runs with, and the config as that task sees it."""
        config = self._require_config()
        profile = config.profile_for_queue(queue)
        if profile is None and config.profiles and queue not in self._queues_without_profile:
            self._queues_without_profile.add(queue)
            self.log.warning(
                "Queue %r is in no profile and there is no profile named default: its tasks use the "
                "[ecs_fargate] section's own settings (said once per queue)",
                queue,
            )
        return profile, config.for_profile(profile)

    def build_request_for(self, identity: TaskIdentity, command: Sequence[str], executor_config: Any) -> dict[str, Any]:
        profile, config = self.profile_config(identity.queue)
        return self._build(profile, config, identity, command, executor_config)

    def _build(
        self,
        profile: Profile | None,
        config: EcsConfig,
        identity: TaskIdentity,
        command: Sequence[str],
        executor_config: Any,
    ) -> dict[str, Any]:
        assert self._template is not None
        identity = dataclasses.replace(identity, team=self._team) if self._team else identity
        return build_task_request(
            self._template,
            profile,
            config,
            identity,
            command,
            executor_config,
            definition=self._task_definitions.get(config.task_definition),
        )

    # --- Airflow's entry points on the scheduler thread ---

    def _process_workloads(self, workloads: Sequence[Any]) -> None:
        """Take the workloads over; their requests are built in ``sync()``, a bounded amount per heartbeat."""
        for workload in workloads:
            key = workload_key(workload)
            if is_task_key(key):
                self.queued_tasks.pop(key, None)
            getattr(self, "queued_callbacks", {}).pop(key, None)
            getattr(self, "queued_connection_tests", {}).pop(key, None)
            if not self._accepting:
                # Shutting down: the task instance stays queued and the next scheduler launches it.
                self.log.warning("%s arrived after end(); left for the next scheduler", key)
                continue
            self.running.add(key)
            self._run(self.tasks.handed_over(key))
            self._to_build.append(workload)

    def _build_pending(self) -> None:
        """Render and validate queued requests for at most BUILD_BUDGET_SECONDS of this heartbeat, and only as
        many as the launcher can send in the next BUILD_AHEAD_SECONDS.

        Building (Jinja, JSON, botocore's validation) costs 0.3-1 ms a task: 500 tasks queued at once
        would hold the scheduler's loop for 150 ms or more. Spread over heartbeats it never does, and the
        launch rate limit (20/s) is reached long before this budget is.
        """
        if not self._to_build or self._launcher is None:
            return
        wanted = build_ahead(
            self._launcher.ahead(BUILD_AHEAD_SECONDS), self._launcher.concurrency, self._launcher.in_flight
        )
        deadline = time.perf_counter() + self.build_budget_seconds
        while self._to_build and wanted > 0:  # at least one a heartbeat when wanted, whatever the budget
            self._build_and_submit(self._to_build.popleft())
            wanted -= 1
            if time.perf_counter() >= deadline:
                return

    def _build_and_submit(self, workload: Any) -> None:
        key = workload_key(workload)
        if key not in self.running:  # revoked while it waited to be built
            return
        try:
            identity = identity_of_workload(workload)
            profile, config = self.profile_config(identity.queue)
            request = self._build(
                profile,
                config,
                identity,
                [*TASK_COMMAND, workload.model_dump_json()],
                getattr(getattr(workload, "ti", None), "executor_config", None),
            )
        except Exception as error:  # noqa: BLE001 - whatever one workload's request does, only it fails
            known = isinstance(error, (RequestError, ExecutorConfigError))
            why = str(error) if known else f"its RunTask request could not be built ({type(error).__name__}: {error})"
            self._fail_before_launch(key, f"not launched: {' '.join(why.split())}")
            return
        self._run(
            self.tasks.queued(
                key,
                identity,
                request["startedBy"],
                request,
                container_name_of(request, config.container_name),
                time.monotonic(),
                token_expires_at=self._token_deadline(getattr(workload, "token", "")),
                fallback_strategy=fallback_strategy(config),
            )
        )

    def _token_deadline(self, token: str) -> float | None:
        """When the workload's token expires, on the monotonic clock the tracker uses.

        Read from the token's own ``exp`` when it is a JWT; else it was issued at most now, valid for
        ``[scheduler] task_queued_timeout``.
        """
        expiry = token_expiry(token)
        if expiry is not None:
            return time.monotonic() + (expiry - time.time())
        return time.monotonic() + self._token_lifetime if self._token_lifetime else None

    def _fail_before_launch(self, key: WorkloadKey, message: str) -> None:
        self.log.error("%s: %s", key, message)
        self.log_task_event(event="ecs task not launched", extra=message, ti_key=key)
        self.fail(key, None if is_task_key(key) else message)

    def sync(self) -> None:
        """Apply what the background threads reported, then hand them the next round of work."""
        if self.ecs_config is None:
            return
        try:
            self._drain_results()
            self._build_pending()
            self._run(self.tasks.tick(time.monotonic()))
            self._flush_event_deletes()
            self._save_task_event_logs()
            self._emit_gauges()
        except Exception:
            self.log.exception("ECS executor sync failed; it will try again at the next heartbeat")

    def _emit_gauges(self) -> None:
        counts = dict.fromkeys(("tasks.provisioning", "tasks.pending", "tasks.running", "tasks.stopping"), 0)
        for status, count in self.tasks.status_counts().items():  # kept by the tracker: no walk over every task
            counts[status_gauge(status)] += count
        for name, value in counts.items():
            self.metrics.gauge(name, value)
        self.metrics.gauge("launches.pending", len(self._to_build) + self.tasks.pending_launches())

    def _save_task_event_logs(self) -> None:
        """Save the task instances' event log entries from here, in the scheduler's process.

        Airflow 3.3's scheduler saves them with ``bulk_save_objects`` over a generator, which inserts empty
        rows ("NOT NULL constraint failed: log.event") and loses every entry: the diagnosis a user needs most.
        Only inside a scheduler (``job_id`` set); elsewhere the entries stay where the base class keeps them.
        """
        if self.job_id is None or not self._task_event_logs:
            return
        from airflow.utils.session import create_session

        records = [self._task_event_logs.popleft() for _ in range(len(self._task_event_logs))]
        try:
            with create_session() as session:
                session.add_all(records)
        except Exception:
            self.log.exception("Could not save %d task event log entries", len(records))

    def _drain_results(self) -> None:
        while True:
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                return
            try:
                self._apply_result(item)
            except Exception:
                self.log.exception("ECS executor could not apply %r", type(item).__name__)

    def _apply_result(self, item: Any) -> None:
        now = time.monotonic()
        if isinstance(item, Launched):
            key, generation = cast("tuple[Hashable, int]", item.key)  # as _run submitted it
            result = item.result
            self._run(
                self.tasks.launch_answered(
                    key,
                    generation,
                    item.launch,
                    now,
                    arn=result.task_arn,
                    status=str((result.task or {}).get("lastStatus") or ""),
                    failure=result.failure,
                    answered=result.answered,
                    cancelled=item.cancelled,
                )
            )
        elif isinstance(item, Polled):
            if item.error:
                self.log.warning("ECS DescribeTasks sweep failed (%s); trying again at the next sweep", item.error)
            for arn, ecs_task in item.found.items():
                self._run(self.tasks.observed(arn, ecs_task, now))
            for arn in item.missing:
                self._run(self.tasks.missing(arn, now))
            self._run(self.tasks.sweep_done())
        elif isinstance(item, EventsReceived):
            for message in item.messages:
                if message.event is None:
                    self._pending_deletes.append(message.receipt_handle)
                else:
                    self._run(self.tasks.event(message.receipt_handle, message.event, now))
        elif isinstance(item, LogTail):
            self._run(self.tasks.log_tail(item.key, item.generation, item.lines))
        elif isinstance(item, ReceiveFailed):
            self.log.warning("ECS events queue: %s; DescribeTasks sweeps carry on", item.error)
        elif isinstance(item, BackgroundError):
            self.log.warning("ECS %s failed: %s", item.what, item.error)

    # --- carrying out the tracker's commands ---

    def _run(self, commands: Sequence[Command]) -> None:
        for command in commands:
            if isinstance(command, Launch):
                assert self._launcher is not None
                self._launcher.submit((command.key, command.generation), command.request, command.launch)
            elif isinstance(command, Report):
                self._report(command)
            elif isinstance(command, Stop):
                self._stop_in_background(command.arn, command.reason)
            elif isinstance(command, EventLog):
                getattr(self.log, command.level)(
                    "%s: %s: %s", command.key, command.event, command.extra.splitlines()[0] if command.extra else ""
                )
                self.log_task_event(event=command.event, extra=command.extra, ti_key=airflow_key(command.key))
            elif isinstance(command, Note):
                self.log.info("%s: %s", command.key, command.message)
            elif isinstance(command, Delete):
                self._pending_deletes.append(command.receipt_handle)
            elif isinstance(command, Release):
                self._pending_releases.append(command.receipt_handle)
            elif isinstance(command, Metric):
                self._metric(command)
            elif isinstance(command, Describe):
                self._sweep(command)
            elif isinstance(command, ReadLogTail):
                self._read_log_tail(command)
            elif isinstance(command, CancelLaunch):
                if self._launcher is not None:
                    self._launcher.cancel((command.key, command.generation))
            elif isinstance(command, Forget):
                self.running.discard(command.key)

    def _report(self, report: Report) -> None:
        key = airflow_key(report.key)
        if report.state == "queued":
            # QUEUED with the ARN stores it as the external executor id: adoption finds it after a restart.
            # A callback or connection test has no such column (Airflow ignores their QUEUED).
            if is_task_key(key):
                self.change_state(key, TaskInstanceState.QUEUED, report.arn, remove_running=False)
        elif report.state == "running":
            self.running_state(key, report.arn)
        elif report.state == "success":
            self.success(key, report.arn)
        else:
            # A callback's failure info is what Airflow stores as its output: the diagnosis, not the ARN.
            self.fail(key, report.arn if is_task_key(key) else report.message)

    def _metric(self, metric: Metric) -> None:
        if metric.kind == "incr":
            self.metrics.incr(metric.name)
        elif metric.kind == "timing":
            self.metrics.timing(metric.name, metric.value)
        else:  # timing_since_epoch: ECS's own timestamp, so the wall clock
            self.metrics.timing(metric.name, time.time() - metric.value)

    # --- sweeps and log tails (on the control threads) ---

    def _sweep(self, command: Describe) -> None:
        if self._control is None:
            self._run(self.tasks.sweep_done())
            return
        if command.reconcile:
            job = lambda: self._reconcile(command.arns, command.stale)  # noqa: E731
        else:
            job = lambda: self._describe(command.arns)  # noqa: E731
        self._control.submit(self._background, job)

    def _background(self, job: Callable[[], Polled]) -> None:
        try:
            self._results.put(job())
        except Exception as error:  # noqa: BLE001
            self._results.put(Polled(error=f"{type(error).__name__}: {error}"))

    def _describe(self, arns: Sequence[str]) -> Polled:
        """On the control thread: DescribeTasks in batches of 100."""
        config = self._require_config()
        self.metrics.incr("sweeps.describe")
        found, missing = self._counted("DescribeTasks", ecs_api.describe_tasks, self._ecs, config.cluster, list(arns))
        return Polled(found, tuple(missing))

    def _reconcile(self, ours: Sequence[str], stale: Sequence[str]) -> Polled:
        """With events: ListTasks of the stopped tasks of our task definitions' families finds the stops whose
        events were lost; one call per family when nothing changed, instead of describing every running task.
        By family, so its cost follows our tasks, not everything else the cluster runs."""
        config = self._require_config()
        self.metrics.incr("sweeps.reconcile")
        stopped: list[str] = []
        families: list[str | None] = [*sorted(self._families)] or [None]  # None: every family
        for family in families:
            stopped += self._counted("ListTasks", ecs_api.list_task_arns, self._ecs, config.cluster, family, "STOPPED")
        tracked = set(ours)
        wanted = [arn for arn in dict.fromkeys([*stopped, *stale]) if arn in tracked]
        return self._describe(wanted) if wanted else Polled()

    def _read_log_tail(self, command: ReadLogTail) -> None:
        """A failed task's last log lines, on the bounded log pool: a burst of failures delays only itself."""
        if self._log_pool is None:
            self._results.put(LogTail(command.key, command.generation, []))
            return

        def read() -> None:
            try:
                lines = self._read_log(command.task, limit=LOG_TAIL_LINES)
            except Exception as error:  # noqa: BLE001 - a missing log must not hide the failure itself
                lines = [f"(log unavailable: {type(error).__name__}: {error})"]
            self._results.put(LogTail(command.key, command.generation, lines))

        self._log_pool.submit(read)

    def _read_log(self, task: Mapping[str, Any], limit: int | None = None) -> list[str]:
        config = self._require_config()
        definition = self._task_definition(task["taskDefinitionArn"])
        container = container_name_of(task, config.container_name)
        where = awslogs_stream(definition, container, task["taskArn"])
        if where is None:
            return [f"(container {container!r} does not log through awslogs)"]
        return self._counted("GetLogEvents", lambda: ecs_api.log_events(self._logs, where[0], where[1], limit=limit))

    def _flush_event_deletes(self) -> None:
        """Delete the events applied, release the others' (off this thread; a failure only delays them)."""
        if not (self._pending_deletes or self._pending_releases) or self._control is None or self._sqs is None:
            return
        deletes, self._pending_deletes = self._pending_deletes, []
        releases, self._pending_releases = self._pending_releases, []
        url = self._require_config().events_queue_url

        def flush() -> None:
            try:
                if deletes:
                    self._counted("DeleteMessageBatch", delete_messages, self._sqs, url, deletes)
                if releases:
                    self._counted(
                        "ChangeMessageVisibilityBatch", release_messages, self._sqs, url, releases, RELEASE_DELAY
                    )
            except Exception as error:  # noqa: BLE001 - undeleted events come back and are de-duplicated
                self._results.put(BackgroundError("events queue", f"{type(error).__name__}: {error}"))

        self._control.submit(flush)

    def _stop_in_background(self, arn: str, reason: str) -> None:
        if self._control is None:
            return
        cluster = self._require_config().cluster

        def stop() -> None:
            try:
                self._counted("StopTask", ecs_api.stop_task, self._ecs, cluster, arn, reason)
            except Exception as error:  # noqa: BLE001
                self._results.put(BackgroundError(f"StopTask {arn}", f"{type(error).__name__}: {error}"))

        self._control.submit(stop)

    # --- lifecycle ---

    def try_adopt_task_instances(self, tis: Sequence[TaskInstance]) -> Sequence[TaskInstance]:
        """Adopt tasks another (dead) scheduler launched: by the task ARN saved as external executor id, else
        (a launch answered too late to be saved) by the ECS task whose startedBy is the task instance's id."""
        not_adopted = []
        by_ti: dict[str, TaskInstance] = {}
        now = time.monotonic()
        began = time.perf_counter()
        for ti in tis:
            arn = ti.external_executor_id or ""
            if not (arn.startswith("arn:") and ":task/" in arn):
                if getattr(ti, "state", None) == TaskInstanceState.QUEUED and getattr(ti, "id", None):
                    by_ti[started_by(identity_of(ti))] = ti
                else:
                    not_adopted.append(ti)
                continue
            self._adopt(ti, identity_of(ti), arn, now)
        if by_ti:
            found = self._find_started_by(set(by_ti))
            for started, ti in by_ti.items():
                if started in found:
                    self._adopt(ti, identity_of(ti), found[started], now)
                else:
                    not_adopted.append(ti)
        adopted = len(tis) - len(not_adopted)
        if adopted:
            self.log.info("Adopted %d ECS tasks from a previous scheduler", adopted)
        self.metrics.timing("adopt_task_instances.duration", time.perf_counter() - began)
        return not_adopted

    def _adopt(self, ti: Any, identity: TaskIdentity, arn: str, now: float) -> None:
        self._run(
            self.tasks.adopt(
                ti.key,
                identity,
                started_by(identity),
                arn,
                self.profile_config(identity.queue)[1].container_name,
                now,
                seen_running=ti.state == TaskInstanceState.RUNNING,
            )
        )
        self.running.add(ti.key)

    def _find_started_by(self, wanted: set[str]) -> dict[str, str]:
        """startedBy -> ARN of the live tasks of our families started for these task instances (scheduler
        thread: only when adoption meets queued task instances with no ARN saved, at a scheduler's start)."""
        if self._ecs is None or self.ecs_config is None:
            return {}
        try:
            return self._counted(
                "ListTasks",
                ecs_api.live_tasks_started_by,
                self._ecs,
                self.ecs_config.cluster,
                sorted(self._families) or [None],
                wanted,
            )
        except Exception as error:  # noqa: BLE001 - then Airflow resets them, as without this search
            self.log.warning("Could not look for unrecorded launches by startedBy: %s: %s", type(error).__name__, error)
            return {}

    def revoke_task(self, *, ti: TaskInstance) -> None:
        """Stop the ECS task of a task instance Airflow gave up on (e.g. stuck in queued)."""
        self.queued_tasks.pop(ti.key, None)
        self._revoke(ti.key)

    def _revoke(self, key: Hashable) -> None:
        self.running.discard(key)
        task = self.tasks.get(key)
        if task is None:
            return
        self.log.info("Revoked %s (%s)", task.identity.describe(), task.arn or "not launched yet")
        self._run(self.tasks.revoke(key))

    def fail_connection_test(self, key: Any) -> None:
        """Airflow's reaper gave up on a connection test: stop its ECS task too."""
        super().fail_connection_test(key)
        self._revoke(key)

    def _drop_unbuilt(self) -> None:
        """Forget workloads never launched: their task instances stay queued, and the next scheduler's
        adoption finds no ECS task for them and schedules them again."""
        while self._to_build:
            self.running.discard(workload_key(self._to_build.popleft()))

    def end(self) -> None:
        """Stop launching, record what launched, wait at most end_timeout for the launched tasks to finish."""
        self._accepting = False
        if self._launcher is None:  # start() never finished: nothing was launched
            self._shutdown_threads()
            return
        self._drop_unbuilt()
        self._run(self.tasks.stop_launching())
        self._launcher.shutdown(wait=True)
        self.sync()
        self._run(self.tasks.stop_launching())  # launches that failed during shutdown are not retried
        self._record_launches()
        deadline = time.monotonic() + self._require_config().end_timeout
        while len(self.tasks) and time.monotonic() < deadline:
            time.sleep(0.5)
            self.sync()
        if len(self.tasks):
            self.log.warning(
                "end(): %d ECS tasks still running after end_timeout; a restarted scheduler adopts them",
                len(self.tasks),
            )
        self._shutdown_threads()

    def _record_launches(self) -> None:
        """Save the ARN of every task launched as the external executor id now: after end() the scheduler no
        longer reads the event buffer, and without it the next scheduler could not adopt these tasks."""
        launched = {task.key: task.arn for task in self.tasks if task.arn and is_task_key(task.key)}
        if self.job_id is None or not launched:
            return
        try:
            from airflow_ecs.glue.airflow_compat import save_external_executor_ids

            save_external_executor_ids(launched)
        except Exception as error:  # noqa: BLE001 - the next scheduler then finds them by startedBy
            self.log.warning(
                "end(): could not record %d launched ECS tasks (%s: %s); the next scheduler looks them up by startedBy",
                len(launched),
                type(error).__name__,
                error,
            )

    def terminate(self) -> None:
        """Stop every task this executor started, then the threads."""
        self._accepting = False
        if self._launcher is None:
            self._shutdown_threads()
            return
        self._drop_unbuilt()
        self._run(self.tasks.stop_launching())
        self._launcher.shutdown(wait=True)
        self._drain_results()  # tasks that launched during shutdown are stopped too
        config = self._require_config()
        futures = []
        if self._control is not None:
            for arn in self.tasks.arns():
                futures.append(
                    self._control.submit(
                        ecs_api.stop_task, self._ecs, config.cluster, arn, "Airflow scheduler terminated"
                    )
                )
        for future in futures:
            try:
                future.result(timeout=30)
            except Exception as error:  # noqa: BLE001
                self.log.warning("terminate(): StopTask failed: %s", error)
        self._shutdown_threads()

    def _shutdown_threads(self) -> None:
        if self._events is not None:
            self._events.stop()
        for pool in (self._log_pool, self._control):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=False)
        self._control = self._log_pool = None

    @staticmethod
    def get_cli_commands() -> list:
        """``airflow ecs check|status`` on Airflow 3.1 (3.2+ read the provider info's ``cli`` entry)."""
        from airflow_ecs.glue.airflow_cli import get_cli_commands

        return get_cli_commands()

    # --- logs for the UI ---

    def get_task_log(self, ti: TaskInstance, try_number: int) -> tuple[list[str], list[str]]:
        """The running task's output from its awslogs stream, found through the task ECS actually ran.

        The UI asks again every few seconds: each stream's lines are cached with CloudWatch's forward token,
        so a refresh reads only what is new (one call when nothing is), not the whole stream again.
        """
        arn = getattr(ti, "external_executor_id", None) or ""
        if not arn.startswith("arn:"):
            return [], []
        try:
            config = self._require_config()
            if self._ecs is None:
                self._connect(config)
            where = self._log_streams.get(arn)
            if where is None:
                found, _ = ecs_api.describe_tasks(self._ecs, config.cluster, [arn])
                if arn not in found:
                    return [f"ECS task {arn} is no longer known to ECS"], []
                definition = self._task_definition(found[arn]["taskDefinitionArn"])
                where = awslogs_stream(definition, container_name_of(found[arn], config.container_name), arn)
                if where is None:
                    return [f"ECS task {arn}: its container does not log through awslogs"], []
                self._log_streams[arn] = where
            with self._log_lock:
                lines, token = self._log_cache.pop(where, ([], None))
            new, token = self._counted("GetLogEvents", ecs_api.log_events_after, self._logs, where[0], where[1], token)
            lines = lines + new
            with self._log_lock:
                self._log_cache[where] = (lines, token)
                while len(self._log_cache) > LOG_CACHE_STREAMS:
                    self._log_cache.popitem(last=False)
                while len(self._log_streams) > LOG_CACHE_STREAMS:
                    self._log_streams.popitem(last=False)
            return [f"CloudWatch Logs {where[0]}:{where[1]}"], list(lines)
        except Exception as error:  # noqa: BLE001 - the UI shows the reason instead of an error page
            return [f"Could not read the ECS task's log: {type(error).__name__}: {error}"], []
