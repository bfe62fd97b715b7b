"""Benchmarks of the executor's scheduler-side cost (``make bench``).

burst: N tasks queued at once against moto's ECS (its own process) with a fixed latency added to every RunTask call
(botocore's before-send hook sleeps, on whichever thread makes the call). Measures the longest single
heartbeat() on the scheduler's thread and the time until every task is launched, against what the rate
limit allows. Writes benchmarks/results/<name>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")


def start_moto() -> tuple[subprocess.Popen, str]:
    """moto's server in its own process, as AWS is: in this one it would compete for the scheduler's GIL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/reset", data=b"").close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("moto's server did not start") from None
            time.sleep(0.2)
    # Tasks change state only when the benchmark says so, never at a DescribeTasks.
    body = json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**12}})
    urllib.request.urlopen(f"{url}/moto-api/state-manager/set-transition", data=body.encode()).close()
    return server, url


def burst(tasks: int, latency: float) -> dict:
    from airflow.executors.workloads import BundleInfo, ExecuteTask, TaskInstanceDTO

    from airflow_ecs.executor import EcsFargateExecutor
    from tests import aws_fixtures as aws

    server, url = start_moto()
    os.environ.update(aws.env_for(url, aws.provision(url), poll_interval="3600"))
    executor = EcsFargateExecutor(parallelism=tasks + 10)
    executor.start()
    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", lambda **_: time.sleep(latency))
    for i in range(tasks):
        ti = TaskInstanceDTO(id=uuid.uuid4(), dag_id="bench", task_id=f"t{i}", run_id="r", try_number=1, map_index=-1,
                             pool_slots=1, queue="default", priority_weight=1, dag_version_id=uuid.uuid4())
        executor.queue_workload(ExecuteTask(ti=ti, dag_rel_path="b.py", token="t", log_path="l",
                                            bundle_info=BundleInfo(name="dags-folder", version=None)), session=None)
    beats: list[float] = []
    start = time.perf_counter()
    launched = 0
    while launched < tasks and time.perf_counter() - start < 600:
        t0 = time.perf_counter()
        executor.heartbeat()
        beats.append(time.perf_counter() - t0)
        launched += sum(1 for state, _ in executor.get_event_buffer().values() if state == "queued")
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    config = executor.ecs_config
    allowed = max(tasks - config.launch_burst, 0) / config.launch_rate
    executor.terminate()
    server.terminate()
    server.wait(timeout=30)
    return {"scenario": "burst", "tasks": tasks, "latency_ms": latency * 1000, "launched": launched,
            "max_heartbeat_ms": round(max(beats) * 1000, 2), "heartbeats": len(beats),
            "seconds_to_launch_all": round(elapsed, 2), "rate_limit_allows_seconds": round(allowed, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=100)
    args = parser.parse_args()
    result = burst(args.tasks, args.latency_ms / 1000)
    result.update(machine=f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                  date=time.strftime("%Y-%m-%d"))
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "burst.json").write_text(json.dumps(result, indent=2) + "\n")
    width = max(map(len, result))
    print("\n".join(f"{key:<{width}}  {value}" for key, value in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
