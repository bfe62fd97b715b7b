"""Events with N schedulers: one shared queue against one queue per scheduler (``make bench`` runs it after
run.py and shared_limit.py).

For N = 1, 2 and 4, and each layout: N of our executors, as N schedulers would have, each launch 10 tasks on
one cluster. ``shared``: all consume one events queue, each handing back the events it does not own (after
``event_queue.RELEASE_DELAY``). ``own``: each consumes its own queue (``events_queue_exclusive``), and each
event is published to every queue, as the EventBridge rule's targets get it; each deletes what it does not
own. All the tasks stop at once and their ECS Task State Change events are published. Measured:

- receives per event in its owner's queue until the owner has it: on a shared queue every receive of the
  event (the others hand it back, its owner deletes it), on its own queue the owner's; and deliveries per
  event in all queues (each scheduler's own queue has a copy, which it deletes);
- the SQS calls by kind, and the seconds our executors spent waiting in them other than the receive's long
  poll (moto's SQS cost as we see it, set apart);
- the seconds from the stop until every executor has reported all of its tasks (and until the first has).

Writes benchmarks/results/shared_queue.json. Figures only: nothing here asserts.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from run import RESULTS, call, fresh_world, machine, start_gateway, worker_env  # noqa: E402

TASKS_EACH = 10
SCHEDULERS = (1, 2, 4)
LAYOUTS = ("shared", "own")


def measure(n: int, layout: str, gateway: str, admin: str) -> dict[str, Any]:
    from airflow_ecs.executor import EcsFargateExecutor
    from devtools import aws_fixtures as aws
    from devtools.workload import make_workload

    world = fresh_world(gateway, admin)
    sqs_admin = aws.client(admin, "sqs")
    if layout == "own":
        # As Terraform's events_queue_count makes them: the first keeps the shared queue's name.
        urls = [world["queue_url"]] + [
            sqs_admin.create_queue(QueueName=f"bench-task-events-{i + 1}")["QueueUrl"] for i in range(1, n)
        ]
    else:
        urls = [world["queue_url"]] * n
    spec = {"kind": "shared_queue"}
    os.environ.update(worker_env("ours", gateway, world, spec, tempfile.mkdtemp(prefix="airflow-bench-")))
    call(f"{gateway}/_bench/settings", {"latency_ms": 0, "throttle": False})
    executors = []
    received: list[Counter] = [Counter() for _ in range(n)]  # per executor: task ARN -> times received
    sqs_seconds = [0.0] * n  # time in SQS calls other than ReceiveMessage
    for index in range(n):
        os.environ["AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL"] = urls[index]
        os.environ["AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_EXCLUSIVE"] = str(layout == "own")
        executor = EcsFargateExecutor(parallelism=TASKS_EACH * 2)
        executor.start()
        executors.append(executor)

        def count(parsed: dict, _index: int = index, **_: Any) -> None:
            for message in parsed.get("Messages") or []:
                arn = json.loads(message["Body"]).get("detail", {}).get("taskArn", "")
                received[_index][arn] += 1

        started: dict[int, float] = {}

        def before(_index: int = index, _started: dict = started, **_: Any) -> None:
            _started[_index] = time.perf_counter()

        def after(_index: int = index, _started: dict = started, **_: Any) -> None:
            sqs_seconds[_index] += time.perf_counter() - _started.pop(_index, time.perf_counter())

        executor._sqs.meta.events.register("after-call.sqs.ReceiveMessage", count)
        for operation in ("DeleteMessageBatch", "ChangeMessageVisibilityBatch"):
            executor._sqs.meta.events.register(f"before-call.sqs.{operation}", before)
            executor._sqs.meta.events.register(f"after-call.sqs.{operation}", after)
        for i in range(TASKS_EACH):
            executor.queue_workload(make_workload(f"s{index}_t{i}"), session=None)
    owned: list[dict] = [{} for _ in range(n)]  # per executor: key -> ARN
    deadline = time.monotonic() + 120
    while any(len(owned[i]) < TASKS_EACH for i in range(n)) and time.monotonic() < deadline:
        for i, executor in enumerate(executors):
            executor.heartbeat()
            owned[i].update(
                {key: str(info) for key, (_, info) in executor.event_buffer.items() if str(info).startswith("arn:")}
            )
        time.sleep(0.05)
    for executor in executors:
        executor.event_buffer.clear()
    for counter in received:
        counter.clear()
    sqs_seconds[:] = [0.0] * n
    before_counts = call(f"{gateway}/_bench/counts")
    stopped = call(
        f"{gateway}/_bench/stop",
        {"cluster": aws.CLUSTER, "queue_url": ",".join(dict.fromkeys(urls)), "count": n * TASKS_EACH, "exit_code": 0},
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
    after_counts = call(f"{gateway}/_bench/counts")
    calls = {k: after_counts.get(k, 0) - before_counts.get(k, 0) for k in after_counts if k.startswith("sqs.")}
    left = sum(
        int(
            sqs_admin.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        for url in dict.fromkeys(urls)
    )
    events = n * TASKS_EACH
    by_owner = sum(received[i][arn] for i in range(n) for arn in owned[i].values())
    all_receives = sum(sum(c.values()) for c in received)
    # The owner's queue: on a shared queue every receive is of the one copy; on its own, only the owner reads.
    in_owners_queue = all_receives if layout == "shared" else by_owner
    for executor in executors:
        executor.terminate()
    return {
        "layout": layout,
        "schedulers": n,
        "events": events,
        "all_seen": len(seen_at) == n,
        "receives_in_owners_queue_per_event": round(in_owners_queue / events, 2),
        "owner_receives_per_event": round(by_owner / events, 2),
        "deliveries_per_event": round(all_receives / events, 2),
        "seconds_until_all_seen": round(max(seen_at.values()) - published, 2) if seen_at else None,
        "seconds_until_first_scheduler_saw_all": round(min(seen_at.values()) - published, 2) if seen_at else None,
        "seconds_in_sqs_deletes_and_releases": round(sum(sqs_seconds), 3),
        "messages_left": left,
        "sqs_calls": calls,
    }


def main() -> int:
    process, gateway, admin = start_gateway()
    try:
        rows = [measure(n, layout, gateway, admin) for n in SCHEDULERS for layout in LAYOUTS]
    finally:
        process.terminate()
        process.wait(timeout=30)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "shared_queue.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
    print(
        "layout  schedulers  events  receives in owner's queue/event  deliveries/event  s until all seen  "
        "s until first saw all  s in SQS deletes+releases  left  SQS calls"
    )
    for row in rows:
        print(
            f"{row['layout']:>6}  {row['schedulers']:>10}  {row['events']:>6}  "
            f"{row['receives_in_owners_queue_per_event']:>31}  "
            f"{row['deliveries_per_event']:>16}  {row['seconds_until_all_seen']!s:>16}  "
            f"{row['seconds_until_first_scheduler_saw_all']!s:>21}  {row['seconds_in_sqs_deletes_and_releases']:>25}  "
            f"{row['messages_left']:>4}  {json.dumps(row['sqs_calls'])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
