"""Benchmarks of the executor's scheduler-side cost (``make bench``).

burst: N tasks queued at once against moto's ECS with a fixed latency added to every RunTask call
(botocore's before-send hook sleeps, on whichever thread makes the call). Measures the longest single
heartbeat() on the scheduler's thread and the time until every task is launched, against what the rate
limit allows. Writes benchmarks/results/<name>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")


def burst(tasks: int, latency: float) -> dict:
    from airflow.executors.workloads import BundleInfo, ExecuteTask, TaskInstanceDTO
    from moto.moto_api import state_manager
    from moto.server import ThreadedMotoServer

    from airflow_ecs.executor import EcsFargateExecutor
    from tests import aws_fixtures as aws

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**12})
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
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
    server.stop()
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
