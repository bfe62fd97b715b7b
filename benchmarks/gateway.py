"""The emulated ECS endpoint both executors are benchmarked against: moto behind the local ECS's proxy.

Runs in its own process (``python benchmarks/gateway.py --port P --admin-port A``) so that moto's work
never competes for the GIL of the process being measured. One moto, served on two ports:

* the gateway port, which the executors call: the local ECS's fault proxy (``airflow_ecs.local.faults``) with
  no faults and the endpoint options of its plan: every AWS call waits a fixed latency, RunTask goes through a
  token bucket like ECS's (20/s, burst 100) and answers ``ThrottlingException: Rate exceeded`` when it is empty,
  StopTask of an unknown task is answered as ECS answers it, and every call is counted per ``service.Action``;
* the admin port, plain moto, for the harness's own set-up calls (never delayed, throttled or counted).

``/_bench/*`` on the gateway port is the harness's control: settings, counts, and the task state
changes moto cannot make by itself (stop tasks, publish ECS Task State Change events to SQS).

A gap of moto filled here, never in moto: its DescribeTasks compares every stored task with every ARN asked
for (a list scan and a substring search per pair), 0.2 s of moto's CPU per call of 100 ARNs at 10,000 stored
tasks on the benchmark machine, and proportional to the tasks stored, where ECS's cost is the tasks asked for.
The gateway answers it from moto's own tasks looked up by ARN, serialized by moto's serializer: the same
answer (``tests/test_bench_gateway.py`` compares the two), in the order asked. Anything else (a task ID instead
of an ARN, another cluster's task, an unknown ARN, no such cluster) goes to moto as before.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from airflow_ecs.local.faults import ECS_PREFIX, FaultPlan, FaultProxy
from airflow_ecs.local.runtime import event_detail

REGION = "us-east-1"
# No fault: only the endpoint's own behaviour, with ECS's RunTask bucket (the settings change it per scenario).
ENDPOINT = FaultPlan(services=(), run_task_rate=20.0, run_task_burst=100, stop_unknown_as_ecs=True)


def moto_serialized(operation: str, result: dict[str, Any], *, tags: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    """An ECS answer as moto's server serializes it (its JSON serializer over botocore's model of the operation,
    with the task tags left out unless asked for, as moto's own DescribeTasks does)."""
    from moto import settings
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class, never_return
    from moto.core.utils import get_service_model
    from moto.ecs.responses import DESCRIBE_TASKS_TAGS, EC2ContainerServiceResponse

    model = get_service_model("ecs")
    # A copy: moto's own responses set the tags' transformer in the class-wide dict at each call.
    transformers = {
        **EC2ContainerServiceResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER,
        DESCRIBE_TASKS_TAGS: (lambda value: value) if tags else never_return,
    }
    serializer = get_serializer_class("ecs", "json")(
        operation_model=model.operation_model(operation),
        pretty_print=settings.PRETTIFY_RESPONSES,
        value_picker=XFormedAttributePicker(response_transformers=transformers),
    )
    serialized = serializer.serialize(result)
    body = serialized["body"]
    return (
        serialized["status_code"],
        list(serialized["headers"].items()),
        body.encode() if isinstance(body, str) else body,
    )


class Control:
    """The ``/_bench/*`` endpoints: the proxy's settings and counts, and moto's state, in this process."""

    def __init__(self) -> None:
        self.proxy: FaultProxy | None = None
        self.versions: dict[str, int] = {}  # per task: the detail.version of its last published event
        self.indexed: dict[str, float] = collections.defaultdict(float)  # DescribeTasks answered here, and seconds
        self._lock = threading.Lock()

    # --- moto's state, in this process ---

    @staticmethod
    def _ecs() -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[DEFAULT_ACCOUNT_ID][REGION]

    @staticmethod
    def _sqs() -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[DEFAULT_ACCOUNT_ID][REGION]

    def _tasks(self, cluster: str) -> list[Any]:
        return list(self._ecs().tasks.get(cluster, {}).values())

    def _publish(self, queue_url: str, tasks: list[Any]) -> None:
        """One ECS Task State Change event per task, as EventBridge delivers it to the SQS queue; ``queue_url``
        may name several queues, comma-separated (one per scheduler): each gets every event, as each target of
        the rule does."""
        sqs = self._sqs()
        names = [url.rstrip("/").rsplit("/", 1)[-1] for url in queue_url.split(",") if url]
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        for task in tasks:
            version = self.versions.get(task.task_arn, 0) + 1
            self.versions[task.task_arn] = version
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "ECS Task State Change",
                "source": "aws.ecs",
                "account": DEFAULT_ACCOUNT_ID,
                "time": now,
                "region": REGION,
                "resources": [task.task_arn],
                "detail": event_detail(task, version),
            }
            for name in names:
                sqs.send_message(name, json.dumps(event))

    # --- moto's DescribeTasks, by ARN ---

    def answer(
        self, service: str, action: str, request: dict[str, Any]
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """The proxy's in-process answers: DescribeTasks from the index, when it can; None sends the call to moto."""
        if service != ECS_PREFIX or action != "DescribeTasks":
            return None
        t0 = time.perf_counter()
        answered = self.describe_tasks(request)
        if answered is not None:
            with self._lock:
                self.indexed["describe_tasks"] += 1
                self.indexed["seconds"] += time.perf_counter() - t0
        return answered

    def describe_tasks(self, request: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """moto's answer, found by ARN in moto's per-cluster dict (``tasks[cluster name][task ARN]``) instead of by
        moto's scan; None when an ARN is not a stored task of that cluster (moto then answers, errors included)."""
        wanted = request.get("tasks")
        cluster = str(request.get("cluster") or "default").rsplit("/", 1)[-1]
        stored = self._ecs().tasks.get(cluster)
        if not wanted or not isinstance(wanted, list) or stored is None:
            return None
        tasks = [stored.get(arn) for arn in dict.fromkeys(wanted)]
        if any(task is None for task in tasks):
            return None
        for task in tasks:
            task.advance()  # as moto's describe does (a manual state progression counts describes)
        return moto_serialized(
            "DescribeTasks", {"tasks": tasks, "failures": []}, tags="TAGS" in (request.get("include") or [])
        )

    def running(self, cluster: str, queue_url: str) -> dict[str, Any]:
        """Every task not yet announced becomes RUNNING (started now) and gets its RUNNING event."""
        fresh = [t for t in self._tasks(cluster) if t.task_arn not in self.versions and t.last_status == "RUNNING"]
        for task in fresh:
            task.started_at = time.time()
            for container in task.containers:
                container.last_status = "RUNNING"
                container.exitCode = None
        if queue_url:
            self._publish(queue_url, fresh)
        return {"announced": len(fresh)}

    def stop(self, cluster: str, queue_url: str, count: int, exit_code: int) -> dict[str, Any]:
        """``count`` running tasks end as their container exits; their STOPPED events are published."""
        chosen = [t for t in self._tasks(cluster) if t.last_status == "RUNNING"][:count]
        for task in chosen:
            for container in task.containers:
                container.last_status = "STOPPED"
                container.exitCode = exit_code
            task.stop_code = "EssentialContainerExited"
            task.stopped_reason = "Essential container in task exited"
            task.started_at = getattr(task, "started_at", None) or time.time()
            task.stopped_at = time.time()
            task.desired_status = "STOPPED"
            task.last_status = "STOPPED"
        if queue_url:
            self._publish(queue_url, chosen)
        return {"arns": [t.task_arn for t in chosen], "published_at": time.time()}

    # --- control ---

    def __call__(self, path: str, args: dict[str, Any]) -> Any:
        assert self.proxy is not None
        if path == "/_bench/counts":
            return self.proxy.counted()
        if path == "/_bench/indexed":
            # What moto did not have to do: DescribeTasks answered from the index, and the seconds that took.
            with self._lock:
                return {
                    "describe_tasks": int(self.indexed["describe_tasks"]),
                    "seconds": round(self.indexed["seconds"], 3),
                }
        if path == "/_bench/settings":
            # New settings start from a full bucket and zero counts: each measurement starts alike.
            throttle = bool(args.get("throttle", True))
            with self._lock:
                self.indexed.clear()
            self.proxy.configure(
                dataclasses.replace(
                    ENDPOINT,
                    latency=float(args.get("latency_ms", 0)) / 1000,
                    run_task_rate=float(args.get("rate", 20)) if throttle else None,
                    run_task_burst=int(args.get("burst", 100)),
                )
            )
            return {"ok": True}
        if path == "/_bench/forget":
            self.versions.clear()
            return {"ok": True}
        if path == "/_bench/running":
            return self.running(args["cluster"], args.get("queue_url", ""))
        if path == "/_bench/stop":
            return self.stop(
                args["cluster"], args.get("queue_url", ""), int(args["count"]), int(args.get("exit_code", 0))
            )
        return {"error": f"no control endpoint {path}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the gateway: latency, throttling, counts")
    parser.add_argument("--admin-port", type=int, required=True, help="plain moto, for the harness's set-up")
    parser.add_argument(
        "--moto-describe", action="store_true", help="DescribeTasks by moto's own scan, not the index (to compare)"
    )
    args = parser.parse_args()
    moto = DomainDispatcherApplication(create_backend_app)
    admin = make_server(args.host, args.admin_port, moto, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=admin.serve_forever, daemon=True).start()
    control = Control()
    control.proxy = FaultProxy(
        f"http://{args.host}:{args.admin_port}",
        ENDPOINT,
        port=args.port,
        control=control,
        control_prefix="/_bench/",
        answer=None if args.moto_describe else control.answer,
    ).start()
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
