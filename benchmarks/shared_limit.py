"""Several schedulers, one account: N executors launching at once against one RunTask limit (``make bench``).

RunTask's rate limit (20/s, burst 100 on Fargate) is the account's, shared by every scheduler in it. For
N = 2 and 4, N executors, each in its own process as each scheduler is, queue their share of the tasks at
the same moment; the gateway (benchmarks/gateway.py) adds 100 ms to every call and holds the one bucket
they all draw from. Measured: aggregate throughput against the limit ((tasks - burst) / rate seconds allowed,
over the seconds from the common start to the last task's ARN), the share of RunTask calls throttled, tasks
failed, and each executor's final rate (ours adapts: additive increase, multiplicative decrease).
Writes benchmarks/results/shared_limit.json and prints a table. Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from run import BURST, RATE, RESULTS, call, fmt, fresh_world, machine, start_gateway, worker_env  # noqa: E402

# The same total for every N, so the figures differ only by how many share the limit.
TOTAL_TASKS = 2000
LATENCY_MS = 100
SCHEDULERS = (2, 4)


def measure(n: int, executor: str, gateway: str, admin: str, total: int = TOTAL_TASKS) -> dict[str, Any]:
    world = fresh_world(gateway, admin)
    spec = {"kind": "shared"}
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    homes, workers, log_files = [], [], []
    for i in range(n):
        home = tempfile.mkdtemp(prefix="airflow-bench-")
        homes.append(home)
        log = open(logs / f"shared_limit-{executor}-{n}-{i}.log", "w")  # noqa: SIM115 - closed below
        log_files.append(log)
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(REPO / "benchmarks" / "run.py"),
                    "--worker",
                    "shared",
                    "--executor",
                    executor,
                    "--gateway",
                    gateway,
                    "--world",
                    json.dumps(world),
                    "--tasks",
                    str(total // n),
                ],
                env=worker_env(executor, gateway, world, spec, home),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        )
    try:
        for worker in workers:  # every scheduler started and idle before any queues (Airflow logs to stdout too)
            line = "?"
            while line and line.strip() != "READY":
                line = worker.stdout.readline()
            if not line:
                raise RuntimeError(f"a scheduler exited before it was ready; see {logs}")
        # One account's bucket, full, and counts from zero, then all at once.
        call(f"{gateway}/_bench/settings", {"latency_ms": LATENCY_MS, "throttle": True, "rate": RATE, "burst": BURST})
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            out, _ = worker.communicate(timeout=900)
            lines = [line for line in out.splitlines() if line.startswith("{")]
            results.append(json.loads(lines[-1]) if lines else {"error": f"exited {worker.returncode}"})
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        for log in log_files:
            log.close()
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)
    counts = call(f"{gateway}/_bench/counts")
    run_task, throttled = counts.get("ecs.RunTask", 0), counts.get("ecs.RunTask.throttled", 0)
    ok = [r for r in results if "error" not in r]
    launched = sum(r["launched"] for r in ok)
    seconds = max((r["last_launched_at"] for r in ok), default=0) - min((r["started_at"] for r in ok), default=0)
    allowed = (total - BURST) / RATE
    return {
        "schedulers": n,
        "tasks": total,
        "latency_ms": LATENCY_MS,
        "launched": launched,
        "failed": sum(r["failed"] for r in ok),
        "errors": len(results) - len(ok),
        "seconds_to_launch_all": round(seconds, 1),
        "rate_limit_allows_seconds": allowed,
        "throughput_vs_limit": round(allowed / seconds, 3) if seconds and launched == total else None,
        "run_task_calls": run_task,
        "run_task_throttled": throttled,
        "throttled_fraction": round(throttled / run_task, 4) if run_task else 0.0,
        "max_heartbeat_ms": max((r["max_heartbeat_ms"] for r in ok), default=None),
        "per_scheduler": results,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executor", choices=("ours", "theirs"), action="append", help="default: both")
    parser.add_argument("--schedulers", type=int, action="append", help="default: 2 and 4")
    parser.add_argument("--tasks", type=int, default=TOTAL_TASKS, help="in all, shared out evenly")
    args = parser.parse_args()
    executors = args.executor or ["ours", "theirs"]
    about = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    process, gateway, admin = start_gateway()
    results: dict[str, Any] = {"scenario": "shared_limit", "machine": about}
    try:
        for n in args.schedulers or SCHEDULERS:
            for executor in executors:
                t0 = time.perf_counter()
                results[f"{executor}_{n}"] = result = measure(n, executor, gateway, admin, args.tasks)
                print(
                    f"shared_limit {n} x {executor:<6} {time.perf_counter() - t0:6.1f}s  "
                    f"{json.dumps({k: v for k, v in result.items() if k != 'per_scheduler'})}",
                    flush=True,
                )
    finally:
        process.terminate()
        process.wait(timeout=30)
    (RESULTS / "shared_limit.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(
        f"Several schedulers, one RunTask limit ({RATE:g}/s, burst {BURST}), {args.tasks:,} tasks in all, "
        f"{LATENCY_MS} ms per call; target (ours): >= 0.9 of the limit, < 5% throttled, none failed"
    )
    rows = [("schedulers", "executor", "throughput / limit", "RunTask throttled", "failed", "seconds")]
    for key, r in results.items():
        if isinstance(r, dict) and "schedulers" in r:
            rows.append(
                (
                    str(r["schedulers"]),
                    key.split("_")[0],
                    fmt(r["throughput_vs_limit"]),
                    f"{r['throttled_fraction']:.1%} ({r['run_task_throttled']:,} of {r['run_task_calls']:,})",
                    fmt(r["failed"]),
                    fmt(r["seconds_to_launch_all"]),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
