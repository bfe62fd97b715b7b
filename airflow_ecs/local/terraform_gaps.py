"""What terraform/'s resources need from AWS that moto does not do, filled in our local layer (moto is not
patched): what the AWS provider waits for, and RunTask of the task definition the modules register.

``terraform apply`` of terraform/ against moto creates every resource but one: the provider writes an SQS
queue's ``RedriveAllowPolicy`` and then waits until GetQueueAttributes returns it, and moto does not keep that
attribute, so the wait never ends. And moto answers a ``RedrivePolicy`` re-serialized (``{"a": 1}`` for the
``{"a":1}`` it was given), which the provider takes for a change at every plan after the apply. ``GapLayer`` is
an HTTP layer between the provider and moto that remembers what SetQueueAttributes/CreateQueue gave as either
and answers it in GetQueueAttributes, as it was given, the way SQS does.

ECS lets a task definition give memory at task level only, and Fargate's always has it (terraform/modules/worker
gives no container-level limit). moto registers such a definition but its RunTask adds up the containers' memory
to place the task and fails with a TypeError (HTTP 500) on a container without ``memory`` or
``memoryReservation``. So on RegisterTaskDefinition such a container is given the task's memory as
``memoryReservation`` before moto sees it (what Fargate does: the task's memory is the container's), and every
answer showing that task definition has exactly what was added taken out again, so Terraform (which compares
the container definitions it wrote with DescribeTaskDefinition's) and the executor see what they registered.
Every task definition must be registered through the layer: the local ECS sends everything through it, the
tests' set-up registers through one (devtools/aws_fixtures.py).

Everything else passes through unchanged. ``outgoing``, ``remember`` and ``answer`` (SQS) and
``memory_added``, ``with_memory`` and ``without_memory`` (ECS) are the decisions, without I/O; ``GapLayer`` is the
thin HTTP adapter.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
from collections.abc import Mapping, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

KEPT_ATTRIBUTES = ("RedriveAllowPolicy", "RedrivePolicy")  # answered as they were given
REFUSED_ATTRIBUTES = ("RedriveAllowPolicy",)  # GetQueueAttributes names moto answers with InvalidAttributeName
ECS_TARGET = "AmazonEC2ContainerServiceV20141113."  # X-Amz-Target of ECS's JSON protocol
SQS_TARGET = "AmazonSQS."


def _queue_key(url: str) -> str:
    """A queue URL's account and name: the provider and moto may spell the host differently."""
    return urlsplit(url).path.rstrip("/")


def outgoing(target: str, request: dict) -> dict:
    """What moto gets: GetQueueAttributes without the names it refuses (InvalidAttributeName)."""
    if target.rsplit(".", 1)[-1] != "GetQueueAttributes":
        return request
    names = request.get("AttributeNames") or []
    kept = [name for name in names if name not in REFUSED_ATTRIBUTES]
    return request if kept == names else {**request, "AttributeNames": kept}


def remember(target: str, request: dict, response: dict, kept: MutableMapping[str, dict]) -> None:
    """After a successful SQS call: store the attributes moto drops or rewrites; an empty one removes it (as
    SetQueueAttributes with an empty ``RedrivePolicy`` does)."""
    action = target.rsplit(".", 1)[-1]
    attributes = request.get("Attributes") or {}
    wanted = {name: attributes[name] for name in KEPT_ATTRIBUTES if name in attributes}
    url = request.get("QueueUrl") if action == "SetQueueAttributes" else response.get("QueueUrl")
    if action in ("SetQueueAttributes", "CreateQueue") and url and wanted:
        entry = kept.setdefault(_queue_key(url), {})
        for name, value in wanted.items():
            if value:
                entry[name] = value
            else:
                entry.pop(name, None)
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


# --- ECS: a container without memory of its own, in a task definition with task-level memory ---


def task_memory_mib(value: Any) -> int | None:
    """A task definition's ``memory`` as ECS reads it: MiB ("2048") or GB ("2 GB", "2GB"); None when absent or
    unreadable (moto then refuses or keeps it as it would without us)."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    in_gb = text.upper().endswith("GB")
    try:
        mib = float(text[:-2]) * 1024 if in_gb else float(int(text))
    except ValueError:
        return None
    return int(mib) if math.isfinite(mib) and mib >= 1 else None


def memory_added(request: Mapping[str, Any]) -> dict[str, int]:
    """RegisterTaskDefinition: container name -> the task's memory (MiB), for each container with neither
    ``memory`` nor ``memoryReservation`` in a task definition that gives memory at task level."""
    memory = task_memory_mib(request.get("memory"))
    if memory is None:
        return {}
    return {
        container["name"]: memory
        for container in request.get("containerDefinitions") or []
        if isinstance(container, dict)
        and isinstance(container.get("name"), str)
        and all(container.get(key) is None for key in ("memory", "memoryReservation"))
    }


def with_memory(request: dict[str, Any], added: Mapping[str, int]) -> dict[str, Any]:
    """The request as moto gets it: ``added`` as those containers' ``memoryReservation``."""
    if not added:
        return request
    containers = [
        {**container, "memoryReservation": added[container["name"]]}
        if isinstance(container, dict) and container.get("name") in added
        else container
        for container in request.get("containerDefinitions") or []
    ]
    return {**request, "containerDefinitions": containers}


def without_memory(definition: dict[str, Any], added: Mapping[str, int]) -> dict[str, Any]:
    """A task definition as moto answers it, with exactly what ``with_memory`` added taken out again."""
    containers = []
    for container in definition.get("containerDefinitions") or []:
        if (
            isinstance(container, dict)
            and container.get("name") in added
            and container.get("memoryReservation") == added[container["name"]]
        ):
            container = {key: value for key, value in container.items() if key != "memoryReservation"}
        containers.append(container)
    return {**definition, "containerDefinitions": containers}


def ecs_outgoing(target: str, request: dict[str, Any]) -> dict[str, Any]:
    """What moto gets: RegisterTaskDefinition with the task's memory on the containers that have none."""
    if target.rsplit(".", 1)[-1] != "RegisterTaskDefinition":
        return request
    return with_memory(request, memory_added(request))


def ecs_remember(
    target: str, request: Mapping[str, Any], response: Mapping[str, Any], filled: MutableMapping[str, dict[str, int]]
) -> None:
    """After a successful RegisterTaskDefinition: what was added, under the revision's ARN."""
    if target.rsplit(".", 1)[-1] != "RegisterTaskDefinition":
        return
    added = memory_added(request)
    arn = (response.get("taskDefinition") or {}).get("taskDefinitionArn")
    if added and isinstance(arn, str):
        filled[arn] = added


def ecs_answer(response: dict[str, Any], filled: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """An ECS answer with what the layer added taken out of every task definition in it (Register-, Describe-,
    DeregisterTaskDefinition's ``taskDefinition``, DeleteTaskDefinitions' ``taskDefinitions``)."""

    def clean(definition: Any) -> Any:
        arn = definition.get("taskDefinitionArn") if isinstance(definition, dict) else None
        added = filled.get(arn) if isinstance(arn, str) else None
        return without_memory(definition, added) if added else definition

    changed = dict(response)
    if isinstance(response.get("taskDefinition"), dict):
        changed["taskDefinition"] = clean(response["taskDefinition"])
    if isinstance(response.get("taskDefinitions"), list):
        changed["taskDefinitions"] = [clean(definition) for definition in response["taskDefinitions"]]
    return response if changed == response else changed


class GapLayer:
    """``url`` goes to moto at ``upstream``, with the SQS attributes and the ECS task memory above filled in."""

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0):
        self.upstream = urlsplit(upstream)
        if not self.upstream.hostname:  # else every call would fail in the handler thread, far from the cause
            raise ValueError(f"upstream {upstream!r}: expected moto's URL, e.g. http://127.0.0.1:5000")
        upstream_host = self.upstream.hostname
        self.kept: dict[str, dict] = {}  # SQS: queue -> the attributes moto drops
        self.filled: dict[str, dict[str, int]] = {}  # ECS: task definition ARN -> container -> MiB added
        self._lock = threading.Lock()
        layer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # one line per provider call would drown the test output
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target") or ""
                sent = layer._outgoing(target, body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                connection = http.client.HTTPConnection(upstream_host, layer.upstream.port, timeout=60)
                try:
                    connection.request(self.command, self.path, body=sent, headers=headers)
                    upstream = connection.getresponse()
                    status, reply, reply_headers = upstream.status, upstream.read(), upstream.getheaders()
                finally:
                    connection.close()
                if status == 200:
                    reply = layer._answer(target, body, reply)
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
        if not target.startswith((SQS_TARGET, ECS_TARGET)):
            return body
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return body
        if not isinstance(request, dict):
            return body
        changed = outgoing(target, request) if target.startswith(SQS_TARGET) else ecs_outgoing(target, request)
        return body if changed is request else json.dumps(changed).encode()

    def _answer(self, target: str, body: bytes, reply: bytes) -> bytes:
        if not target.startswith((SQS_TARGET, ECS_TARGET)):
            return reply
        try:
            request, response = json.loads(body or b"{}"), json.loads(reply or b"{}")
        except ValueError:  # the query protocol (XML): the provider and boto3 speak JSON to SQS and ECS
            return reply
        if not isinstance(request, dict) or not isinstance(response, dict):
            return reply
        with self._lock:
            if target.startswith(SQS_TARGET):
                remember(target, request, response, self.kept)
                changed = answer(target, request, response, self.kept)
            else:
                ecs_remember(target, request, response, self.filled)
                changed = ecs_answer(response, self.filled)
        return reply if changed is response else json.dumps(changed).encode()

    def start(self) -> GapLayer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> GapLayer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
