"""Benchmarks: our EcsFargateExecutor side by side with Airflow's own AwsEcsExecutor (``make bench``).

One emulated ECS endpoint for both (benchmarks/gateway.py: moto in its own process, behind a gateway that
adds a fixed latency to every call, throttles RunTask like ECS and counts calls per action). Each executor
runs in its own fresh process (``--worker``), driven the same way: ``queue_workload(workload, session=None)``
and ``heartbeat()`` in a loop, as Airflow's scheduler does, with a freshly reset moto each time.

Scenarios (``--scenario NAME``, repeatable; all by default):
  burst       500 tasks queued at once, 100 ms per AWS call, RunTask 20/s burst 100
  throttled   1,000 tasks queued at once, 10 ms per call (so a serial caller can outrun 20/s), same bucket
  steady      2,000 running tasks, nothing changes, heartbeat every 5 s: AWS calls per heartbeat
  completion  10 of 1,000 running tasks stop (their events are published): time until Airflow sees them
  memory      scheduler-process RSS growth while tracking 2,000 tasks
  burst2000   2,000 tasks queued at once, 100 ms per call: heartbeat p99 and longest, launch latency p50/p99
  tracked10k  the same burst of 2,000 while 10,000 launched tasks are tracked (ours only: see docs);
              scheduler memory per tracked task
  running10k  as tracked10k with the 10,000 RUNNING to us: AWS calls per quiet heartbeat, memory per
              RUNNING task (ours only: see docs)
  (shared_limit.py: 2 and 4 schedulers launching at once against one account's RunTask limit)

``--executor ours_gcfreeze`` is ours with ``gc.freeze()`` called right after ``start()``.

Writes benchmarks/results/<scenario>.json and prints a table. Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

from devtools.airflow_stack import free_port  # noqa: E402 - after the path set-up above

# The ECS limits the gateway emulates (and the figure a launch is judged against).
RATE, BURST = 20.0, 100
EXECUTORS = ("ours", "theirs")
VARIANTS = ("ours_gcfreeze",)  # run only when asked for (--executor)
THEIR_CONN_ID = "bench_aws"

SCENARIOS: dict[str, dict[str, Any]] = {
    "burst": {"kind": "launch", "tasks": 500, "latency_ms": 100, "timeout": 180},
    "throttled": {"kind": "launch", "tasks": 1000, "latency_ms": 10, "timeout": 180},
    "steady": {"kind": "steady", "tasks": 2000, "latency_ms": 100, "interval": 5.0, "heartbeats": 12},
    "completion": {"kind": "completion", "tasks": 1000, "stop": 10, "latency_ms": 100, "interval": 5.0},
    "memory": {"kind": "memory", "tasks": 2000},
    "burst2000": {"kind": "launch", "tasks": 2000, "latency_ms": 100, "timeout": 300},
    # Launched (not made RUNNING: moto's DescribeTasks at 10,000 tasks would be what is measured) and tracked.
    "tracked10k": {
        "kind": "loaded",
        "tracked": 10000,
        "tasks": 2000,
        "latency_ms": 100,
        "timeout": 300,
        "executors": ("ours",),
    },  # ours_gcfreeze was measured once (docs/benchmarks.md): --executor
    # The same with the 10,000 RUNNING to us, learnt as steady learns its 2,000 (a reconciliation sweep asked
    # for at once), moto's DescribeTasks answered by ARN (gateway.py). Ours only: theirs' set-up (10,000 RunTask
    # calls one at a time in one heartbeat, traced) did not end within the worker's 15 minutes (2026-12-02), and
    # at every quiet heartbeat it would describe all 10,000 (100 DescribeTasks of 100).
    "running10k": {
        "kind": "loaded",
        "tracked": 10000,
        "running": True,
        "tasks": 2000,
        "latency_ms": 100,
        "timeout": 300,
        "executors": ("ours",),
    },
    # Driven by shared_limit.py: several of these at once, each told when to queue.
    "shared": {"kind": "shared", "tasks": 500, "latency_ms": 100, "timeout": 600, "hidden": True},
}


# --- talking to the gateway ---


def call(url: str, body: dict[str, Any] | None = None) -> Any:
    with urllib.request.urlopen(url, data=json.dumps(body or {}).encode(), timeout=120) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def start_gateway(moto_describe: bool = False) -> tuple[subprocess.Popen, str, str]:
    """moto plus the gateway in their own process: in this one they would compete for the measured GIL.
    ``moto_describe``: DescribeTasks by moto's own scan instead of the gateway's lookup by ARN (gateway.py)."""
    port, admin_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gateway.py"),
            "--port",
            str(port),
            "--admin-port",
            str(admin_port),
            *(["--moto-describe"] if moto_describe else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gateway, admin = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            call(f"{gateway}/_bench/counts")
            call(f"{admin}/moto-api/reset")
            return process, gateway, admin
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the benchmark gateway (benchmarks/gateway.py) did not start") from None
            time.sleep(0.2)


def fresh_world(gateway: str, admin: str) -> dict[str, Any]:
    """An empty moto with the cluster, task definition, network and an events queue, made on the admin port."""
    from devtools import aws_fixtures as aws

    call(f"{admin}/moto-api/reset")
    call(f"{gateway}/_bench/forget")
    # Tasks change state only when the harness says so, never at a DescribeTasks.
    call(
        f"{admin}/moto-api/state-manager/set-transition",
        {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**12}},
    )
    world = aws.provision(admin)
    world["admin"] = admin
    world["queue_url"] = aws.client(admin, "sqs").create_queue(QueueName="bench-task-events")["QueueUrl"]
    return world


# --- the executors, configured from the environment as a scheduler's would be ---


def worker_env(executor: str, gateway: str, world: dict[str, Any], spec: dict[str, Any], home: str) -> dict[str, str]:
    from devtools import aws_fixtures as aws

    env = {
        **os.environ,
        "AIRFLOW_HOME": home,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": aws.REGION,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    if executor.startswith("ours"):
        # As `airflow-ecs render` configures it: with the events queue Terraform creates.
        extra = {"events_queue_url": world["queue_url"]}
        if spec["kind"] in ("steady", "completion", "memory", "loaded"):
            # These scenarios measure tracking, not launching: set-up launches as fast as moto takes them.
            extra.update(launch_rate="1000", launch_burst="5000")
        env.update(aws.env_for(gateway, world, **extra))
    else:
        keys = {
            "region_name": aws.REGION,
            "cluster": aws.CLUSTER,
            "container_name": aws.CONTAINER,
            "task_definition": aws.FAMILY,
            "launch_type": "FARGATE",
            "subnets": ",".join(world["subnets"]),
            "security_groups": world["security_group"],
            "conn_id": THEIR_CONN_ID,
            "check_health_on_startup": "True",
        }
        env.update({f"AIRFLOW__AWS_ECS_EXECUTOR__{k.upper()}": v for k, v in keys.items()})
        env[f"AIRFLOW_CONN_{THEIR_CONN_ID.upper()}"] = json.dumps(
            {"conn_type": "aws", "extra": {"endpoint_url": gateway, "region_name": aws.REGION}}
        )
    return env


def make_executor(executor: str, parallelism: int) -> Any:
    if executor.startswith("ours"):
        from airflow_ecs.executor import EcsFargateExecutor

        return EcsFargateExecutor(parallelism=parallelism)
    from airflow.providers.amazon.aws.executors.ecs.ecs_executor import AwsEcsExecutor

    return AwsEcsExecutor(parallelism=parallelism)


# Where heartbeat() spends its time, per executor: the methods its sync() is made of.
PHASES = {
    "ours": (
        "_emit_metrics",
        "trigger_tasks",
        "_process_workloads",
        "sync",
        "_drain_results",
        "_build_pending",
        "_build_and_submit",
        "_apply_result",
        "_run",
        "_flush_event_deletes",
        "_save_task_event_logs",
    ),
    "ours_gcfreeze": (),  # filled in below: the same as ours
    "theirs": ("_emit_metrics", "trigger_tasks", "sync", "sync_running_workloads", "attempt_workload_runs"),
}


PHASES["ours_gcfreeze"] = PHASES["ours"]


# --- the driver: what a scheduler does, with a stopwatch ---


class Driver:
    def __init__(self, name: str, executor: Any, gateway: str):
        self.name, self.executor, self.gateway = name, executor, gateway
        self.beats: list[float] = []
        self.beat_phases: list[dict[str, float]] = []
        self._phases: dict[str, float] = {}
        self._longest: dict[str, float] = {}  # per phase, its longest single call in this heartbeat
        self.beat_longest: list[dict[str, float]] = []
        self.launched: dict[Any, float] = {}  # key -> when the executor first reported its task ARN
        self.arn_to_key: dict[str, Any] = {}
        self.running: dict[Any, float] = {}
        self.done: dict[Any, tuple[str, float]] = {}
        self.queued_at: dict[Any, float] = {}  # key -> perf_counter() at queue_workload
        self.sent_at: dict[Any, float] = {}  # key -> perf_counter() when its first RunTask was sent (ours)
        for phase in PHASES[name]:
            self._time_phase(phase)
        # Garbage collections that happen inside a heartbeat count against it: record them as a phase too.
        self._gc_started: float | None = None
        gc.callbacks.append(self._on_gc)
        if name.startswith("ours"):
            self._time_sends()

    def _time_sends(self) -> None:
        """From queue_workload to RunTask sent: note when a launch thread hands each request to botocore."""
        launcher = self.executor._launcher
        submit, send = launcher.submit, launcher._call
        owner: dict[int, Any] = {}

        def submitted(key: Any, request: Any, launch: int) -> None:
            owner[id(request)] = key[0] if isinstance(key, tuple) else key
            submit(key, request, launch)

        def sending(request: Any) -> Any:
            key = owner.get(id(request))
            if key is not None:
                self.sent_at.setdefault(key, time.perf_counter())
            return send(request)

        launcher.submit, launcher._call = submitted, sending

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            name = f"gc_gen{info.get('generation')}"
            self._phases[name] = self._phases.get(name, 0.0) + time.perf_counter() - self._gc_started
            self._gc_started = None

    def _time_phase(self, phase: str) -> None:
        method = getattr(self.executor, phase)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                took = time.perf_counter() - t0
                self._phases[phase] = self._phases.get(phase, 0.0) + took
                self._longest[phase] = max(self._longest.get(phase, 0.0), took)

        setattr(self.executor, phase, timed)

    def queue(self, count: int) -> None:
        from airflow.executors.workloads import BundleInfo, ExecuteTask, TaskInstanceDTO

        run = uuid.uuid4().hex[:8]
        for i in range(count):
            ti = TaskInstanceDTO(
                id=uuid.uuid4(),
                dag_id="bench",
                task_id=f"t{i}",
                run_id=run,
                try_number=1,
                map_index=-1,
                pool_slots=1,
                queue="default",
                priority_weight=1,
                dag_version_id=uuid.uuid4(),
            )
            workload = ExecuteTask(
                ti=ti,
                dag_rel_path="bench.py",
                token="t",
                log_path="l",
                bundle_info=BundleInfo(name="dags-folder", version=None),
            )
            self.queued_at[workload.ti.key] = time.perf_counter()
            self.executor.queue_workload(workload, session=None)

    def beat(self) -> float:
        self._phases, self._longest = {}, {}
        t0 = time.perf_counter()
        self.executor.heartbeat()
        took = time.perf_counter() - t0
        self.beats.append(took)
        self.beat_phases.append(self._phases)
        self.beat_longest.append(self._longest)
        now = time.time()
        # What the scheduler reads back: the ARN (external executor id), RUNNING, and final states.
        for key, (state, info) in self.executor.get_event_buffer().items():
            state = str(getattr(state, "value", state))
            if isinstance(info, str) and info.startswith("arn:") and key not in self.launched:
                self.launched[key] = now
                self.arn_to_key[info] = key
            if state == "running":
                self.running.setdefault(key, now)
            elif state in ("success", "failed"):
                self.done.setdefault(key, (state, now))
        return took

    def loop_until(self, done: Callable[[], bool], timeout: float, pause: float = 0.05) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.beat()
            if done():
                return True
            time.sleep(pause)
        return False

    def settings(self, **settings: Any) -> None:
        call(f"{self.gateway}/_bench/settings", settings)

    def counts(self) -> dict[str, int]:
        return call(f"{self.gateway}/_bench/counts")

    def slowest(self, since: int = 0) -> dict[str, Any]:
        """The longest heartbeat from index ``since`` on, with where its time went."""
        index = max(range(since, len(self.beats)), key=self.beats.__getitem__)
        beats = sorted(self.beats[since:])
        gen2 = [p.get("gc_gen2", 0.0) for p in self.beat_phases[since:]]
        top = sorted(range(since, len(self.beats)), key=self.beats.__getitem__)[-5:][::-1]
        return {
            "max_heartbeat_ms": ms(self.beats[index]),
            "slowest_heartbeat_index": index,
            "slowest_5_heartbeats": [
                {
                    "index": i,
                    "ms": ms(self.beats[i]),
                    "phases_ms": {k: ms(v) for k, v in self.beat_phases[i].items() if v >= 0.0005},
                }
                for i in top
            ],
            "p99_heartbeat_ms": ms(percentile(beats, 99)),
            "p50_heartbeat_ms": ms(percentile(beats, 50)),
            "heartbeats_with_gen2_gc": sum(1 for g in gen2 if g),
            "longest_gen2_gc_in_heartbeat_ms": ms(max(gen2, default=0)),
            "slowest_heartbeat_phases_ms": {k: ms(v) for k, v in self.beat_phases[index].items() if v >= 0.0005},
            "slowest_heartbeat_longest_call_ms": {k: ms(v) for k, v in self.beat_longest[index].items() if v >= 0.0005},
        }


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 for none)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(len(ordered) * p / 100) - 1))]


def latencies(driver: Driver) -> dict[str, Any]:
    """Launch latency per task: to RunTask sent (ours), and to the ARN in the event buffer (both)."""
    out: dict[str, Any] = {}
    for name, points in (("sent", driver.sent_at), ("arn_reported", None)):
        if points is None:
            # The event buffer is read after each heartbeat on wall-clock time; queued_at is perf_counter.
            offset = time.time() - time.perf_counter()
            points = {k: t - offset for k, t in driver.launched.items()}
        values = sorted(points[k] - driver.queued_at[k] for k in points if k in driver.queued_at)
        if values:
            out[f"launch_latency_{name}_p50_s"] = round(percentile(values, 50), 3)
            out[f"launch_latency_{name}_p99_s"] = round(percentile(values, 99), 3)
    return out


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def give_back_freed_memory() -> bool:
    """Collect, then ask glibc's malloc to return the freed pages of its heap to the OS (``malloc_trim(0)``).

    RSS keeps the allocator's high-water mark: pages freed inside the heap stay counted until malloc gives them
    back, which it does only at the heap's top unless asked. A set-up that launches at 1,000/s (and traces every
    allocation with tracemalloc) peaks far above what stays live; trimming measures what the scheduler keeps, not
    that peak. False where there is no glibc (the figure is then the untrimmed RSS).
    """
    import ctypes
    import ctypes.util

    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return False
    trim(0)
    return True


# --- scenarios, run inside a worker process ---


def launch(driver: Driver, spec: dict[str, Any], world: dict[str, Any]) -> dict[str, Any]:
    tasks = spec["tasks"]
    driver.settings(latency_ms=spec["latency_ms"], throttle=True, rate=RATE, burst=BURST)
    start = time.time()
    driver.queue(tasks)
    finished = driver.loop_until(lambda: len(driver.launched) + len(driver.done) >= tasks, spec["timeout"])
    counts = driver.counts()
    allowed = max(tasks - BURST, 0) / RATE
    last = max(driver.launched.values(), default=start)
    seconds = last - start
    run_task = counts.get("ecs.RunTask", 0)
    throttled = counts.get("ecs.RunTask.throttled", 0)
    return {
        "tasks": tasks,
        "latency_ms": spec["latency_ms"],
        "launched": len(driver.launched),
        "failed": sum(1 for state, _ in driver.done.values() if state == "failed"),
        "finished_within_timeout": finished,
        "timeout_s": spec["timeout"],
        "seconds_to_launch_all": round(seconds, 2),
        "rate_limit_allows_seconds": round(allowed, 2),
        "throughput_vs_limit": round(allowed / seconds, 3) if seconds and len(driver.launched) == tasks else None,
        "run_task_calls": run_task,
        "run_task_throttled": throttled,
        "throttled_fraction": round(throttled / run_task, 4) if run_task else 0.0,
        "heartbeats": len(driver.beats),
        **driver.slowest(),
        **latencies(driver),
        "aws_calls": counts,
    }


def track(driver: Driver, spec: dict[str, Any], world: dict[str, Any], *, running: bool = True) -> dict[str, Any]:
    """Set-up shared by steady, completion and memory: ``tasks`` launched and (``running``) seen RUNNING.

    Launched with no latency and no throttling (the launch is not what these scenarios measure). The tasks
    then become RUNNING in moto without events: moto's SQS takes minutes for 2,000 messages on this
    machine (about 0.8 s a ReceiveMessage), which would measure moto. Airflow's executor sees RUNNING at its
    next DescribeTasks; ours at a reconciliation sweep, asked for at once (``STALE_PENDING_SECONDS`` = 0
    and the next sweep due now) instead of a minute later. Set-up is not measured.
    """
    tasks = spec["tasks"]
    driver.settings(latency_ms=0, throttle=False)
    t0 = time.perf_counter()
    driver.queue(tasks)
    if not driver.loop_until(lambda: len(driver.launched) >= tasks, 600):
        raise RuntimeError(f"set-up: only {len(driver.launched)} of {tasks} tasks launched in 600 s")
    if not running:
        return {"setup_seconds": round(time.perf_counter() - t0, 1), "setup_aws_calls": driver.counts()}
    launched = time.perf_counter() - t0
    call(f"{driver.gateway}/_bench/running", {"cluster": world["cluster"], "queue_url": ""})
    learning = time.perf_counter()
    if driver.name.startswith("ours"):
        import airflow_ecs.core.tracking as ours

        stale, ours.STALE_PENDING_SECONDS = ours.STALE_PENDING_SECONDS, 0.0
        driver.executor.tasks.sweep_now()
    if not driver.loop_until(lambda: len(driver.running) >= tasks, 300, pause=0.2):
        raise RuntimeError(f"set-up: only {len(driver.running)} of {tasks} tasks seen RUNNING in 300 s")
    learnt = time.perf_counter() - learning
    # What the gateway's lookup by ARN answered in moto's place (the settings above reset the count).
    indexed = call(f"{driver.gateway}/_bench/indexed")
    if driver.name.startswith("ours"):
        ours.STALE_PENDING_SECONDS = stale
    # Steady means nothing left in flight: every published event received, applied and deleted.
    drained = driver.loop_until(lambda: queued_events(world) == 0, 300, pause=0.2)
    for _ in range(5):  # and any sweep or delete in flight finished
        driver.beat()
        time.sleep(0.2)
    setup_events = {"events_drained": drained, "events_left": queued_events(world)}
    return {
        "setup_seconds": round(time.perf_counter() - t0, 1),
        "setup_launch_seconds": round(launched, 1),
        "setup_seconds_until_all_seen_running": round(learnt, 1),
        "setup_describe_tasks_answered_by_arn": indexed,
        "setup_aws_calls": driver.counts(),
        **setup_events,
    }


@functools.cache
def admin_client(admin: str, service: str) -> Any:
    """The driver's own client on the admin port, made once per worker. boto3's first client creates boto3's default
    session, whose loader keeps the service model, endpoints and rules it read (7.8 MB) for the life of the
    process: made inside the traced set-up (running10k's drain check, until 2026-12-02), that one-time cost of the
    driver's was counted as the executor's, 780 bytes per task at 10,000 (docs/benchmarks.md, round 4)."""
    from devtools import aws_fixtures as aws

    return aws.client(admin, service)


def queued_events(world: dict[str, Any]) -> int:
    """Messages in the events queue, visible or received and not yet deleted (asked on the admin port)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = admin_client(world["admin"], "sqs").get_queue_attributes(
        QueueUrl=world["queue_url"], AttributeNames=names
    )["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def steady(driver: Driver, spec: dict[str, Any], world: dict[str, Any]) -> dict[str, Any]:
    setup = track(driver, spec, world)
    driver.settings(latency_ms=spec["latency_ms"], throttle=True, rate=RATE, burst=BURST)
    first = len(driver.beats)
    window = time.perf_counter()
    for _ in range(spec["heartbeats"]):
        t0 = time.perf_counter()
        driver.beat()
        time.sleep(max(0.0, spec["interval"] - (time.perf_counter() - t0)))
    window = time.perf_counter() - window
    counts = driver.counts()
    total = sum(v for k, v in counts.items() if not k.endswith(".throttled"))
    beats = driver.beats[first:]
    return {
        "tasks": spec["tasks"],
        "latency_ms": spec["latency_ms"],
        "heartbeat_interval_s": spec["interval"],
        "heartbeats": len(beats),
        "window_seconds": round(window, 1),
        "aws_calls_per_heartbeat": round(total / len(beats), 2),
        "aws_calls": counts,
        "describe_tasks_per_heartbeat": round(counts.get("ecs.DescribeTasks", 0) / len(beats), 2),
        "mean_heartbeat_ms": ms(sum(beats) / len(beats)),
        **driver.slowest(first),
        **setup,
    }


def completion(driver: Driver, spec: dict[str, Any], world: dict[str, Any]) -> dict[str, Any]:
    setup = track(driver, spec, world)
    driver.settings(latency_ms=spec["latency_ms"], throttle=True, rate=RATE, burst=BURST)
    driver.beat()
    first = len(driver.beats)
    # Right after a heartbeat: the worst moment, a whole interval before the next one.
    stopped = call(
        f"{driver.gateway}/_bench/stop",
        {"cluster": world["cluster"], "queue_url": world["queue_url"], "count": spec["stop"]},
    )
    keys = [driver.arn_to_key[arn] for arn in stopped["arns"]]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(k in driver.done for k in keys):
        time.sleep(max(0.0, spec["interval"] - driver.beats[-1]))
        driver.beat()
    seen = [driver.done[k][1] for k in keys if k in driver.done]
    counts = driver.counts()
    beats = driver.beats[first:]
    return {
        "tasks": spec["tasks"],
        "stopped": len(keys),
        "seen_final": len(seen),
        "states": sorted({driver.done[k][0] for k in keys if k in driver.done}),
        "latency_ms": spec["latency_ms"],
        "heartbeat_interval_s": spec["interval"],
        "seconds_event_to_all_seen": round(max(seen) - stopped["published_at"], 2) if seen else None,
        "heartbeats_after_event": len(beats),
        "aws_calls_meanwhile": counts,
        "mean_heartbeat_ms": ms(sum(beats) / len(beats)) if beats else None,
        **setup,
    }


def memory(driver: Driver, spec: dict[str, Any], world: dict[str, Any]) -> dict[str, Any]:
    gc.collect()
    before = rss_mib()
    setup = track(driver, spec, world, running=False)
    gc.collect()
    after = rss_mib()
    return {
        "tasks": spec["tasks"],
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
        "rss_growth_mib": round(after - before, 1),
        **setup,
    }


def loaded(driver: Driver, spec: dict[str, Any], world: dict[str, Any]) -> dict[str, Any]:
    """``tracked`` tasks launched and tracked, then a burst of ``tasks`` queued at once, as ``launch``.

    tracked10k: the tracked tasks stay as launched (PENDING to us). running10k (``running``): they are made
    RUNNING and each executor learns it as in steady (a DescribeTasks of each, answered by ARN in the gateway:
    moto's own scan of 10,000 stored tasks per ARN asked is what would be measured otherwise). So that tasks
    still PENDING to us are not swept as stale (a DescribeTasks of each after 60 s without news) during the
    burst, the stale-pending sweep is held off for the run. Memory per tracked task: tracemalloc over the set-up
    and RSS growth, each / ``tracked``.
    """
    import tracemalloc

    import airflow_ecs.core.tracking as ours

    ours.STALE_PENDING_SECONDS = 10**9
    admin_client(world["admin"], "sqs")  # the driver's one-time cost (boto3's default session): not traced
    give_back_freed_memory()
    before = rss_mib()
    # tracemalloc over the set-up: the bytes still allocated after it, by where they were allocated (set-up
    # only: tracing slows every allocation, so it is off again before anything is timed). --trace-frames N keeps
    # N frames per allocation (slower still) and adds the largest tracebacks by the innermost frame of ours.
    frames = int(option("--trace-frames", "1"))
    tracemalloc.start(frames)
    traced_before = tracemalloc.take_snapshot()
    setup = track(driver, {**spec, "tasks": spec["tracked"]}, world, running=spec.get("running", False))
    gc.collect()
    traced_after = tracemalloc.take_snapshot()
    traced = traced_by_package(traced_after.compare_to(traced_before, "filename"))
    where = (
        traced_by_our_frame(traced_after.compare_to(traced_before, "traceback"), spec["tracked"]) if frames > 1 else {}
    )
    if option("--trace-dump", ""):
        traced_after.dump(option("--trace-dump", ""))  # to read with tracemalloc.Snapshot.load
    del traced_before, traced_after
    tracemalloc.stop()
    gc.collect()
    after = rss_mib()
    trimmed = give_back_freed_memory()
    after_trim = rss_mib()
    quiet = quiet_heartbeats(driver, spec)
    memory_figures = {
        "tracked": spec["tracked"],
        "rss_growth_tracked_mib": round(after - before, 1),
        "rss_bytes_per_tracked_task": None,  # below, less the driver's records
        "bytes_per_tracked_task": round(sum(v for k, v in traced.items() if k != "benchmark driver") / spec["tracked"]),
        "traced_bytes_per_tracked_task_by_package": {k: round(v / spec["tracked"]) for k, v in traced.items()},
        **({"traced_bytes_per_tracked_task_by_our_frame": where} if where else {}),
    }
    # The driver's own records of the set-up's tasks live in this process too: not the executor's memory.
    bookkeeping = deep_size([driver.launched, driver.arn_to_key, driver.queued_at, driver.sent_at, driver.done])
    driver.launched.clear()
    driver.queued_at.clear()
    driver.sent_at.clear()
    driver.beats.clear()
    driver.beat_phases.clear()
    driver.beat_longest.clear()
    growth = (after - before) * 2**20 - bookkeeping
    memory_figures["rss_bytes_per_tracked_task"] = round(growth / spec["tracked"])
    memory_figures["driver_bookkeeping_mib"] = round(bookkeeping / 2**20, 1)
    growth_trimmed = (after_trim - before) * 2**20 - bookkeeping
    memory_figures["rss_growth_tracked_after_trim_mib"] = round(after_trim - before, 1) if trimmed else None
    memory_figures["rss_bytes_per_tracked_task_after_trim"] = (
        round(growth_trimmed / spec["tracked"]) if trimmed else None
    )
    # The set-up launched at 1,000/s; the burst is measured with the defaults, as configured in production.
    from airflow_ecs.aws.rate_limit import TokenBucket
    from airflow_ecs.core.config import FARGATE_LAUNCH_BURST, FARGATE_LAUNCH_RATE

    driver.executor._launcher._bucket = TokenBucket(FARGATE_LAUNCH_RATE, FARGATE_LAUNCH_BURST)
    result = launch(driver, spec, world)
    return {**result, **memory_figures, **quiet, **setup}


def traced_by_package(stats: list[Any]) -> dict[str, int]:
    """tracemalloc's size differences grouped by who allocated: our package, Airflow, botocore and the rest,
    and the benchmark driver itself (its records of the tasks, not the scheduler's memory). By the innermost
    frame (a traceback runs from the oldest frame to the most recent); with several frames (--trace-frames),
    what the driver allocated through a library (boto3, json) with no frame of ours or Airflow's in between is
    the driver's too. With one frame that cannot be told: it counts as the library's, i.e. as the executor's."""
    groups: dict[str, int] = {}
    for stat in stats:
        name = stat.traceback[-1].filename.replace("\\", "/")
        caller = next(
            (
                f.filename.replace("\\", "/")
                for f in reversed(list(stat.traceback))
                if any(part in f.filename.replace("\\", "/") for part in ("/benchmarks/", "/airflow_ecs/", "/airflow/"))
            ),
            "",
        )
        if "/benchmarks/" in name or "/benchmarks/" in caller:
            group = "benchmark driver"
        elif "/airflow_ecs/" in name:
            group = "airflow_ecs"
        elif "/airflow/" in name:
            group = "airflow"
        elif any(f"/{lib}/" in name for lib in ("botocore", "boto3", "urllib3", "s3transfer")):
            group = "botocore"
        else:
            group = "other (stdlib, pydantic, ...)"
        groups[group] = groups.get(group, 0) + stat.size_diff
    return dict(sorted(groups.items()))


def traced_by_our_frame(stats: list[Any], tracked: int, top: int = 15) -> dict[str, Any]:
    """Bytes per tracked task still allocated after the set-up, by the innermost frame in our code or the
    benchmark's (``file:line``) and the innermost frame of all (what allocated it), the ``top`` largest: where
    a per-task cost comes from when the allocating frame is the standard library's or another package's."""
    groups: dict[tuple[str, str], list[int]] = {}
    for stat in stats:
        frames = list(stat.traceback)
        ours = next(
            (f for f in reversed(frames) if "/airflow_ecs/" in f.filename or "/benchmarks/" in f.filename), None
        )
        key = (
            f"{ours.filename.rsplit('/', 2)[-2]}/{ours.filename.rsplit('/', 1)[-1]}:{ours.lineno}"
            if ours
            else "(none of ours)",
            f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}",
        )
        entry = groups.setdefault(key, [0, 0])
        entry[0] += stat.size_diff
        entry[1] += stat.count_diff
    largest = sorted(groups.items(), key=lambda item: -item[1][0])[:top]
    return {
        f"{ours} <- {allocated}": {"bytes": round(size / tracked), "blocks": round(count / tracked, 2)}
        for (ours, allocated), (size, count) in largest
    }


def option(name: str, default: str) -> str:
    """A worker's pass-through option (``--trace-frames 25``), as the orchestrator gave it."""
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def quiet_heartbeats(driver: Driver, spec: dict[str, Any]) -> dict[str, Any]:
    """With every tracked task quiet (no event, nothing due): AWS calls and time per heartbeat, 100 ms a call,
    heartbeats 5 s apart for a minute (one reconciliation sweep falls in it)."""
    driver.settings(latency_ms=spec["latency_ms"], throttle=True, rate=RATE, burst=BURST)
    counted = driver.counts()
    first = len(driver.beats)
    for _ in range(12):
        t0 = time.perf_counter()
        driver.beat()
        time.sleep(max(0.0, 5.0 - (time.perf_counter() - t0)))
    calls = {k: v - counted.get(k, 0) for k, v in driver.counts().items() if v != counted.get(k, 0)}
    beats = sorted(driver.beats[first:])
    # The gateway's own time answering DescribeTasks (moto's serializer): inside theirs' heartbeats, not theirs.
    indexed = call(f"{driver.gateway}/_bench/indexed")
    return {
        "quiet_describe_tasks_answered_by_arn": indexed,
        "quiet_gateway_seconds_per_heartbeat": round(indexed["seconds"] / len(beats), 3),
        "quiet_heartbeats": len(beats),
        "quiet_aws_calls": calls,
        "quiet_aws_calls_per_heartbeat": round(
            sum(v for k, v in calls.items() if not k.endswith(".throttled")) / len(beats), 2
        ),
        "quiet_max_heartbeat_ms": ms(beats[-1]),
        "quiet_p50_heartbeat_ms": ms(percentile(beats, 50)),
    }


def deep_size(root: Any) -> int:
    """Bytes of ``root`` and everything it holds (containers, keys, values), each object once."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
    return total


def shared(driver: Driver, spec: dict[str, Any], world: dict[str, Any]) -> dict[str, Any]:
    """One of several schedulers (shared_limit.py): says READY, waits for "go" on stdin, then launches.

    The gateway's settings (latency, the account's bucket) are the orchestrator's: set once for all."""
    tasks = spec["tasks"]
    print("READY", flush=True)
    sys.stdin.readline()
    start = time.time()
    driver.queue(tasks)
    finished = driver.loop_until(lambda: len(driver.launched) + len(driver.done) >= tasks, spec["timeout"])
    bucket = getattr(getattr(driver.executor, "_launcher", None), "_bucket", None)
    return {
        "tasks": tasks,
        "launched": len(driver.launched),
        "started_at": start,
        "last_launched_at": max(driver.launched.values(), default=start),
        "failed": sum(1 for state, _ in driver.done.values() if state == "failed"),
        "finished_within_timeout": finished,
        "heartbeats": len(driver.beats),
        "final_rate": round(bucket.rate, 2) if bucket is not None else None,
        "launched_per_second": per_second([t - start for t in driver.launched.values()]),
        **driver.slowest(),
        **latencies(driver),
    }


def per_second(offsets: list[float]) -> list[int]:
    """How many of ``offsets`` (seconds) fall in each whole second from 0: a timeline to read throughput from."""
    counts = [0] * (int(max(offsets, default=-1)) + 1)
    for offset in offsets:
        counts[max(0, int(offset))] += 1
    return counts


KINDS = {
    "launch": launch,
    "steady": steady,
    "completion": completion,
    "memory": memory,
    "loaded": loaded,
    "shared": shared,
}


def worker(scenario: str, executor_name: str, gateway: str, world: dict[str, Any]) -> dict[str, Any]:
    spec = SCENARIOS[scenario]
    from devtools import aws_fixtures as aws

    world = {**world, "cluster": aws.CLUSTER}
    for size in ("tasks", "tracked"):  # a smaller run, to try the harness out
        if size in spec and f"--{size}" in sys.argv:
            spec = {**spec, size: int(sys.argv[sys.argv.index(f"--{size}") + 1])}
    executor = make_executor(executor_name, parallelism=spec["tasks"] + spec.get("tracked", 0) + 10)
    executor.start()
    if executor_name == "ours_gcfreeze":
        # Everything start-up made (Airflow's imports, config, our template) out of the collector's reach:
        # a generation-2 collection then walks only what was made since.
        gc.collect()
        gc.freeze()
    driver = Driver(executor_name, executor, gateway)
    # One idle heartbeat first, as a scheduler's loop runs before any task is queued: the very first call
    # initialises Airflow's metrics in BaseExecutor._emit_metrics (about 30 ms here), for either executor.
    driver.beat()
    driver.beats.clear()
    driver.beat_phases.clear()
    driver.beat_longest.clear()
    try:
        return KINDS[spec["kind"]](driver, spec, world)
    finally:
        # The shared scenario's gateway settings and counts are the orchestrator's, read after every
        # scheduler is done; the next measurement starts from a reset moto, so nothing needs stopping.
        if spec["kind"] != "shared":
            # Not measured: without latency, so stopping what was launched takes seconds, not minutes.
            # Their terminate() waits for every task to stop and nothing here stops them: only ours is called.
            driver.settings(latency_ms=0, throttle=False)
            if executor_name.startswith("ours"):
                executor.terminate()


# --- the orchestrator ---


def run_worker(
    scenario: str, executor: str, gateway: str, admin: str, sizes: list[str], timeout: float = 900
) -> dict[str, Any]:
    world = fresh_world(gateway, admin)
    home = tempfile.mkdtemp(prefix="airflow-bench-")
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{scenario}-{executor}.log"
    try:
        with open(log_path, "w") as log:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    scenario,
                    "--executor",
                    executor,
                    "--gateway",
                    gateway,
                    "--world",
                    json.dumps(world),
                    *sizes,
                ],
                env=worker_env(executor, gateway, world, SCENARIOS[scenario], home),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                timeout=timeout,
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = log_path.read_text().splitlines()[-5:]
        return {"error": f"worker exited {done.returncode}; see {log_path.relative_to(REPO)}", "log_tail": tail}
    return json.loads(lines[-1])


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else ""
    )
    packages = {}
    for name in ("apache-airflow", "apache-airflow-providers-amazon", "airflow-ecs", "moto", "boto3"):
        try:
            packages[name] = version(name)
        except Exception:  # noqa: BLE001
            packages[name] = "not installed"
    return {
        "date": time.strftime("%Y-%m-%d"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "packages": packages,
    }


# Per scenario: (figure, its key in the result, lower is better?, our target as text)
FIGURES = {
    "burst": [
        ("longest heartbeat (ms)", "max_heartbeat_ms", True, "< 50 ms"),
        ("seconds to launch all 500", "seconds_to_launch_all", True, "<= 22 s (limit allows 20 s)"),
    ],
    "throttled": [
        ("tasks failed", "failed", True, "0"),
        ("RunTask calls throttled", "throttled_fraction", True, "< 5%"),
        ("throughput / limit", "throughput_vs_limit", False, ">= 0.95"),
        ("seconds to launch all 1,000", "seconds_to_launch_all", True, "limit allows 45 s"),
    ],
    "steady": [
        ("AWS calls per heartbeat", "aws_calls_per_heartbeat", True, "<= 1"),
        ("mean heartbeat (ms)", "mean_heartbeat_ms", True, ""),
    ],
    "completion": [
        ("seconds from event to all 10 seen", "seconds_event_to_all_seen", True, "within 1 heartbeat (5 s)"),
        ("heartbeats after the event", "heartbeats_after_event", True, "1"),
    ],
    "memory": [("RSS growth, 2,000 tasks (MiB)", "rss_growth_mib", True, "< 20 MB")],
    "burst2000": [
        ("longest heartbeat (ms)", "max_heartbeat_ms", True, "< 50 ms"),
        ("p99 heartbeat (ms)", "p99_heartbeat_ms", True, "< 20 ms"),
        ("queue_workload -> RunTask sent p50 (s)", "launch_latency_sent_p50_s", True, "reported"),
        ("queue_workload -> RunTask sent p99 (s)", "launch_latency_sent_p99_s", True, "reported"),
        ("queue_workload -> ARN reported p50 (s)", "launch_latency_arn_reported_p50_s", True, "reported"),
        ("queue_workload -> ARN reported p99 (s)", "launch_latency_arn_reported_p99_s", True, "reported"),
        ("seconds to launch all 2,000", "seconds_to_launch_all", True, "limit allows 95 s"),
    ],
    "tracked10k": [
        ("longest heartbeat (ms)", "max_heartbeat_ms", True, "< 50 ms"),
        ("p99 heartbeat (ms)", "p99_heartbeat_ms", True, "< 20 ms"),
        ("queue_workload -> RunTask sent p50 (s)", "launch_latency_sent_p50_s", True, "reported"),
        ("queue_workload -> RunTask sent p99 (s)", "launch_latency_sent_p99_s", True, "reported"),
        ("memory per tracked task, tracemalloc (bytes)", "bytes_per_tracked_task", True, "< 2 KB"),
        ("memory per tracked task, RSS (bytes)", "rss_bytes_per_tracked_task", True, "-"),
        ("memory per tracked task, RSS after malloc_trim (bytes)", "rss_bytes_per_tracked_task_after_trim", True, "-"),
        ("AWS calls per quiet heartbeat", "quiet_aws_calls_per_heartbeat", True, "<= 1"),
        ("longest quiet heartbeat (ms)", "quiet_max_heartbeat_ms", True, "-"),
    ],
}
FIGURES["running10k"] = [
    *FIGURES["tracked10k"],
    ("median quiet heartbeat (ms)", "quiet_p50_heartbeat_ms", True, "-"),
    ("set-up: seconds until all 10,000 seen RUNNING", "setup_seconds_until_all_seen_running", True, "-"),
]


def table(results: dict[str, dict[str, Any]]) -> str:
    variants = [v for v in VARIANTS if any(v in result for result in results.values())]
    rows = [("scenario", "figure", "ours", "theirs", "ours/theirs", "target (ours)", *variants)]
    for scenario, result in results.items():
        for label, key, _, target in FIGURES[scenario]:
            ours, theirs = (result.get(e, {}).get(key) for e in EXECUTORS)
            ratio = (
                f"{ours / theirs:.3g}"
                if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and theirs
                else "-"
            )
            rows.append(
                (
                    scenario,
                    label,
                    fmt(ours),
                    fmt(theirs),
                    ratio,
                    target,
                    *(fmt(result.get(v, {}).get(key)) for v in variants),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[k for k, v in SCENARIOS.items() if not v.get("hidden")],
        help="default: all of them",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS + VARIANTS,
        action="append",
        help="run only this executor (repeatable; default: ours and theirs)",
    )
    parser.add_argument("--tasks", type=int, help="override the scenario's task count (to try the harness out)")
    parser.add_argument("--tracked", type=int, help="override tracked10k's tracked count (likewise)")
    parser.add_argument(
        "--trace-frames",
        type=int,
        help="tracked10k/running10k: frames tracemalloc keeps per allocation (default 1); above 1 the result also "
        "gives the largest allocations per task by the innermost frame of ours (a slower set-up)",
    )
    parser.add_argument(
        "--worker-timeout",
        type=float,
        default=900,
        help="seconds one executor's run may take (default 900; a traced set-up of 10,000 with --trace-frames "
        "takes longer)",
    )
    parser.add_argument("--trace-dump", help="tracked10k/running10k: dump the set-up's tracemalloc snapshot here")
    parser.add_argument(
        "--moto-describe",
        action="store_true",
        help="DescribeTasks by moto's own scan of every stored task, not the gateway's lookup by ARN (to compare)",
    )
    parser.add_argument("--worker", choices=list(SCENARIOS), help=argparse.SUPPRESS)
    parser.add_argument("--gateway", help=argparse.SUPPRESS)
    parser.add_argument("--world", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.executor[0], args.gateway, json.loads(args.world))
        print(json.dumps(result), flush=True)
        return 0
    sizes = [
        *(["--tasks", str(args.tasks)] if args.tasks else []),
        *(["--tracked", str(args.tracked)] if args.tracked else []),
        *(["--trace-frames", str(args.trace_frames)] if args.trace_frames else []),
        *(["--trace-dump", str(Path(args.trace_dump).resolve())] if args.trace_dump else []),
    ]
    scenarios = args.scenario or [k for k, v in SCENARIOS.items() if not v.get("hidden")]
    executors = args.executor or list(EXECUTORS)
    about = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    process, gateway, admin = start_gateway(args.moto_describe)
    results: dict[str, dict[str, Any]] = {}
    try:
        for scenario in scenarios:
            results[scenario] = {"scenario": scenario, "spec": SCENARIOS[scenario], "machine": about}
            for executor in executors:
                if executor not in SCENARIOS[scenario].get("executors", EXECUTORS + VARIANTS):
                    results[scenario][executor] = {"not_run": "see docs/benchmarks.md"}
                    continue
                t0 = time.perf_counter()
                results[scenario][executor] = run_worker(scenario, executor, gateway, admin, sizes, args.worker_timeout)
                print(
                    f"{scenario:<11} {executor:<6} {time.perf_counter() - t0:6.1f}s  "
                    f"{json.dumps(results[scenario][executor])[:300]}",
                    flush=True,
                )
            (RESULTS / f"{scenario}.json").write_text(json.dumps(results[scenario], indent=2) + "\n")
    finally:
        process.terminate()
        process.wait(timeout=30)
    print()
    print(
        f"{about['date']}, {about['nproc']} x {about['cpu']}, Python {about['python']}, "
        + ", ".join(f"{k} {v}" for k, v in about["packages"].items())
    )
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
