"""What terraform/'s resources need from AWS that moto does not do, filled in our local layer (moto is not
patched): what the AWS provider waits for (below), and RunTask of the task definition the modules register
(at the end).

``terraform apply`` of terraform/ against moto creates every resource but one: the provider writes an SQS
queue's ``RedriveAllowPolicy`` and then waits until GetQueueAttributes returns it, and moto does not keep that
attribute, so the wait never ends. ``GapLayer`` is an HTTP layer between the provider and moto that
remembers what SetQueueAttributes/CreateQueue gave as ``RedriveAllowPolicy`` and adds it to the
GetQueueAttributes answers, the way SQS does. Everything else passes through unchanged. moto is not patched.

``remember`` and ``answer`` are the decisions, without I/O; ``GapLayer`` is the thin HTTP adapter.
"""

from __future__ import annotations

import copy
import http.client
import json
import threading
from collections.abc import MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

KEPT_ATTRIBUTES = ("RedriveAllowPolicy",)


def _queue_key(url: str) -> str:
    """A queue URL's account and name: the provider and moto may spell the host differently."""
    return urlsplit(url).path.rstrip("/")


def outgoing(target: str, request: dict) -> dict:
    """What moto gets: GetQueueAttributes without the names it refuses (InvalidAttributeName)."""
    if target.rsplit(".", 1)[-1] != "GetQueueAttributes":
        return request
    names = request.get("AttributeNames") or []
    kept = [name for name in names if name not in KEPT_ATTRIBUTES]
    return request if kept == names else {**request, "AttributeNames": kept}


def remember(target: str, request: dict, response: dict, kept: MutableMapping[str, dict]) -> None:
    """After a successful SQS call: store the attributes moto drops."""
    action = target.rsplit(".", 1)[-1]
    attributes = request.get("Attributes") or {}
    wanted = {name: attributes[name] for name in KEPT_ATTRIBUTES if name in attributes}
    if action == "SetQueueAttributes" and "QueueUrl" in request:
        kept.setdefault(_queue_key(request["QueueUrl"]), {}).update(wanted)
    elif action == "CreateQueue" and "QueueUrl" in response and wanted:
        kept.setdefault(_queue_key(response["QueueUrl"]), {}).update(wanted)
    elif action == "DeleteQueue" and "QueueUrl" in request:
        kept.pop(_queue_key(request["QueueUrl"]), None)


def answer(target: str, request: dict, response: dict, kept: MutableMapping[str, dict]) -> dict:
    """GetQueueAttributes' answer with the kept attributes the request asked for."""
    if target.rsplit(".", 1)[-1] != "GetQueueAttributes" or "QueueUrl" not in request:
        return response
    names = request.get("AttributeNames") or []
    stored = kept.get(_queue_key(request["QueueUrl"]), {})
    extra = {name: value for name, value in stored.items() if "All" in names or name in names}
    if not extra:
        return response
    return {**response, "Attributes": {**(response.get("Attributes") or {}), **extra}}


class GapLayer:
    """``url`` goes to moto at ``upstream``, with the SQS attributes above kept."""

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0):
        self.upstream = urlsplit(upstream)
        if not self.upstream.hostname:  # else every call would fail in the handler thread, far from the cause
            raise ValueError(f"upstream {upstream!r}: expected moto's URL, e.g. http://127.0.0.1:5000")
        upstream_host = self.upstream.hostname
        self.kept: dict[str, dict] = {}
        self._lock = threading.Lock()
        layer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # one line per provider call would drown the test output
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target") or ""
                sent = layer._outgoing(target, body) if target.startswith("AmazonSQS.") else body
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                connection = http.client.HTTPConnection(upstream_host, layer.upstream.port, timeout=60)
                try:
                    connection.request(self.command, self.path, body=sent, headers=headers)
                    upstream = connection.getresponse()
                    status, reply, reply_headers = upstream.status, upstream.read(), upstream.getheaders()
                finally:
                    connection.close()
                if target.startswith("AmazonSQS.") and status == 200:
                    reply = layer._sqs(target, body, reply)
                self.send_response(status)
                for key, value in reply_headers:
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="terraform-gaps", daemon=True)

    @staticmethod
    def _outgoing(target: str, body: bytes) -> bytes:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return body
        changed = outgoing(target, request)
        return body if changed is request else json.dumps(changed).encode()

    def _sqs(self, target: str, body: bytes, reply: bytes) -> bytes:
        try:
            request, response = json.loads(body or b"{}"), json.loads(reply or b"{}")
        except ValueError:  # the query protocol (XML): the provider speaks JSON to SQS
            return reply
        with self._lock:
            remember(target, request, response, self.kept)
            changed = answer(target, request, response, self.kept)
        return reply if changed is response else json.dumps(changed).encode()

    def start(self) -> GapLayer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- RunTask of a Fargate task definition whose container has no memory of its own ---
#
# ECS lets a Fargate task definition give memory at task level only (terraform/modules/worker does: the task's
# cpu/memory, no container-level limit). moto's RunTask adds up the containers' memory to place the task and
# fails with a TypeError (HTTP 500) on such a container. The local layer wraps that one calculation of moto's
# ECS backend in the process that serves it (moto's files are not changed; the wrapper survives moto's resets)
# so such a container counts the task's memory, as Fargate does. The local ECS, the tests' moto server and the
# benchmark gateway install it.


def container_memory_filled(task_memory: str | int | None, containers: list[dict]) -> list[dict]:
    """The containers as moto's calculation needs them: one without memory or memoryReservation gets the
    task's memory (a Fargate task definition's container may leave both out)."""
    filled = []
    for container in containers:
        if any(
            container.get(key) is not None for key in ("memory", "memoryReservation", "Memory", "MemoryReservation")
        ):
            filled.append(container)
        else:
            filled.append({**container, "memory": int(task_memory) if task_memory else 0})
    return filled


def fill_in_process_gaps() -> None:
    """Install the wrapper above on moto's ECS backend in this process (idempotent)."""
    from moto.ecs.models import EC2ContainerServiceBackend

    calculate = EC2ContainerServiceBackend._calculate_task_resource_requirements  # a staticmethod in moto
    if getattr(calculate, "airflow_ecs_gap", False):
        return

    def requirements(task_definition):
        view = copy.copy(task_definition)
        view.container_definitions = container_memory_filled(
            task_definition.memory, task_definition.container_definitions
        )
        return calculate(view)

    requirements.airflow_ecs_gap = True  # type: ignore[attr-defined]
    requirements.__wrapped__ = calculate  # type: ignore[attr-defined]
    wrapped = staticmethod(requirements)
    EC2ContainerServiceBackend._calculate_task_resource_requirements = wrapped  # type: ignore[method-assign]
