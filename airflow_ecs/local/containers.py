"""The local ECS's container runtime: each task's container runs as a podman container of its image.

Where the process runtime runs the container's command with this venv's Python, this one runs the task
definition's image (the worker image ``make worker-image`` builds from docker/Dockerfile) with the command,
environment, secrets, memory and cpu limits as ECS gives them, behind an init process so StopTask's SIGTERM
reaches the task, and reports the container's own exit code: read from podman's record of the container once
``podman run`` returns, not from ``podman run``'s exit status, which is podman's own when podman fails even after
the container ran. The decisions (podman's argv, the environment's split, where a secret comes from, what a
container's end means) are pure functions; ``ContainerRunner`` is the thin adapter that runs podman.

Every container carries the label ``airflow-ecs.local=<run id>`` of the runtime that started it, so the
runtime (and a test's teardown) removes exactly its own and no other.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABEL = "airflow-ecs.local"
TASK_LABEL = "airflow-ecs.task-arn"
# The image the local task definition names (provision.py) and `make worker-image` builds.
WORKER_IMAGE = "local/airflow-worker:latest"
# Where the worker image keeps its DAGs ($AIRFLOW_HOME/dags): the local deployment mounts its DAG folder here.
IMAGE_DAGS_FOLDER = "/opt/airflow/dags"
# The repository's podman settings (runc, cgroupfs, ulimits within the hard limits): used unless the caller
# already points CONTAINERS_CONF somewhere.
CONTAINERS_CONF = Path(__file__).resolve().parents[2] / "docker" / "local" / "containers.conf"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
# Variables podman itself reads: a task's own value for one of these must not become podman's environment.
PODMAN_OWN_ENVIRONMENT = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "USER",
        "LANG",
        "LC_ALL",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "CONTAINERS_CONF",
        "CONTAINERS_STORAGE_CONF",
        "CONTAINERS_REGISTRIES_CONF",
        "CONTAINER_HOST",
        "CONTAINER_CONNECTION",
        "REGISTRY_AUTH_FILE",
        "DBUS_SESSION_BUS_ADDRESS",
    }
)


class ContainerRuntimeUnavailable(Exception):
    """podman cannot run the worker image here; the message is one line saying why and what to do."""


@dataclass(frozen=True)
class ContainerSpec:
    """One task's container as ECS would run it."""

    name: str
    image: str
    command: Sequence[str]
    environment: Mapping[str, str]
    memory_mib: int | None = None
    cpu_units: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    mounts: Mapping[str, str] = field(default_factory=dict)  # host path -> container path, read-only
    cidfile: str | None = None  # where podman writes the container's id (to find its cgroup)


def container_name(run_id: str, task_arn: str) -> str:
    """podman's name for the task's container: the run and the ECS task id, so `podman ps` tells them apart."""
    return f"airflow-ecs-{run_id}-{task_arn.rsplit('/', 1)[-1]}"


def split_environment(environment: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """(``--env`` arguments, podman's extra environment) carrying the task's environment into the container.

    A value travels in podman's own environment (``--env NAME`` reads it from there), not on its command
    line where `ps` shows it to every user: a secret stays out of the process table. Names podman itself
    reads (PATH, HOME, ...) would change podman, so those few go as ``NAME=value`` on the command line.
    """
    arguments: list[str] = []
    inherited: dict[str, str] = {}
    for name, value in environment.items():
        if name in PODMAN_OWN_ENVIRONMENT:
            arguments += ["--env", f"{name}={value}"]
        else:
            arguments += ["--env", name]
            inherited[name] = value
    return arguments, inherited


def cpus(cpu_units: int) -> str:
    """ECS cpu units (1024 = one vCPU) as podman's --cpus."""
    return f"{cpu_units / 1024:g}"


def run_argv(spec: ContainerSpec, podman: str = "podman") -> tuple[list[str], dict[str, str]]:
    """podman's argv for the task's container, and the environment podman needs for ``--env NAME``.

    Attached (the output comes back on podman's stdout, for the awslogs stream), never pulled (the image is
    local), on the host's network, with an init as PID 1 that passes SIGTERM on. Not ``--rm``: the container
    stays after it exits so the runner can ask podman how it ended (``judge_end``), and removes it then.
    The memory limit is a hard one without swap, as on Fargate, so going over it kills with exit 137.
    """
    argv = [podman, "run", "--name", spec.name, "--pull=never", "--network=host", "--init"]
    if spec.cidfile:
        argv += ["--cidfile", spec.cidfile]
    for key, value in sorted({**spec.labels}.items()):
        argv += ["--label", f"{key}={value}"]
    if spec.memory_mib:
        argv += [f"--memory={spec.memory_mib}m", f"--memory-swap={spec.memory_mib}m"]
    if spec.cpu_units:
        argv += [f"--cpus={cpus(spec.cpu_units)}"]
    for host, inside in sorted(spec.mounts.items()):
        argv += ["--volume", f"{host}:{inside}:ro"]
    env_arguments, inherited = split_environment(spec.environment)
    argv += env_arguments
    argv += [spec.image, *spec.command]
    return argv, inherited


def cpu_units(task_cpu: Any, container: Mapping[str, Any], overrides: Mapping[str, Any]) -> int | None:
    """The cpu ECS gives the task: the task-level override, else the task's, else the container's."""
    for value in ((overrides or {}).get("cpu"), task_cpu, container.get("cpu")):
        if value:
            return int(value)
    return None


def secret_source(value_from: str) -> tuple[str, str, str | None]:
    """Where an ECS ``secrets`` entry's ``valueFrom`` points: (service, id, JSON key or None).

    A Secrets Manager ARN may end in ``:json-key:version-stage:version-id`` (all optional) to pick one key of
    a JSON secret; anything else is a Systems Manager parameter, by ARN or by name.
    """
    parts = value_from.split(":")
    if value_from.startswith("arn:") and len(parts) >= 7 and parts[2] == "secretsmanager":
        secret_arn = ":".join(parts[:7])
        json_key = parts[7] if len(parts) > 7 and parts[7] else None
        return "secretsmanager", secret_arn, json_key
    if value_from.startswith("arn:") and len(parts) >= 6 and parts[2] == "ssm":
        name = parts[5].split("/", 1)[1] if parts[5].startswith("parameter/") else parts[5]
        return "ssm", name if name.startswith("/") or "/" not in name else "/" + name, None
    return "ssm", value_from, None


def resolve_secrets(secrets: Iterable[Mapping[str, str]], clients: Any) -> dict[str, str]:
    """The task's secrets as environment variables, read from the local ECS's Secrets Manager and SSM.

    Raises ValueError with the line ECS would give (ResourceInitializationError) when one cannot be read.
    """
    import json

    values: dict[str, str] = {}
    for secret in secrets:
        service, ident, json_key = secret_source(secret["valueFrom"])
        try:
            if service == "secretsmanager":
                value = clients("secretsmanager").get_secret_value(SecretId=ident)["SecretString"]
                if json_key is not None:
                    value = str(json.loads(value)[json_key])
            else:
                value = clients("ssm").get_parameter(Name=ident, WithDecryption=True)["Parameter"]["Value"]
        except Exception as error:  # noqa: BLE001 - any failure is the task's failure to start, said in one line
            raise ValueError(
                f"ResourceInitializationError: unable to pull secrets: {secret['name']} from "
                f"{secret['valueFrom']}: {type(error).__name__}"
            ) from None
        values[secret["name"]] = value
    return values


@dataclass(frozen=True)
class Exit:
    """What ECS reports for a container that stopped: its exit code (None: it never ran) and the reasons."""

    exit_code: int | None
    container_reason: str | None = None
    stop_code: str | None = None
    stop_reason: str | None = None


def oom_kills(text: str) -> int:
    """How many processes the kernel's OOM killer took in a cgroup: its ``oom_kill`` count, from cgroup v1's
    memory.oom_control or v2's memory.events (0 when the kernel does not count them)."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return 0


def cgroup_memory_files(container_id: str, root: Path = Path("/sys/fs/cgroup")) -> list[Path]:
    """Where the container's OOM count may be: cgroup v1 or v2, podman's cgroupfs or systemd layout."""
    names = (f"libpod-{container_id}", f"libpod-{container_id}.scope")
    parents = (
        root / "memory" / "libpod_parent",
        root / "memory" / "machine.slice",
        root / "libpod_parent",
        root / "machine.slice",
    )
    return [
        parent / name / ("memory.oom_control" if "memory" in parent.parts[-2:] else "memory.events")
        for parent in parents
        for name in names
    ]


def start_failure(message: str) -> Exit:
    """A container that never started, as ECS reports it: TaskFailedToStart, CannotPullContainerError when the
    image is missing, else CannotStartContainerError, with podman's message."""
    kind = (
        "CannotPullContainerError"
        if "image not known" in message or "no such image" in message
        else "CannotStartContainerError"
    )
    return Exit(None, stop_code="TaskFailedToStart", stop_reason=f"{kind}: {message}")


def podman_error(last_line: str) -> str | None:
    """The message of podman's own ``Error: ...`` line, or None when the line is not podman's."""
    return last_line[len("Error: ") :] if last_line.startswith("Error: ") else None


def judge_exit(code: int, *, stop_requested: bool, last_line: str) -> Exit:
    """What ``podman run``'s exit status alone means for the task: the last resort of ``judge_end``, when
    podman cannot say how the container ended.

    podman exits with the container's own code; 125 (podman's error), 126 (command not runnable) and 127
    (command not found) with an ``Error: ...`` line of podman's are a container that never started, which
    ECS reports as TaskFailedToStart (CannotPullContainerError when the image is missing). 137 is SIGKILL:
    ours after a stop's timeout, else the kernel's OOM killer. podman's inspect says OOMKilled=false even
    then on some hosts, so the exit code is the judge. (When the OOM killer takes another process of the
    container, not its main one, the runner sees it in the container's cgroup: ``ContainerRunner.oom_killed``.)
    """
    message = podman_error(last_line)
    if code in (125, 126, 127) and message is not None:
        return start_failure(message)
    return exited(code, stop_requested=stop_requested, oom_killed=False)


def exited(code: int, *, stop_requested: bool, oom_killed: bool) -> Exit:
    """A container that ran and exited with ``code``: 137 that no stop asked for is the kernel's OOM killer."""
    if oom_killed or (code == 137 and not stop_requested):
        return Exit(code, container_reason=OOM_REASON)
    return Exit(code)


# Go's zero time, which podman gives as StartedAt of a container that never started.
ZERO_TIME = "0001-01-01T00:00:00Z"
# An answer of podman's that cannot be read (podman busy, timed out, not JSON) is asked for again this many
# times, this far apart, before podman run's exit status, the only other evidence, decides (judge_exit).
INSPECT_ATTEMPTS = 5
INSPECT_RETRY_SECONDS = 1.0
# How soon to look again at a container that still runs after its ``podman run`` returned.
RUNNING_RECHECK_SECONDS = 0.5
# podman's states of a container whose process is there (paused and stopping included: not ended yet).
RUNNING_STATES = frozenset({"running", "paused", "stopping"})


@dataclass(frozen=True)
class Inspection:
    """What ``podman container inspect`` answered about a container: its exit status (None: no answer about it,
    the reason in ``stderr``) and its output."""

    returncode: int | None
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class AskAgain:
    """No end to report yet: ask podman again in ``seconds``. ``running``: the container still runs without its
    ``podman run`` (which went away first), so a stop must still signal it."""

    seconds: float
    why: str
    running: bool = False


def judge_end(
    code: int, *, stop_requested: bool, last_line: str, inspection: Inspection, attempts: int = 1
) -> Exit | AskAgain:
    """How the task's container ended, once its ``podman run`` returned ``code``: from podman's record of the
    container (``inspection``, the ``attempts``-th answer), not from ``code``.

    ``podman run``'s status is podman's own whenever podman fails, even after the container ran (seen once
    under load: exit 125 with an ``Error: ...`` line from a container podman's event log showed had died),
    and read as the container's, that was a start failure. So:

    - a container that started reports its own State.ExitCode, whatever podman run said; 137 that no stop
      asked for, or OOMKilled, is OutOfMemoryError (OOMKilled is false even then on some hosts: 137 decides);
    - a container podman has no record of, or one that never started (StartedAt is Go's zero time), is
      TaskFailedToStart with podman's message: State.Error, else podman run's ``Error:`` line;
    - a container still running (its podman run went away before it) is asked about again, and so is an
      answer that cannot be read, ``INSPECT_ATTEMPTS`` times in all; then podman run's status is all there is.
    """
    state, why = _inspected_state(inspection)
    if state is None and why is None:  # podman has no such container: it was never created
        return start_failure(podman_error(last_line) or f"podman run exited {code} and left no container")
    if state is not None:
        status = state.get("Status")
        started_at, exit_code = state.get("StartedAt"), state.get("ExitCode")
        if state.get("Running") is True or status in RUNNING_STATES:
            return AskAgain(RUNNING_RECHECK_SECONDS, f"the container is still {status or 'running'}", running=True)
        if not isinstance(started_at, str):
            why = f"its StartedAt is {started_at!r}"
        elif not started_at or started_at.startswith(ZERO_TIME[:10]):
            error = state.get("Error")
            message = error if isinstance(error, str) and error else podman_error(last_line)
            return start_failure(message or f"podman run exited {code} before the container started")
        elif not isinstance(exit_code, int) or isinstance(exit_code, bool):
            why = f"its ExitCode is {exit_code!r}"
        else:
            return exited(exit_code, stop_requested=stop_requested, oom_killed=state.get("OOMKilled") is True)
    if attempts < INSPECT_ATTEMPTS:
        return AskAgain(INSPECT_RETRY_SECONDS, f"podman's record of the container cannot be read: {why}")
    return judge_exit(code, stop_requested=stop_requested, last_line=last_line)


def inspections_by_name(names: Sequence[str], answer: Inspection) -> dict[str, Inspection]:
    """One ``podman container inspect A B ...`` answer as each container's own: podman lists those it has, each
    with its Name, and says "no such container X" on stderr (exit 125) for each it has not. A container the
    answer says nothing about gets an answer that cannot be read (judge_end asks again)."""
    records: dict[str, Any] = {}
    try:
        listed = json.loads(answer.stdout) if answer.returncode is not None else None
    except ValueError:
        listed = None
    for record in listed if isinstance(listed, list) else []:
        if isinstance(record, dict) and isinstance(record.get("Name"), str):
            records.setdefault(record["Name"], record)
    said = [line.strip() for line in answer.stderr.splitlines() if line.strip()]
    answers: dict[str, Inspection] = {}
    for name in names:
        missing = [line for line in said if line.lower().endswith(f"no such container {name}".lower())]
        if name in records:
            answers[name] = Inspection(0, json.dumps([records[name]]), "")
        elif missing:
            answers[name] = Inspection(125, "[]", missing[0])
        elif answer.returncode is None or len(names) == 1:
            answers[name] = answer
        else:
            message = "; ".join(said[-1:]) or f"exit {answer.returncode}"
            answers[name] = Inspection(None, "", f"the answer has no record of {name} ({message})")
    return answers


def _inspected_state(inspection: Inspection) -> tuple[dict[str, Any] | None, str | None]:
    """(the container's State, None), (None, None) when podman has no such container, or (None, why not)."""
    if inspection.returncode is None:
        return None, f"podman gave no answer about it ({inspection.stderr.strip() or 'no message'})"
    if inspection.returncode != 0:
        message = (inspection.stderr.strip().splitlines() or ["no message"])[-1]
        if "no such container" in message.lower():
            return None, None
        return None, f"podman container inspect exited {inspection.returncode}: {message}"
    try:
        records = json.loads(inspection.stdout)
    except ValueError:
        return None, "its answer is not JSON"
    if records == []:
        return None, None
    if (
        not isinstance(records, list)
        or not isinstance(records[0], dict)
        or not isinstance(records[0].get("State"), dict)
    ):
        return None, "its answer has no State"
    return records[0]["State"], None


def podman_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment podman runs with: this process's, our containers.conf unless one is set, then ``extra``."""
    env = dict(os.environ)
    if "CONTAINERS_CONF" not in env and CONTAINERS_CONF.exists():
        env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    env.update(extra or {})
    return env


def check_podman(image: str = WORKER_IMAGE, podman: str = "podman") -> None:
    """Raise ContainerRuntimeUnavailable (one line) unless podman is here and has ``image``."""
    if shutil.which(podman) is None:
        raise ContainerRuntimeUnavailable(
            f"podman is not installed: `make worker-image` installs it and builds {image} (or use --runtime process)"
        )
    try:
        found = subprocess.run(
            [podman, "image", "exists", image], env=podman_environment(), capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ContainerRuntimeUnavailable(f"podman does not answer ({error}); use --runtime process") from None
    if found.returncode == 1:
        raise ContainerRuntimeUnavailable(
            f"podman has no image {image}: `make worker-image` builds it (or use --runtime process)"
        )
    if found.returncode != 0:
        last = (found.stderr.strip().splitlines() or ["no message"])[-1]
        raise ContainerRuntimeUnavailable(f"podman does not work here: {last}")


def choose_runtime(choice: str, image: str = WORKER_IMAGE) -> tuple[str, str | None]:
    """(runtime, why not containers) for ``--runtime container|process|auto``.

    auto is containers when podman works and has the image, else processes, with the reason to print.
    container raises ContainerRuntimeUnavailable when podman cannot run the image.
    """
    if choice not in ("container", "process", "auto"):
        raise ValueError(f"--runtime {choice!r}: expected container, process or auto")
    if choice == "process":
        return "process", None
    try:
        check_podman(image)
    except ContainerRuntimeUnavailable as error:
        if choice == "container":
            raise
        return "process", str(error)
    return "container", None


class ContainerRunner:
    """Runs, signals, inspects and removes one runtime's containers with podman; removes them all at the end."""

    def __init__(self, *, mounts: Mapping[str, str] | None = None, podman: str = "podman", run_id: str | None = None):
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.mounts = dict(mounts or {})
        self.podman = podman
        self._signallers: list[subprocess.Popen] = []
        self._cid_dir = tempfile.mkdtemp(prefix=f"airflow-ecs-{self.run_id}-")
        self._oom_files: dict[str, Path] = {}
        self._watched: set[str] = set()
        self._oom_seen: set[str] = set()
        self._watch_lock = threading.Lock()
        self._watching = threading.Event()
        self._watcher: threading.Thread | None = None
        # inspect and rm run here, off the runtime's loop, which holds its lock while it looks at each task:
        # one podman call takes 0.05-0.5 s, and 20 containers ending at once must not hold the loop for all.
        self._podman_calls = ThreadPoolExecutor(max_workers=4, thread_name_prefix="local-ecs-podman")

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL: self.run_id}

    def spec(
        self,
        task_arn: str,
        image: str,
        command: Sequence[str],
        environment: Mapping[str, str],
        memory_mib: int | None,
        cpu: int | None,
    ) -> ContainerSpec:
        return ContainerSpec(
            name=container_name(self.run_id, task_arn),
            image=image,
            command=list(command),
            environment=dict(environment),
            memory_mib=memory_mib,
            cpu_units=cpu,
            labels={**self.labels, TASK_LABEL: task_arn},
            mounts=self.mounts,
            cidfile=os.path.join(self._cid_dir, f"{container_name(self.run_id, task_arn)}.cid"),
        )

    def oom_killed(self, name: str) -> bool:
        """Whether the kernel's OOM killer took any process of the container while it ran.

        On ECS the container's reason says OutOfMemoryError then, even when the main process (Airflow's task
        supervisor) survives the loss of its child and exits by itself. The container's cgroup goes with it,
        so a thread of its own reads the count every 20 ms while the container runs, apart from the runtime's
        loop, whose ticks can be slower than the supervisor's exit.
        """
        with self._watch_lock:
            return name in self._oom_seen

    def _watch_oom(self) -> None:
        while not self._watching.wait(0.02):
            with self._watch_lock:
                names = list(self._watched - self._oom_seen)
            for name in names:
                if self._read_oom(name):
                    with self._watch_lock:
                        self._oom_seen.add(name)

    def _read_oom(self, name: str) -> bool:
        path = self._oom_files.get(name)
        if path is None:
            try:
                container_id = Path(self._cid_dir, f"{name}.cid").read_text().strip()
            except OSError:
                return False  # podman has not created it yet
            found = [p for p in cgroup_memory_files(container_id) if p.exists()] if container_id else []
            if not found:
                return False
            path = self._oom_files[name] = found[0]
        try:
            return oom_kills(path.read_text()) > 0
        except OSError:
            return False  # gone with the container

    def start(self, spec: ContainerSpec) -> subprocess.Popen:
        argv, inherited = run_argv(spec, self.podman)
        with self._watch_lock:
            self._watched.add(spec.name)
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch_oom, name="local-ecs-oom-watch", daemon=True)
            self._watcher.start()
        return subprocess.Popen(
            argv,
            env=podman_environment(inherited),
            # podman's conmon, which inherits this directory, marks a container the OOM killer hit with an
            # empty file named oom in its working directory: the runtime's own, not whatever directory
            # (a checkout) the local ECS was started from.
            cwd=self._cid_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def signal(self, name: str, signal_name: str) -> None:
        """Send SIGTERM/SIGKILL to the container without waiting on podman (the runtime's loop holds a lock)."""
        self._reap()
        self._signallers.append(
            subprocess.Popen(
                [self.podman, "kill", f"--signal={signal_name}", name],
                env=podman_environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def inspect(self, names: Sequence[str]) -> Future[dict[str, Inspection]]:
        """podman's record of each container (for ``judge_end``), asked on a thread of the runner's own, in one
        podman call for all: 20 containers ending at once take one call's time, not twenty."""
        return self._podman_calls.submit(self._inspect, list(names))

    def _inspect(self, names: list[str]) -> dict[str, Inspection]:
        try:
            answer = subprocess.run(
                [self.podman, "container", "inspect", *names],
                env=podman_environment(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return {name: Inspection(None, stderr=f"{type(error).__name__}: {error}") for name in names}
        return inspections_by_name(names, Inspection(answer.returncode, answer.stdout, answer.stderr))

    def remove(self, names: Sequence[str]) -> Future[None]:
        """Remove containers whose end has been read, on the runner's thread; ``remove_all`` sweeps the rest."""
        with self._watch_lock:
            self._watched.difference_update(names)  # their cgroups are gone: no more OOM counts to read
        return self._podman_calls.submit(self._remove, list(names))

    def _remove(self, names: list[str]) -> None:
        # One call for all; podman prints each name it removed. podman 4.3's `rm --force` removes none of them,
        # says nothing and exits 0 when one of the names is not there (a container that was never created):
        # then each of those it did not name is removed on its own.
        removed = self._rm(names)
        for name in names:
            if name not in removed and len(names) > 1:
                self._rm([name])

    def _rm(self, names: list[str]) -> set[str]:
        try:
            done = subprocess.run(
                [self.podman, "rm", "--force", "--time=0", *names],
                env=podman_environment(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired):
            return set()  # remove_all sweeps it at the end
        return set(done.stdout.split())

    def _reap(self) -> None:
        self._signallers = [p for p in self._signallers if p.poll() is None]

    def remove_all(self) -> None:
        """Remove every container this runtime started (by its label), running or not.

        The runner's own podman calls end first (those not begun are dropped): the sweep comes after the
        last ``podman rm``, and no inspect or rm runs on once the runtime is gone."""
        self._podman_calls.shutdown(wait=True, cancel_futures=True)
        remove_labelled(self.run_id, self.podman)
        for signaller in self._signallers:
            try:
                signaller.wait(timeout=10)
            except subprocess.TimeoutExpired:
                signaller.kill()
        self._signallers = []
        self._watching.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        shutil.rmtree(self._cid_dir, ignore_errors=True)


def labelled(run_id: str, podman: str = "podman") -> list[str]:
    """Ids of the containers (running or not) one runtime started."""
    listed = subprocess.run(
        [podman, "ps", "--all", "--quiet", "--filter", f"label={LABEL}={run_id}"],
        env=podman_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return listed.stdout.split()


def remove_labelled(run_id: str, podman: str = "podman") -> None:
    ids = labelled(run_id, podman)
    if ids:
        subprocess.run(
            [podman, "rm", "--force", "--time=0", *ids], env=podman_environment(), capture_output=True, timeout=120
        )
