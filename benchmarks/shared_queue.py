"""How one events queue behaves with N schedulers (``make bench`` runs it after run.py).

For N = 1, 2 and 4: N of our executors, as N schedulers would have, each launch 10 tasks on one cluster and
consume one events queue. All the tasks stop at once and their ECS Task State Change events are published.
Measured: how many times an event is received before its owner deletes it (the others hand it back after
``events.RELEASE_DELAY``), the SQS calls that cost, and the seconds until every executor has reported all of
its tasks. Writes benchmarks/results/shared_queue.json. Figures only: nothing here asserts.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from run import RESULTS, call, fresh_world, machine, start_gateway, worker_env  # noqa: E402

TASKS_EACH = 10
SCHEDULERS = (1, 2, 4)


def measure(n: int, gateway: str, admin: str) -> dict[str, Any]:
    from airflow_ecs.executor import EcsFargateExecutor
    from devtools import aws_fixtures as aws
    from devtools.workload import make_workload

    world = fresh_world(gateway, admin)
    spec = {"kind": "shared_queue"}
    os.environ.update(worker_env("ours", gateway, world, spec, tempfile.mkdtemp(prefix="airflow-bench-")))
    call(f"{gateway}/_bench/settings", {"latency_ms": 0, "throttle": False})
    executors = [EcsFargateExecutor(parallelism=TASKS_EACH * 2) for _ in range(n)]
    received = [0] * n
    for index, executor in enumerate(executors):
        executor.start()

        def count(parsed: dict, _index: int = index, **_: Any) -> None:
            received[_index] += len(parsed.get("Messages") or [])

        executor._sqs.meta.events.register("after-call.sqs.ReceiveMessage", count)
        for i in range(TASKS_EACH):
            executor.queue_workload(make_workload(f"s{index}_t{i}"), session=None)
    owned: list[set] = [set() for _ in range(n)]
    deadline = time.monotonic() + 120
    while any(len(owned[i]) < TASKS_EACH for i in range(n)) and time.monotonic() < deadline:
        for i, executor in enumerate(executors):
            executor.heartbeat()
            owned[i] |= {key for key, (_, info) in executor.event_buffer.items() if str(info).startswith("arn:")}
        time.sleep(0.05)
    for executor in executors:
        executor.event_buffer.clear()
    before = call(f"{gateway}/_bench/counts")
    stopped = call(
        f"{gateway}/_bench/stop",
        {"cluster": aws.CLUSTER, "queue_url": world["queue_url"], "count": n * TASKS_EACH, "exit_code": 0},
    )
    published = stopped["published_at"]
    seen_at: dict[int, float] = {}
    deadline = time.monotonic() + 180
    while len(seen_at) < n and time.monotonic() < deadline:
        for i, executor in enumerate(executors):
            executor.heartbeat()
            done = [key for key, (state, _) in executor.event_buffer.items() if state == "success"]
            if i not in seen_at and len(done) >= TASKS_EACH:
                seen_at[i] = time.time()
        time.sleep(0.05)
    # Let the last deletes and releases land before counting.
    for _ in range(20):
        for executor in executors:
            executor.heartbeat()
        time.sleep(0.1)
    after = call(f"{gateway}/_bench/counts")
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after if k.startswith("sqs.")}
    events = n * TASKS_EACH
    for executor in executors:
        executor.terminate()
    return {
        "schedulers": n,
        "events": events,
        "all_seen": len(seen_at) == n,
        "receives_per_event": round(sum(received) / events, 2),
        "seconds_until_all_seen": round(max(seen_at.values()) - published, 2) if seen_at else None,
        "seconds_until_first_scheduler_saw_all": round(min(seen_at.values()) - published, 2) if seen_at else None,
        "sqs_calls": calls,
    }


def main() -> int:
    process, gateway, admin = start_gateway()
    try:
        rows = [measure(n, gateway, admin) for n in SCHEDULERS]
    finally:
        process.terminate()
        process.wait(timeout=30)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "shared_queue.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
    print("schedulers  events  receives/event  seconds until all seen  SQS calls")
    for row in rows:
        print(
            f"{row['schedulers']:>10}  {row['events']:>6}  {row['receives_per_event']:>14}  "
            f"{row['seconds_until_all_seen']!s:>22}  {json.dumps(row['sqs_calls'])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
