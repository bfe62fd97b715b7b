"""The local ECS's container runtime: each task's container runs as a podman container of its image.

Where the process runtime runs the container's command with this venv's Python, this one runs the task
definition's image (the worker image ``make worker-image`` builds from docker/Dockerfile) with the command,
environment, secrets, memory and cpu limits as ECS gives them, behind an init process so StopTask's SIGTERM
reaches the task, and reports the container's own exit code. The decisions (podman's argv, the environment's
split, where a secret comes from, what an exit means) are pure functions; ``ContainerRunner`` is the thin
adapter that runs podman.

Every container carries the label ``airflow-ecs.local=<run id>`` of the runtime that started it, so the
runtime (and a test's teardown) removes exactly its own and no other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
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

    Attached (the output comes back on podman's stdout, for the awslogs stream), removed when it exits,
    never pulled (the image is local), on the host's network, with an init as PID 1 that passes SIGTERM on.
    The memory limit is a hard one without swap, as on Fargate, so going over it kills with exit 137.
    """
    argv = [podman, "run", "--rm", "--name", spec.name, "--pull=never", "--network=host", "--init"]
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


def judge_exit(code: int, *, stop_requested: bool, last_line: str) -> Exit:
    """What ``podman run``'s exit status means for the task.

    podman exits with the container's own code; 125 (podman's error), 126 (command not runnable) and 127
    (command not found) with an ``Error: ...`` line of podman's are a container that never started, which
    ECS reports as TaskFailedToStart (CannotPullContainerError when the image is missing). 137 is SIGKILL:
    ours after a stop's timeout, else the kernel's OOM killer. podman's inspect says OOMKilled=false even
    then on some hosts, so the exit code is the judge. (When the OOM killer takes another process of the
    container, not its main one, the runner sees it in the container's cgroup: ``ContainerRunner.oom_killed``.)
    """
    if code in (125, 126, 127) and last_line.startswith("Error: "):
        message = last_line[len("Error: ") :]
        kind = (
            "CannotPullContainerError"
            if "image not known" in message or "no such image" in message
            else "CannotStartContainerError"
        )
        return Exit(None, stop_code="TaskFailedToStart", stop_reason=f"{kind}: {message}")
    if code == 137 and not stop_requested:
        return Exit(137, container_reason=OOM_REASON)
    return Exit(code)


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
    """Runs and signals one runtime's containers with podman; removes them all at the end."""

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

    def _reap(self) -> None:
        self._signallers = [p for p in self._signallers if p.poll() is None]

    def remove_all(self) -> None:
        """Remove every container this runtime started (by its label), running or not."""
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
