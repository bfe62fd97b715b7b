"""The chaos run: real DAG runs through a real Airflow scheduler and the executor, with the fault layer in
front of the local ECS, Spot interruptions and killed containers from the harness, and one scheduler
SIGKILL + restart mid-run. Afterwards the invariants are counted and printed as figures.

``python -m tests.chaos.harness`` (``make chaos``): CHAOS_TASK_INSTANCES (default 1000), CHAOS_SEED,
CHAOS_TRACKING (events|polling), CHAOS_WORK_DIR. Exits 1 when an invariant is broken.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import math
import os
import random
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_ecs.local.faults import FaultPlan
from airflow_ecs.local.server import LocalEcs
from devtools.airflow_stack import AirflowStack
from devtools.local_deployment import local_deployment
from tests.e2e.workloads import workload_of

DAGS = Path(__file__).parent / "dags"
DAG_ID = "ecs_chaos"
FINAL = {"success", "failed", "skipped", "upstream_failed", "removed"}


def _dag_constants() -> dict[str, Any]:
    """The DAG's shape and right final states, read from its source: the harness does not import Airflow."""
    values = {}
    for node in ast.parse((DAGS / "ecs_chaos.py").read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("WORK_TASKS", "EXPECTED_STATES", "EXTRA_ATTEMPTS")
        ):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    # ``work`` is mapped WORK_TASKS times; every other task is one task instance per run.
    return {
        "expected": values["EXPECTED_STATES"],
        "extra_attempts": values["EXTRA_ATTEMPTS"],
        "per_run": values["WORK_TASKS"] + len(values["EXPECTED_STATES"]) - 1,
    }


def mixed_plan(seed: int = 0) -> FaultPlan:
    """Every fault at once, at rates where each kind shows up many times in a run of a few hundred tasks."""
    return FaultPlan(
        seed=seed,
        throttle=0.04,
        server_error=0.02,
        unavailable=0.02,
        reset_before=0.02,
        timeout_before=0.002,
        reset_after=0.03,
        timeout_after=0.003,
        server_error_after=0.02,
        capacity=0.05,
        describe_missing=0.1,
        missing_max_age=5.0,
        event_drop=0.05,
        event_duplicate=0.05,
        event_delay=0.05,
        event_delay_seconds=(1.0, 6.0),
    )


@dataclass
class ChaosSettings:
    work_dir: Path
    task_instances: int = 50
    seed: int = 0
    tracking: str = "events"  # or "polling"
    plan: FaultPlan | None = None
    spot_rate: float = 0.03  # share of running tasks Fargate Spot takes back
    crash_rate: float = 0.03  # share of running containers killed (exit 137)
    kill_scheduler_at: float | None = 0.4  # share of task instances final when the scheduler is SIGKILLed
    max_concurrent: int = 6
    timeout: float = 1800.0


@dataclass
class Figures:
    settings: dict[str, Any]
    seconds: float = 0.0
    task_instances: int = 0
    final: int = 0
    right_state: int = 0
    wrong_state: list[str] = field(default_factory=list)
    not_final: list[str] = field(default_factory=list)
    tries: int = 0
    ecs_tasks: int = 0
    tries_with_two_launches: list[str] = field(default_factory=list)
    tries_run_twice: list[str] = field(default_factory=list)
    tries_with_two_alive: list[str] = field(default_factory=list)
    tries_with_two_running: list[str] = field(default_factory=list)
    ecs_tasks_without_a_try: list[str] = field(default_factory=list)
    callbacks: int = 0
    callbacks_succeeded: int = 0
    callbacks_not_final: list[str] = field(default_factory=list)
    callbacks_failed_untouched: list[str] = field(default_factory=list)
    callbacks_run_twice: list[str] = field(default_factory=list)
    orphans_running_at_end: list[str] = field(default_factory=list)
    scheduler_kills: int = 0
    scheduler_crashes: list[str] = field(default_factory=list)
    spot_interruptions: int = 0
    containers_killed: int = 0
    faults: dict[str, Any] = field(default_factory=dict)
    event_faults: dict[str, Any] = field(default_factory=dict)
    executor_log: dict[str, int] = field(default_factory=dict)

    def violations(self) -> list[str]:
        checks = [
            ("task instances not in a final state", self.not_final),
            ("task instances in the wrong final state", self.wrong_state),
            ("tries with two ECS tasks alive at once", self.tries_with_two_alive),
            ("tries with two ECS tasks RUNNING at once", self.tries_with_two_running),
            ("tries whose container ran twice", self.tries_run_twice),
            ("ECS tasks no task instance try or callback owns", self.ecs_tasks_without_a_try),
            ("missed deadlines whose callback did not end", self.callbacks_not_final),
            ("callbacks failed though the harness left their ECS task alone", self.callbacks_failed_untouched),
            ("callbacks whose container ran twice", self.callbacks_run_twice),
            ("ECS tasks still running at the end (orphans)", self.orphans_running_at_end),
            ("scheduler exits not caused by the harness", self.scheduler_crashes),
        ]
        problems = [
            f"{name}: {len(items)} ({', '.join(items[:5])}{' ...' if len(items) > 5 else ''})"
            for name, items in checks
            if items
        ]
        if self.callbacks < self.settings["runs"]:
            problems.append(f"only {self.callbacks} deadline callbacks of {self.settings['runs']} runs")
        if self.task_instances < self.settings["task_instances"]:
            problems.append(
                f"only {self.task_instances} task instances were created of {self.settings['task_instances']}"
            )
        return problems

    def report(self) -> str:
        injected = self.faults.get("injected", {})
        lines = [
            (
                f"chaos run: {self.task_instances} task instances in {self.seconds:.0f}s, tracking by "
                f"{self.settings['tracking']}, seed {self.settings['seed']}"
            ),
            f"  final state                {self.final}/{self.task_instances}",
            f"  right final state          {self.right_state}/{self.task_instances}",
            f"  tries launched / ECS tasks {self.tries} / {self.ecs_tasks}",
            (
                f"  tries launched twice       {len(self.tries_with_two_launches)} (container ran twice: "
                f"{len(self.tries_run_twice)})"
            ),
            (
                f"  tries with 2 alive at once {len(self.tries_with_two_alive)} "
                f"(2 RUNNING: {len(self.tries_with_two_running)})"
            ),
            f"  ECS tasks without a try    {len(self.ecs_tasks_without_a_try)}",
            (
                f"  deadline callbacks         {self.callbacks_succeeded}/{self.callbacks} succeeded (not ended "
                f"{len(self.callbacks_not_final)}, failed untouched {len(self.callbacks_failed_untouched)}, "
                f"ran twice {len(self.callbacks_run_twice)})"
            ),
            f"  orphans left running       {len(self.orphans_running_at_end)}",
            f"  scheduler: killed by us {self.scheduler_kills}, exited by itself {len(self.scheduler_crashes)}",
            (
                f"  injected by the harness    Spot interruptions {self.spot_interruptions}, containers killed "
                f"{self.containers_killed}"
            ),
            f"  injected by the fault layer {sum(injected.values())} of {sum(self.faults.get('calls', {}).values())} "
            f"calls: " + ", ".join(f"{k} {v}" for k, v in sorted(injected.items())),
            (
                f"  clientToken replays        {self.faults.get('client_token_replays', 0)} (conflicts "
                f"{self.faults.get('client_token_conflicts', 0)})"
            ),
            "  events                     " + ", ".join(f"{k} {v}" for k, v in sorted(self.event_faults.items())),
            "  scheduler log              " + ", ".join(f"{k} {v}" for k, v in sorted(self.executor_log.items())),
        ]
        problems = self.violations()
        lines.append("INVARIANTS HOLD" if not problems else "INVARIANTS BROKEN:\n  " + "\n  ".join(problems))
        return "\n".join(lines)


class ChaosMonkey:
    """Decides once per ECS task, when it has run for a second: Spot takes it back, its container is
    killed, or it is left alone."""

    def __init__(self, local: LocalEcs, settings: ChaosSettings):
        self.local = local
        self.settings = settings
        self.rng = random.Random(settings.seed + 2)
        self.decided: set[str] = set()
        self.spot: list[str] = []
        self.killed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-monkey", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        runtime = self.local.runtime
        while not self._stop.wait(0.25):
            now = time.time()
            for arn, task in list(runtime.tasks.items()):
                started = getattr(task.moto_task, "started_at", None)
                if arn in self.decided or task.done or task.process is None or task.stop_code or not started:
                    continue
                if now - started < 1.0:
                    continue
                self.decided.add(arn)
                roll = self.rng.random()
                if roll < self.settings.spot_rate:
                    runtime.interrupt_spot(arn)
                    self.spot.append(arn)
                elif roll < self.settings.spot_rate + self.settings.crash_rate:
                    try:
                        os.killpg(task.process.pid, signal.SIGKILL)
                        self.killed.append(arn)
                    except (ProcessLookupError, PermissionError):
                        pass


def trigger_runs(stack: AirflowStack, run_ids: list[str], errors: list[str]) -> None:
    """One POST per run through the REST API (``stack.trigger``), a few tries each."""
    for run_id in run_ids:
        for attempt in range(5):
            try:
                stack.trigger(DAG_ID, run_id)
                break
            except Exception as error:  # noqa: BLE001
                if attempt == 4:
                    errors.append(f"trigger {run_id}: {error}")
                time.sleep(2)


def _intervals_overlap(intervals: list[tuple[float, float]]) -> bool:
    ordered = sorted(intervals)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(ordered))


def workload_owner(task: Any) -> tuple[str, str, str]:
    """(kind, id, attempt) of the workload an ECS task ran, from its command: a task instance's id for
    ExecuteTask, the callback's id for ExecuteCallback. Each attempt Airflow hands over (a reschedule poke, a
    resume from deferral) carries a fresh token; a relaunch of one attempt carries the same. A command
    override (the crashing image) has no workload: its startedBy, one attempt."""
    workload = workload_of(task)
    if workload is not None:
        # Only a digest of the token is kept: it is a credential.
        attempt = hashlib.sha256(str(workload.get("token", "")).encode()).hexdigest()[:12]
        if workload.get("type") == "ExecuteCallback":
            return "callback", _uuid(workload["callback"]["id"]), attempt
        if workload.get("type") == "ExecuteTask":
            return "task", _uuid(workload["ti"]["id"]), attempt
    return "task", _uuid(task.moto_task.started_by), ""


def count_invariants(
    figures: Figures, stack: AirflowStack, local: LocalEcs, constants: dict[str, Any], touched: set[str] = frozenset()
) -> None:
    """``touched``: ARNs of ECS tasks the harness interrupted or killed (a callback there may fail)."""
    expected, extra_attempts = constants["expected"], constants["extra_attempts"]
    rows = stack.query(
        "SELECT id, task_id, map_index, run_id, state, try_number FROM task_instance WHERE dag_id = ?", (DAG_ID,)
    )
    history = stack.query("SELECT task_instance_id, task_id FROM task_instance_history WHERE dag_id = ?", (DAG_ID,))
    figures.task_instances = len(rows)
    for _ti_id, task_id, map_index, run_id, state, _try_number in rows:
        name = f"{run_id}/{task_id}" + (f"[{map_index}]" if map_index >= 0 else "")
        if state in FINAL:
            figures.final += 1
        else:
            figures.not_final.append(f"{name}={state}")
        if state == expected.get(task_id):
            figures.right_state += 1
        elif state in FINAL:
            figures.wrong_state.append(f"{name}={state} (expected {expected.get(task_id)})")
    # Airflow keeps a task instance's id across a try that never reached the API (killed while queued),
    # so a try is the pair (startedBy = task instance id, the airflow:try_number tag of the ECS task).
    task_of = {_uuid(row[0]): row[1] for row in rows} | {_uuid(row[0]): row[1] for row in history}

    now = time.time()
    by_try: dict[tuple[str, str], dict[str, list[Any]]] = {}
    by_callback: dict[str, list[Any]] = {}
    for arn, task in list(local.runtime.tasks.items()):
        kind, owner, attempt = workload_owner(task)
        if kind == "callback":
            by_callback.setdefault(owner, []).append(task)
        else:
            tags = {tag.get("key"): tag.get("value") for tag in task.moto_task.tags or []}
            by_try.setdefault((owner, tags.get("airflow:try_number", "?")), {}).setdefault(attempt, []).append(task)
        if not task.done:
            figures.orphans_running_at_end.append(arn.rsplit("/", 1)[-1])
    figures.tries = len(by_try)
    figures.ecs_tasks = sum(len(tasks) for attempts in by_try.values() for tasks in attempts.values()) + sum(
        len(t) for t in by_callback.values()
    )
    for (owner, try_number), attempts in by_try.items():
        name = f"{owner} try {try_number}"
        if owner not in task_of:
            figures.ecs_tasks_without_a_try.extend(t.arn.rsplit("/", 1)[-1] for ts in attempts.values() for t in ts)
        # A reschedule poke or a resume from deferral is an attempt of the same try, with its own ECS task;
        # it may be launched while the previous attempt's container is still exiting, as on Fargate.
        if len(attempts) > 1 + extra_attempts.get(task_of.get(owner, ""), 0):
            figures.tries_run_twice.append(f"{name} ({len(attempts)} attempts)")
        for index, tasks in enumerate(attempts.values()):
            label = name if len(attempts) == 1 else f"{name} attempt {index + 1}"
            if len(tasks) > 1:
                # A launch stopped before its container started (MISSING, failed to start) may be launched
                # again by design; a container that ran twice for one attempt is a violation.
                if sum(1 for t in tasks if t.process is not None) > 1:
                    figures.tries_run_twice.append(label)
                figures.tries_with_two_launches.append(
                    label
                    + " ("
                    + ", ".join(f"{t.moto_task.stop_code}: exit {t.moto_task.containers[0].exitCode}" for t in tasks)
                    + ")"
                )
            _check_overlaps(figures, label, tasks, now)

    callbacks = stack.query(
        "SELECT c.id, c.state FROM callback c JOIN deadline d ON d.callback_id = c.id "
        "JOIN dag_run r ON r.id = d.dagrun_id WHERE r.dag_id = ? AND d.missed",
        (DAG_ID,),
    )
    figures.callbacks = len(callbacks)
    known_callbacks = {_uuid(callback_id) for callback_id, _ in callbacks}
    for callback_id, state in callbacks:
        tasks = by_callback.get(_uuid(callback_id), [])
        name = f"callback {_uuid(callback_id)}"
        if state == "success":
            figures.callbacks_succeeded += 1
        elif state == "failed":
            if not any(t.arn in touched for t in tasks):
                figures.callbacks_failed_untouched.append(name)
        else:
            figures.callbacks_not_final.append(f"{name}={state}")
        if sum(1 for t in tasks if t.process is not None) > 1:
            figures.callbacks_run_twice.append(name)
        _check_overlaps(figures, name, tasks, now)
    for owner, tasks in by_callback.items():
        if owner not in known_callbacks:
            figures.ecs_tasks_without_a_try.extend(t.arn.rsplit("/", 1)[-1] for t in tasks)


def _check_overlaps(figures: Figures, name: str, tasks: list[Any], now: float) -> None:
    alive = [(t.moto_task.created_at, t.moto_task.stopped_at or now) for t in tasks]
    running = [
        (t.moto_task.started_at, t.moto_task.stopped_at or now)
        for t in tasks
        if getattr(t.moto_task, "started_at", None) and t.process is not None
    ]
    if _intervals_overlap(alive):
        figures.tries_with_two_alive.append(name)
    if _intervals_overlap(running):
        figures.tries_with_two_running.append(name)


def _uuid(value: Any) -> str:
    return str(value or "").replace("-", "").lower()


def scheduler_log_counts(stack: AirflowStack) -> dict[str, int]:
    text = "\n".join(p.read_text(errors="replace") for p in stack.home.glob("scheduler*.log"))
    marks = {
        "relaunched": "launching it again",
        "RunTask retries": "retrying in",
        "adopted": "Adopted ",
        "apply errors": "ECS executor could not apply",
        "sweep failures": "DescribeTasks sweep failed",
        "Traceback": "Traceback",
    }
    return {name: text.count(mark) for name, mark in marks.items()}


def run_chaos(settings: ChaosSettings, log: Any = print) -> Figures:
    started = time.monotonic()
    constants = _dag_constants()
    plan = settings.plan or mixed_plan(settings.seed)
    runs = max(1, math.ceil(settings.task_instances / constants["per_run"]))
    total = runs * constants["per_run"]
    figures = Figures(
        settings={
            "task_instances": total,
            "runs": runs,
            "seed": settings.seed,
            "tracking": settings.tracking,
            "plan": {k: v for k, v in vars(plan).items() if v},
            "spot_rate": settings.spot_rate,
            "crash_rate": settings.crash_rate,
            "kill_scheduler_at": settings.kill_scheduler_at,
        }
    )
    if settings.work_dir.exists():
        shutil.rmtree(settings.work_dir)
    env: dict[str, str | None] = {
        "AIRFLOW__ECS_FARGATE__POLL_INTERVAL": "2",
        "AIRFLOW__ECS_FARGATE__RECONCILE_INTERVAL": "5",
        "AIRFLOW__CORE__PARALLELISM": "32",
    }
    if settings.tracking == "polling":
        env["AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL"] = None
    with local_deployment(
        settings.work_dir,
        DAGS,
        env=env,
        start_delay=0.2,
        max_concurrent=settings.max_concurrent,
        stop_timeout=3,
        fault_plan=plan,
    ) as deployed:
        stack, local = deployed.stack, deployed.local
        monkey = ChaosMonkey(local, settings)
        trigger_errors: list[str] = []
        try:
            stack.wait_for_dag(DAG_ID)
            log(
                f"[chaos] Airflow up in {time.monotonic() - started:.0f}s; {runs} runs x {constants['per_run']} "
                f"task instances, faults through {local.executor_endpoint_url}"
            )
            run_ids = [f"chaos_{index:03d}" for index in range(runs)]
            trigger = threading.Thread(target=trigger_runs, args=(stack, run_ids, trigger_errors), daemon=True)
            trigger.start()
            monkey.start()
            deadline = time.monotonic() + settings.timeout
            last_report = 0.0
            while time.monotonic() < deadline:
                states = [r[0] for r in stack.query("SELECT state FROM task_instance WHERE dag_id = ?", (DAG_ID,))]
                done = sum(1 for s in states if s in FINAL)
                runs_done = stack.query(
                    "SELECT COUNT(*) FROM dag_run WHERE dag_id = ? AND state IN ('success', 'failed')", (DAG_ID,)
                )[0][0]
                if runs_done >= runs:
                    break
                if (
                    settings.kill_scheduler_at is not None
                    and not figures.scheduler_kills
                    and done >= settings.kill_scheduler_at * total
                ):
                    log(f"[chaos] {done}/{total} final: SIGKILL the scheduler, restart it")
                    stack.kill_component("scheduler")
                    figures.scheduler_kills += 1
                    time.sleep(2)
                    stack.start_component("scheduler")
                for name, process in list(stack.processes.items()):
                    if process.poll() is not None:
                        tail = (stack.home / f"{name}.log").read_text(errors="replace")[-2000:]
                        figures.scheduler_crashes.append(f"{name} exited {process.returncode}")
                        log(f"[chaos] {name} exited {process.returncode} by itself:\n{tail}")
                        stack.processes.pop(name)
                        stack.start_component(name)
                if time.monotonic() - last_report > 30:
                    last_report = time.monotonic()
                    log(
                        f"[chaos] {time.monotonic() - started:.0f}s: {done}/{total} task instances final, "
                        f"{runs_done}/{runs} runs, {local.runtime.running_count()} containers running"
                    )
                time.sleep(1)
            else:
                log(f"[chaos] gave up waiting after {settings.timeout:g}s")
            monkey.stop()
            # The last stops (StopTask, SIGTERM, the stop timeout) settle before orphans are counted.
            settle = time.monotonic() + 20
            while time.monotonic() < settle and any(not t.done for t in list(local.runtime.tasks.values())):
                time.sleep(0.5)
            figures.seconds = time.monotonic() - started
            count_invariants(figures, stack, local, constants, set(monkey.spot) | set(monkey.killed))
            figures.spot_interruptions, figures.containers_killed = len(monkey.spot), len(monkey.killed)
            figures.faults = local.faults.figures() if local.faults else {}
            figures.event_faults = local.event_faults.figures() if local.event_faults else {}
            figures.executor_log = scheduler_log_counts(stack)
            if trigger_errors:
                figures.not_final.extend(trigger_errors)
        finally:
            monkey.stop()
    return figures


def main() -> int:
    repo = Path(__file__).resolve().parents[2]
    settings = ChaosSettings(
        work_dir=Path(os.environ.get("CHAOS_WORK_DIR") or repo / ".chaos"),
        task_instances=int(os.environ.get("CHAOS_TASK_INSTANCES", "1000")),
        seed=int(os.environ.get("CHAOS_SEED", "0")),
        tracking=os.environ.get("CHAOS_TRACKING", "events"),
        timeout=float(os.environ.get("CHAOS_TIMEOUT", "3600")),
    )
    if settings.tracking not in ("events", "polling"):
        print(f"CHAOS_TRACKING={settings.tracking!r}: expected events or polling", file=sys.stderr)
        return 2
    figures = run_chaos(settings, log=lambda line: print(line, flush=True))
    print(figures.report(), flush=True)
    out = settings.work_dir / "figures.json"
    out.write_text(json.dumps(vars(figures), indent=2, default=str) + "\n")
    print(f"[chaos] figures in {out}; logs in {settings.work_dir / 'airflow'}")
    return 0 if not figures.violations() else 1


if __name__ == "__main__":
    sys.exit(main())
