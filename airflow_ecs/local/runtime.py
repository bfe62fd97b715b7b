"""What moto does not do: run each placed task's Airflow container.

moto records RunTask and answers DescribeTasks; this runtime, in the same process as moto's server,
notices each new task, takes it PROVISIONING -> PENDING -> RUNNING -> STOPPED with real timestamps, runs
the container, writes its output to the task's awslogs stream, enforces the task's memory, honours StopTask
(SIGTERM, then SIGKILL after the stop timeout), publishes ECS Task State Change events, and records the exit
code, stopCode and reasons on the moto task so DescribeTasks answers what ECS would.

Two ways to run the container: as a local process (the default: a leading ``python`` is this interpreter,
the local "image" is this venv, the memory limit is watched from outside), or, given a ``ContainerRunner``
(containers.py), as a podman container of the task definition's image with real limits and signals.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import psutil

from airflow_ecs.core.containers import container_named
from airflow_ecs.core.task_logs import stream_name
from airflow_ecs.local.containers import (
    OOM_REASON,
    AskAgain,
    ContainerRunner,
    Inspection,
    cpu_units,
    judge_end,
    resolve_secrets,
)
from airflow_ecs.local.forkserver import ForkedProcess, ForkServer, signal_session

ACCOUNT = "123456789012"
SPOT_REASON = "Your Spot Task was interrupted."


def container_command(
    definition: Mapping[str, Any], overrides: Mapping[str, Any], *, local_python: bool = True
) -> tuple[str, list[str], dict[str, str]]:
    """(container name, argv, environment) of the task's first container, with the overrides applied.

    ``local_python``: a leading ``python`` becomes this interpreter (the process runtime has no image).
    """
    container = definition["containerDefinitions"][0] if "containerDefinitions" in definition else definition
    name = container["name"]
    command = list(container.get("command") or [])
    environment = {item["name"]: item["value"] for item in container.get("environment") or []}
    override = container_named((overrides or {}).get("containerOverrides"), name)
    if override is not None:
        command = list(override.get("command") or command)
        environment.update({item["name"]: item["value"] for item in override.get("environment") or []})
    if local_python and command and command[0] in ("python", "python3"):
        command[0] = sys.executable
    return name, command, environment


def memory_limit_mib(task_memory: Any, container: Mapping[str, Any], overrides: Mapping[str, Any]) -> int | None:
    """The hard memory limit ECS would enforce: the task-level override, else the task's, else the container's."""
    for value in ((overrides or {}).get("memory"), task_memory, container.get("memory")):
        if value:
            return int(value)
    return None


def event_detail(task: Any, version: int) -> dict[str, Any]:
    """The ``detail`` of an ECS Task State Change event, mirroring the task as DescribeTasks shows it."""

    def ts(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, (int, float)):
            value = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
        return value.isoformat()

    containers = []
    for container in task.containers:
        entry = {"name": container.name, "lastStatus": container.last_status}
        if getattr(container, "exitCode", None) is not None:
            entry["exitCode"] = container.exitCode
        if getattr(container, "reason", None):
            entry["reason"] = container.reason
        containers.append(entry)
    detail = {
        "taskArn": task.task_arn,
        "clusterArn": task.cluster_arn,
        "taskDefinitionArn": task.task_definition_arn,
        "startedBy": task.started_by or "",
        "group": getattr(task, "group", None),
        "lastStatus": task.status,
        "desiredStatus": task.desired_status,
        "containers": containers,
        "version": version,
        "createdAt": ts(getattr(task, "created_at", None)),
        "startedAt": ts(getattr(task, "started_at", None)),
        "stoppedAt": ts(getattr(task, "stopped_at", None)),
    }
    if getattr(task, "stop_code", None):
        detail["stopCode"] = task.stop_code
    if getattr(task, "stopped_reason", None):
        detail["stoppedReason"] = task.stopped_reason
    return detail


@functools.cache
def runtime_task_class(moto_task_class: type) -> type:
    """moto's Task, with its status owned by this runtime.

    moto creates tasks RUNNING and StopTask sets them STOPPED at once; on ECS a new task is PROVISIONING
    and a stopped one stays up (desiredStatus STOPPED) until its container has exited. Tasks placed by
    RunTask get this class, so what moto's API handlers set cannot run ahead of the process.
    """

    class RuntimeTask(moto_task_class):
        runtime_owns_stop = False

        @property
        def status(self) -> str | None:
            return self._status

        @status.setter
        def status(self, value: str) -> None:
            if value == "STOPPED" and not self.runtime_owns_stop:
                return  # StopTask: desired_status says it; the runtime stops the process and then the task
            self._status = value

    return RuntimeTask


class TaskTable(dict):
    """One cluster's tasks in moto's backend: tells the runtime of each task the moment RunTask places it, and
    gives DescribeTasks each task as one moment of it.

    moto's DescribeTasks is the only reader of ``items()``, and its answer is serialized after it returns, in
    the Task shape's order: ``containers`` before ``lastStatus`` and ``stopCode``. Read live, a task the
    runtime finished in between came out STOPPED with no exit code (seen once in make test's polling e2e
    file), which ECS never answers. So each task is copied under the runtime's lock, which every change of a
    task holds."""

    def __init__(self, on_new: Callable[[str, Any], None], tasks: Mapping[str, Any], lock: Any):
        super().__init__(tasks)
        self._on_new, self._lock = on_new, lock

    def __setitem__(self, arn: str, task: Any) -> None:
        if arn not in self:
            self._on_new(arn, task)
        super().__setitem__(arn, task)

    def items(self) -> Any:
        with self._lock:
            return [(arn, one_moment(task)) for arn, task in super().items()]


def one_moment(task: Any) -> Any:
    """A copy of a moto task whose fields (its containers' included) no later change reaches."""
    moment = copy.copy(task)
    moment.containers = [copy.copy(container) for container in task.containers]
    return moment


class ClusterTables(dict):
    """moto's ``tasks`` (cluster name -> tasks), creating a TaskTable for each cluster."""

    def __init__(self, on_new: Callable[[str, Any], None], existing: Mapping[str, Any], lock: Any):
        super().__init__()
        self._on_new, self._lock = on_new, lock
        for name, tasks in existing.items():
            self[name] = tasks

    def __setitem__(self, cluster: str, tasks: Any) -> None:
        super().__setitem__(cluster, TaskTable(self._on_new, tasks, self._lock))

    def rebind(self, on_new: Callable[[str, Any], None], lock: Any) -> None:
        """Tell ``on_new`` (a new runtime's) of the tasks placed from now on, and copy them under ``lock``."""
        self._on_new, self._lock = on_new, lock
        for tasks in self.values():
            tasks._on_new, tasks._lock = on_new, lock


@dataclass
class LocalTask:
    arn: str
    moto_task: Any
    container: str
    command: list[str]
    environment: dict[str, str]
    memory_mib: int | None
    log_group: str | None
    log_stream: str
    image: str = ""
    cpu_units: int | None = None
    secrets: list[dict[str, str]] = field(default_factory=list)
    stop_timeout: float | None = None  # the container definition's stopTimeout, else the runtime's
    created: float = field(default_factory=time.monotonic)
    process: subprocess.Popen | ForkedProcess | None = None
    version: int = 0
    stop_code: str | None = None
    stop_reason: str | None = None
    container_reason: str | None = None
    kill_at: float | None = None
    done: bool = False
    container_name: str = ""  # podman's name for it (container runtime)
    last_line: str = ""  # the last line of output: podman's error when a container cannot start
    # The container runtime's end of a task: podman run's exit status once it has returned, then podman's
    # record of the container, asked for off the loop (judge_end), again while it cannot be read.
    podman_exit: int | None = None
    inspection: Future[dict[str, Inspection]] | None = None
    inspect_at: float = 0.0  # when to ask podman (again)
    unreadable: int = 0  # podman's answers in a row that could not be read
    runs_alone: bool = False  # the container still runs though its podman run has returned
    pending_text: str = ""  # output after its last newline: the start of a line not yet complete


class LocalRuntime:
    """Polls moto's ECS backend and runs each new task; a thread of the process that hosts moto."""

    def __init__(
        self,
        *,
        region: str,
        clients: Callable[[str], Any],
        start_delay: float = 0.5,
        max_concurrent: int = 8,
        stop_timeout: float = 10.0,
        poll_seconds: float = 0.05,
        events_bus: str | None = "default",
        containers: ContainerRunner | None = None,
        warm_start: bool = True,
    ):
        self.region = region
        self.containers = containers  # None: each container is a local process
        # The process runtime forks the worker's command from a warm interpreter (forkserver.py says why).
        self.forks = ForkServer() if containers is None and warm_start else None
        self._clients = clients
        self.start_delay = start_delay
        self.max_concurrent = max_concurrent
        self.stop_timeout = stop_timeout
        self._poll = poll_seconds
        self._events_bus = events_bus
        self.tasks: dict[str, LocalTask] = {}
        self.launches_by_started_by: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # Containers whose podman run has returned: asked about, and removed once judged, in one podman call
        # each per tick (at its end), on the runner's threads.
        self._to_inspect: list[LocalTask] = []
        self._to_remove: list[str] = []
        self._thread = threading.Thread(target=self._run, name="local-ecs-runtime", daemon=True)
        self._logs = clients("logs")
        self._events = clients("events")

    def start(self) -> None:
        self._attach()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.containers is not None:
            self._remove_containers()
        for task in self.tasks.values():
            if task.process and task.process.poll() is None:
                signal_session(task.process.pid, signal.SIGKILL)
            if task.process:
                try:
                    task.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        if self.forks is not None:
            self.forks.stop()

    def _remove_containers(self, timeout: float = 60.0) -> None:
        """Remove every container this runtime started, including one a ``podman run`` is still creating.

        A container created after podman listed them would escape one removal, so remove again until every
        ``podman run`` has returned (each does once its container is gone).
        """
        assert self.containers is not None
        deadline = time.monotonic() + timeout
        while True:
            self.containers.remove_all()
            running = [t.process for t in self.tasks.values() if t.process is not None and t.process.poll() is None]
            if not running or time.monotonic() > deadline:
                return
            for process in running:
                try:
                    process.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass

    def _backend(self) -> Any:
        from moto.backends import get_backend

        return get_backend("ecs")[ACCOUNT][self.region]

    # --- fault injection for tests ---

    def interrupt_spot(self, arn: str) -> None:
        """Fargate Spot reclaims the task: SIGTERM now, stopCode SpotInterruption when it exits."""
        with self._lock:
            task = self.tasks[arn]
            task.stop_code, task.stop_reason = "SpotInterruption", SPOT_REASON
            task.kill_at = time.monotonic() + self._stop_timeout(task)
            if self._running(task):
                self._signal(task, signal.SIGTERM)

    def running_count(self) -> int:
        return sum(1 for t in self.tasks.values() if t.process is not None and not t.done)

    # --- the loop ---

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as error:  # noqa: BLE001 - keep emulating; say what went wrong
                print(f"[local-ecs] runtime error: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            self._stop.wait(self._poll)

    def _tick(self) -> None:
        with self._lock:
            for task in list(self.tasks.values()):
                if task.version == 0:
                    # The PROVISIONING event, sent here rather than on moto's request thread: under the lock,
                    # so it always comes before the task's next change and with the next version number.
                    self._publish(task)
                if not task.done:
                    self._advance(task)
            if self._to_inspect:
                assert self.containers is not None  # only the container runtime asks
                asked = self.containers.inspect([task.container_name for task in self._to_inspect])
                for task in self._to_inspect:
                    task.inspection = asked
                self._to_inspect = []
            if self._to_remove:
                assert self.containers is not None
                self.containers.remove(self._to_remove)
                self._to_remove = []

    def _attach(self) -> None:
        """Be told of each task as RunTask places it, on moto's request thread, before it answers."""
        backend = self._backend()
        if isinstance(backend.tasks, ClusterTables):  # a runtime before this one on the same local ECS
            backend.tasks.rebind(self._on_new_task, self._lock)
        else:
            backend.tasks = ClusterTables(self._on_new_task, backend.tasks, self._lock)

    def _on_new_task(self, arn: str, moto_task: Any) -> None:
        backend = self._backend()
        definition = backend.describe_task_definition(moto_task.task_definition_arn)
        container_def = definition.container_definitions[0]
        overrides = moto_task.overrides or {}
        name, command, environment = container_command(
            {"containerDefinitions": [container_def]}, overrides, local_python=self.containers is None
        )
        log_options = (container_def.get("logConfiguration") or {}).get("options") or {}
        task = LocalTask(
            arn=arn,
            moto_task=moto_task,
            container=name,
            command=command,
            environment=environment,
            memory_mib=memory_limit_mib(definition.memory, container_def, overrides),
            log_group=log_options.get("awslogs-group"),
            log_stream=stream_name(log_options.get("awslogs-stream-prefix"), name, arn),
            image=container_def.get("image") or "",
            cpu_units=cpu_units(definition.cpu, container_def, overrides),
            secrets=list(container_def.get("secrets") or []),
            stop_timeout=container_def.get("stopTimeout"),
        )
        moto_class: type = type(moto_task)  # annotated: mypy takes type(...) for unhashable, a plain type it does not
        moto_task.__class__ = runtime_task_class(moto_class)
        moto_task.status = "PROVISIONING"
        moto_task.created_at = time.time()
        for container in moto_task.containers:
            container.exitCode = None  # moto starts every container with exit code 0
            container.last_status = "PENDING"
        with self._lock:
            self.tasks[arn] = task
            if moto_task.started_by:
                self.launches_by_started_by[moto_task.started_by] = (
                    self.launches_by_started_by.get(moto_task.started_by, 0) + 1
                )

    def _set_status(self, task: LocalTask, status: str) -> None:
        if task.moto_task.status != status:
            task.moto_task.status = status
            self._publish(task)

    def _advance(self, task: LocalTask) -> None:
        moto_task = task.moto_task
        stop_requested = moto_task.desired_status == "STOPPED" and task.stop_code is None
        if stop_requested:
            task.stop_code = "UserInitiated"
            task.stop_reason = moto_task.stopped_reason or "Task stopped by user"
            task.kill_at = time.monotonic() + self._stop_timeout(task)
            if self._running(task):
                self._set_status(task, "STOPPING")  # the container is still exiting
                self._signal(task, signal.SIGTERM)
        if task.process is None:
            if task.stop_code is not None:  # stopped before it ran
                self._finish(task, None)
                return
            if time.monotonic() - task.created < self.start_delay:
                return
            if self.running_count() >= self.max_concurrent:
                return  # Fargate's capacity: wait in PROVISIONING
            self._set_status(task, "PENDING")
            self._spawn(task)
            return
        if task.podman_exit is None:
            self._pump_logs(task)
            code = task.process.poll()
            if code is None:
                if task.kill_at and time.monotonic() > task.kill_at:
                    self._signal(task, signal.SIGKILL)
                    if self.containers is not None:  # podman's kill may come before the container exists: again
                        task.kill_at = time.monotonic() + 2
                elif self.containers is None and task.memory_mib and _tree_rss_mib(task.process.pid) > task.memory_mib:
                    task.container_reason = "OutOfMemoryError: Container killed due to memory usage"
                    signal_session(task.process.pid, signal.SIGKILL)
                return
            self._pump_logs(task, final=True)
            if self.containers is None:
                self._finish(task, 128 - code if code < 0 else code)  # -9 -> 137, -15 -> 143 as Docker reports
                return
            task.podman_exit = code
        self._conclude(task)

    def _conclude(self, task: LocalTask) -> None:
        """The container's end, once its podman run has returned: from podman's record of the container
        (judge_end), asked for on the runner's thread and read on a later tick, never waited for here (the
        loop holds the lock); then the container is removed (at the tick's end)."""
        assert self.containers is not None and task.podman_exit is not None
        now = time.monotonic()
        if task.runs_alone and task.kill_at and now > task.kill_at:
            self._signal(task, signal.SIGKILL)
            task.kill_at = now + 2
        if task.inspection is None:
            if now >= task.inspect_at:
                self._to_inspect.append(task)  # asked at the end of this tick, with the others'
            return
        if not task.inspection.done():
            return
        try:
            inspection = task.inspection.result()[task.container_name]
        except Exception as error:  # noqa: BLE001 - the runner's thread failed: an answer that cannot be read
            inspection = Inspection(None, stderr=f"{type(error).__name__}: {error}")
        task.inspection = None
        end = judge_end(
            task.podman_exit,
            stop_requested=task.kill_at is not None,
            last_line=task.last_line,
            inspection=inspection,
            attempts=task.unreadable + 1,
        )
        if isinstance(end, AskAgain):
            if not (end.running and task.runs_alone):  # said once for a container running on, each time else
                print(
                    f"[local-ecs] {task.container_name}: podman run exited {task.podman_exit}, but {end.why}: "
                    f"asking podman again in {end.seconds:g}s",
                    file=sys.stderr,
                    flush=True,
                )
            task.runs_alone = end.running
            task.unreadable = 0 if end.running else task.unreadable + 1
            task.inspect_at = now + end.seconds
            return
        task.runs_alone = False
        self._to_remove.append(task.container_name)
        # The memory limit is the kernel's, so 137 unasked is OOM (judge_end); so is an OOM kill of another
        # process of the container, not its main one, which the runner counted in its cgroup.
        task.container_reason = task.container_reason or end.container_reason
        if self.containers.oom_killed(task.container_name):
            task.container_reason = OOM_REASON
        if end.stop_code:
            task.stop_code, task.stop_reason = end.stop_code, end.stop_reason
        self._finish(task, end.exit_code)

    def _running(self, task: LocalTask) -> bool:
        """Whether the task's container may still be running: its process (podman run) has not returned, or
        podman says the container runs on without it."""
        return task.process is not None and (task.process.poll() is None or task.runs_alone)

    def _stop_timeout(self, task: LocalTask) -> float:
        return float(task.stop_timeout) if task.stop_timeout else self.stop_timeout

    def _signal(self, task: LocalTask, sig: int) -> None:
        if self.containers is not None:
            self.containers.signal(task.container_name, signal.Signals(sig).name)
        elif task.process is not None:
            signal_session(task.process.pid, sig)

    def _spawn(self, task: LocalTask) -> None:
        try:
            # As ECS does before it starts the container: the task's secrets into its environment.
            environment = {**task.environment, **resolve_secrets(task.secrets, self._clients)}
        except ValueError as error:
            task.stop_code, task.stop_reason = "TaskFailedToStart", str(error)
            self._finish(task, None)
            return
        try:
            if self.containers is not None:
                spec = self.containers.spec(
                    task.arn, task.image, task.command, environment, task.memory_mib, task.cpu_units
                )
                task.container_name = spec.name
                task.process = self.containers.start(spec)
            else:
                base = {key: os.environ[key] for key in ("PATH", "LANG", "TZ") if key in os.environ}
                env = {**base, **environment}
                forked = self.forks.start(task.command, env) if self.forks is not None else None
                task.process = forked or subprocess.Popen(
                    task.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
                )
        except OSError as error:
            task.stop_code = "TaskFailedToStart"
            task.stop_reason = f"CannotStartContainerError: {error}"
            self._finish(task, None)
            return
        assert task.process.stdout is not None  # both runtimes start it with stdout=PIPE
        os.set_blocking(task.process.stdout.fileno(), False)
        task.pending_text = ""
        if task.log_group:
            try:
                self._logs.create_log_stream(logGroupName=task.log_group, logStreamName=task.log_stream)
            except Exception:  # noqa: BLE001 - already there
                pass
        task.moto_task.started_at = time.time()
        for container in task.moto_task.containers:
            container.last_status = "RUNNING"
        self._set_status(task, "RUNNING")

    def _pump_logs(self, task: LocalTask, final: bool = False) -> None:
        assert task.process is not None and task.process.stdout is not None
        try:
            chunk = task.process.stdout.read()
        except (BlockingIOError, ValueError):
            chunk = None
        text = task.pending_text + (chunk.decode(errors="replace") if chunk else "")
        lines = text.split("\n")
        task.pending_text = "" if final else lines.pop()
        lines = [line for line in lines if line]
        if lines:
            task.last_line = lines[-1]
        if lines and task.log_group:
            now = int(time.time() * 1000)
            try:
                self._logs.put_log_events(
                    logGroupName=task.log_group,
                    logStreamName=task.log_stream,
                    logEvents=[{"timestamp": now, "message": line} for line in lines],
                )
            except Exception as error:  # noqa: BLE001
                print(f"[local-ecs] log write failed: {error}", file=sys.stderr, flush=True)

    def _finish(self, task: LocalTask, exit_code: int | None) -> None:
        moto_task = task.moto_task
        for container in moto_task.containers:
            container.last_status = "STOPPED"
            container.exitCode = exit_code
            if task.container_reason:
                container.reason = task.container_reason
        moto_task.stop_code = task.stop_code or "EssentialContainerExited"
        moto_task.stopped_reason = task.stop_reason or "Essential container in task exited"
        moto_task.stopped_at = time.time()
        moto_task.desired_status = "STOPPED"
        task.done = True
        moto_task.runtime_owns_stop = True
        moto_task.status = "STOPPED"
        self._publish(task)

    def _publish(self, task: LocalTask) -> None:
        if not self._events_bus:
            return
        task.version += 1
        detail = event_detail(task.moto_task, task.version)
        try:
            self._events.put_events(
                Entries=[
                    {
                        "Source": "aws.ecs",
                        "DetailType": "ECS Task State Change",
                        "Detail": json.dumps(detail),
                        "Resources": [task.arn],
                        "EventBusName": self._events_bus,
                    }
                ]
            )
        except Exception as error:  # noqa: BLE001
            print(f"[local-ecs] event publish failed: {error}", file=sys.stderr, flush=True)


def _tree_rss_mib(pid: int) -> float:
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
        return sum(p.memory_info().rss for p in processes if p.is_running()) / 2**20
    except psutil.Error:
        return 0.0
