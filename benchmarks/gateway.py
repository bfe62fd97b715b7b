"""The emulated ECS endpoint both executors are benchmarked against: moto behind a gateway.

Runs in its own process (``python benchmarks/gateway.py --port P --admin-port A``) so that moto's work
never competes for the GIL of the process being measured. One moto, served on two ports:

* the gateway port, which the executors call: every AWS call waits a fixed latency, RunTask goes
  through a token bucket like ECS's (20/s, burst 100) and answers ``ThrottlingException: Rate exceeded``
  when it is empty, and every call is counted per ``service.Action``;
* the admin port, plain moto, for the harness's own set-up calls (never delayed, throttled or counted).

``/_bench/*`` on the gateway port is the harness's control: settings, counts, and the task state
changes moto cannot make by itself (stop tasks, publish ECS Task State Change events to SQS).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from airflow_ecs.local.runtime import event_detail  # noqa: E402 - the local ECS's event format, reused

REGION = "us-east-1"
JSON_11 = "application/x-amz-json-1.1"


class Bucket:
    """ECS's per-action token bucket, kept apart from the executor's own so the emulation is independent."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def action_of(environ: dict[str, Any], body: bytes) -> str:
    """``service.Action`` from SigV4's credential scope and the JSON target or the query body."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    service = "unknown"
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return f"{service}.{target.rsplit('.', 1)[-1]}"
    action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
    return f"{service}.{action}"


def json_error(start_response: Any, status: str, kind: str, message: str) -> list[bytes]:
    payload = json.dumps({"__type": kind, "message": message}).encode()
    start_response(status, [("Content-Type", JSON_11), ("Content-Length", str(len(payload))),
                            ("x-amzn-RequestId", str(uuid.uuid4()))])
    return [payload]


class Gateway:
    """WSGI middleware in front of moto's app."""

    def __init__(self, app: Any):
        self.app = app
        self.latency = 0.0
        self.throttle = True
        self.bucket = Bucket(20.0, 100)
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.versions: dict[str, int] = {}  # per task: the detail.version of its last published event

    # --- the emulated endpoint ---

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_bench/"):
            return self.control(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = action_of(environ, body)
        with self.lock:
            self.counts[action] += 1
        if self.latency:
            time.sleep(self.latency)
        if action == "ecs.RunTask" and self.throttle and not self.bucket.take():
            with self.lock:
                self.counts["ecs.RunTask.throttled"] += 1
            return json_error(start_response, "400 Bad Request", "ThrottlingException", "Rate exceeded")
        if action == "ecs.StopTask" and not self._task_exists(json.loads(body or b"{}")):
            # moto answers an unknown task with a 500; ECS answers this, and Airflow's executor's health
            # check (a StopTask of a made-up task) counts exactly this answer as healthy.
            return json_error(start_response, "400 Bad Request", "InvalidParameterException",
                              "The referenced task was not found.")
        return self.app(environ, start_response)

    # --- moto's state, in this process ---

    @staticmethod
    def _ecs() -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[DEFAULT_ACCOUNT_ID][REGION]

    @staticmethod
    def _sqs() -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[DEFAULT_ACCOUNT_ID][REGION]

    def _task_exists(self, request: dict[str, Any]) -> bool:
        wanted = str(request.get("task", "")).rsplit("/", 1)[-1]
        return any(arn.endswith("/" + wanted) for tasks in self._ecs().tasks.values() for arn in tasks)

    def _tasks(self, cluster: str) -> list[Any]:
        return list(self._ecs().tasks.get(cluster, {}).values())

    def _publish(self, queue_url: str, tasks: list[Any]) -> None:
        """One ECS Task State Change event per task, as EventBridge delivers it to the SQS queue."""
        sqs, name = self._sqs(), queue_url.rstrip("/").rsplit("/", 1)[-1]
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        for task in tasks:
            version = self.versions.get(task.task_arn, 0) + 1
            self.versions[task.task_arn] = version
            event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "ECS Task State Change",
                     "source": "aws.ecs", "account": DEFAULT_ACCOUNT_ID, "time": now, "region": REGION,
                     "resources": [task.task_arn], "detail": event_detail(task, version)}
            sqs.send_message(name, json.dumps(event))

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

    def control(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        args = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
        if path == "/_bench/counts":
            with self.lock:
                result: Any = dict(self.counts)
        elif path == "/_bench/settings":
            # New settings start from a full bucket and zero counts: each measurement starts alike.
            self.latency = float(args.get("latency_ms", 0)) / 1000
            self.throttle = bool(args.get("throttle", True))
            self.bucket = Bucket(float(args.get("rate", 20)), int(args.get("burst", 100)))
            with self.lock:
                self.counts.clear()
            result = {"ok": True}
        elif path == "/_bench/forget":
            self.versions.clear()
            result = {"ok": True}
        elif path == "/_bench/running":
            result = self.running(args["cluster"], args.get("queue_url", ""))
        elif path == "/_bench/stop":
            result = self.stop(args["cluster"], args.get("queue_url", ""), int(args["count"]),
                               int(args.get("exit_code", 0)))
        else:
            return json_error(start_response, "404 Not Found", "NotFound", f"no control endpoint {path}")
        payload = json.dumps(result).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the gateway: latency, throttling, counts")
    parser.add_argument("--admin-port", type=int, required=True, help="plain moto, for the harness's set-up")
    args = parser.parse_args()
    # The set-up registers the task definition as terraform/ does (task-level memory only), which moto's RunTask
    # cannot place without our local layer's one fill (airflow_ecs/local/terraform_gaps.py).
    from airflow_ecs.local.terraform_gaps import fill_in_process_gaps

    fill_in_process_gaps()
    moto = DomainDispatcherApplication(create_backend_app)
    admin = make_server(args.host, args.admin_port, moto, threaded=True, request_handler=MotoRequestHandler)
    gateway = make_server(args.host, args.port, Gateway(moto), threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=admin.serve_forever, daemon=True).start()
    gateway.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
