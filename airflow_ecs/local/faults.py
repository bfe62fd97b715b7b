"""A fault layer for the local ECS: an HTTP proxy in front of moto that the executor is pointed at.

It reads the AWS JSON target header (``X-Amz-Target: AmazonEC2ContainerServiceV20141113.RunTask``) to know
the action, and by the rates of a ``FaultPlan`` (a seeded RNG, so a run can be replayed) it answers:
throttling (400), HTTP 500/503, a reset connection or a stalled one (past the client's read timeout) either
before the call reaches moto or after moto has acted on it; RunTask ``failures[]`` for capacity; some ARNs
of a DescribeTasks as MISSING. RunTask gets the ``clientToken`` idempotency ECS has and moto lacks, so a
retry of a call that did reach "ECS" returns the task it started instead of starting a second one.

``FaultyEvents`` wraps the runtime's EventBridge client: Task State Change events dropped, delivered
twice or late (hence out of order).

Only the executor's calls go through the proxy; the runtime and the test harness talk to moto directly.

The benchmarks' emulated endpoint is this proxy too (benchmarks/gateway.py), with the plan's endpoint options:
a fixed latency before every call, ECS's RunTask token bucket, StopTask answered as ECS answers it, and every
call counted per ``service.Action``; its DescribeTasks is answered in the gateway's process from moto's tasks by
ARN (the proxy's ``answer`` hook), where moto compares every stored task with every ARN asked for.
"""

from __future__ import annotations

import collections
import hashlib
import heapq
import http.client
import json
import random
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ECS_PREFIX = "AmazonEC2ContainerServiceV20141113"
SQS_PREFIX = "AmazonSQS"

# Faults that answer without moto ever seeing the call.
BEFORE = ("throttle", "server_error", "unavailable", "reset_before", "timeout_before")
# Faults where moto has acted on the call, and the client never hears the answer (or hears a 500).
AFTER = ("reset_after", "timeout_after", "server_error_after")
HTTP_FAULTS = BEFORE + AFTER
CAPACITY_FAILURES = (
    {"reason": "RESOURCE:MEMORY"},
    {"reason": "Capacity is unavailable at this time. Please try again later or in a different availability zone"},
)


@dataclass(frozen=True)
class FaultPlan:
    """Per-call probabilities (0..1) of each fault; the HTTP ones together must not exceed 1."""

    seed: int = 0
    throttle: float = 0.0
    server_error: float = 0.0
    unavailable: float = 0.0
    reset_before: float = 0.0
    timeout_before: float = 0.0
    reset_after: float = 0.0
    timeout_after: float = 0.0
    server_error_after: float = 0.0
    # RunTask only: ECS answers but places nothing.
    capacity: float = 0.0
    # Per ARN of a DescribeTasks, for tasks RunTask created at most ``missing_max_age`` seconds ago
    # (ECS's eventual consistency right after RunTask); None: any task, however old.
    describe_missing: float = 0.0
    missing_max_age: float | None = 5.0
    # Per Task State Change event.
    event_drop: float = 0.0
    event_duplicate: float = 0.0
    event_delay: float = 0.0
    event_delay_seconds: tuple[float, float] = (1.0, 6.0)
    # How long a "timeout" holds the connection silent: past botocore's read_timeout (30 s in ecs_api).
    stall_seconds: float = 32.0
    # Which services' calls get the HTTP faults (target prefixes); CloudWatch Logs reads are left alone.
    services: tuple[str, ...] = (ECS_PREFIX, SQS_PREFIX)
    idempotency_window: float = 3600.0
    # The endpoint itself: seconds every call waits before anything else; ECS's per-account RunTask bucket
    # (Fargate: 20 per second, burst 100), ThrottlingException when empty (None: no bucket); and a StopTask of a
    # task moto does not know answered as ECS does (400 InvalidParameterException; moto says 500).
    latency: float = 0.0
    run_task_rate: float | None = None
    run_task_burst: int = 100
    stop_unknown_as_ecs: bool = False

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if (
                item.type == "float"
                and item.name not in ("stall_seconds", "idempotency_window", "latency")
                and not 0.0 <= value <= 1.0
            ):
                raise ValueError(f"FaultPlan.{item.name} = {value!r}: expected a probability between 0 and 1")
        total = sum(getattr(self, name) for name in HTTP_FAULTS) + self.capacity
        if total > 1.0:
            raise ValueError(f"FaultPlan: the HTTP fault rates and capacity add up to {total:g}; at most 1")
        if self.event_drop + self.event_duplicate + self.event_delay > 1.0:
            raise ValueError("FaultPlan: event_drop + event_duplicate + event_delay must be at most 1")


class TokenBucket:
    """ECS's per-action token bucket, kept apart from the executor's own so the emulation is independent."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def signed_action(headers: Mapping[str, str] | Message, body: bytes) -> str:
    """``service.Action`` (``ecs.RunTask``) from SigV4's credential scope and the JSON target or the query body."""
    auth = headers.get("Authorization") or ""
    service = "unknown"
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    target = headers.get("X-Amz-Target") or ""
    if target:
        return f"{service}.{target.rsplit('.', 1)[-1]}"
    action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
    return f"{service}.{action}"


def parse_target(header: str | None) -> tuple[str, str]:
    """``X-Amz-Target`` -> (service prefix, action); ("", "") when the call has none."""
    if not header or "." not in header:
        return "", ""
    prefix, _, action = header.rpartition(".")
    return prefix, action


def choose_fault(plan: FaultPlan, service: str, action: str, roll: float) -> str | None:
    """The fault for one call, given a uniform ``roll`` in [0, 1): a name from HTTP_FAULTS, "capacity", or None."""
    if service not in plan.services:
        return None
    candidates = list(HTTP_FAULTS)
    if service == ECS_PREFIX and action == "RunTask":
        candidates.append("capacity")
    edge = 0.0
    for name in candidates:
        edge += getattr(plan, name)
        if roll < edge:
            return name
    return None


def choose_event_fault(plan: FaultPlan, roll: float) -> str | None:
    edge = 0.0
    for name in ("event_drop", "event_duplicate", "event_delay"):
        edge += getattr(plan, name)
        if roll < edge:
            return name.removeprefix("event_")
    return None


def request_fingerprint(body: Mapping[str, Any]) -> str:
    """What must match for a clientToken to be replayed: the whole request, in a canonical form."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class _TokenEntry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    fingerprint: str | None = None
    response: tuple[int, list[tuple[str, str]], bytes] | None = None
    stored_at: float = 0.0


class ClientTokens:
    """RunTask's idempotency: the first answer that placed a task, per token, replayed within the window.

    One lock per token: two copies of one call in flight at once (a retry racing a stalled original)
    forward once; the second waits and gets the first's answer.
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self._clock = clock
        self._entries: dict[str, _TokenEntry] = {}
        self._lock = threading.Lock()
        self.replays = 0
        self.conflicts = 0

    def entry(self, token: str) -> _TokenEntry:
        with self._lock:
            now = self._clock()
            entry = self._entries.get(token)
            if entry is None or (entry.response is not None and now - entry.stored_at > self.window):
                entry = self._entries[token] = _TokenEntry()
            return entry

    def run(
        self, token: str, fingerprint: str, forward: Callable[[], tuple[int, list[tuple[str, str]], bytes]]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The stored answer for this token, or ``forward()``'s, stored when it placed a task."""
        entry = self.entry(token)
        with entry.lock:
            if entry.response is not None:
                if entry.fingerprint != fingerprint:
                    self.conflicts += 1
                    return error_response(
                        400,
                        "ConflictException",
                        f"The clientToken {token} is already in use with a different RunTask request.",
                    )
                self.replays += 1
                return entry.response
            status, headers, body = forward()
            if status == 200 and _placed_a_task(body):
                entry.fingerprint, entry.response, entry.stored_at = fingerprint, (status, headers, body), self._clock()
            return status, headers, body


def _placed_a_task(body: bytes) -> bool:
    try:
        return bool(json.loads(body or b"{}").get("tasks"))
    except ValueError:
        return False


def error_response(status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)], body


def json_response(payload: Mapping[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(payload).encode()


def without_missing(body: bytes, missing: set[str]) -> bytes:
    """A DescribeTasks answer with the ``missing`` ARNs moved from ``tasks`` to ``failures`` as MISSING."""
    payload = json.loads(body)
    payload["tasks"] = [task for task in payload.get("tasks") or [] if task.get("taskArn") not in missing]
    payload["failures"] = list(payload.get("failures") or []) + [
        {"arn": arn, "reason": "MISSING"} for arn in sorted(missing)
    ]
    return json.dumps(payload).encode()


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}


class FaultProxy:
    """The proxy itself: ``start()`` it in front of moto's URL, point the executor at ``url``."""

    def __init__(
        self,
        upstream_url: str,
        plan: FaultPlan,
        *,
        port: int = 0,
        control: Callable[[str, dict[str, Any]], Any] | None = None,
        control_prefix: str = "/_control/",
        answer: Callable[[str, str, dict[str, Any]], tuple[int, list[tuple[str, str]], bytes] | None] | None = None,
    ):
        """``control``: the harness's own endpoints, ``control(path, JSON body) -> JSON answer``, for the paths
        under ``control_prefix`` (never forwarded, delayed or counted). ``answer``: a gap filled in the proxy's
        process, ``answer(service prefix, action, JSON request) -> (status, headers, body)`` or None to forward
        the call to moto; called where moto would be, so latency, the bucket, counts and faults apply as to moto's
        answer."""
        parsed = urllib.parse.urlsplit(upstream_url)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.plan = plan
        self.port = port
        self.control, self.control_prefix = control, control_prefix
        self.answer = answer
        self.bucket = TokenBucket(plan.run_task_rate, plan.run_task_burst) if plan.run_task_rate else None
        self.counts: collections.Counter[str] = collections.Counter()  # "service.Action" -> calls
        self.url = ""
        self.tokens = ClientTokens(plan.idempotency_window)
        self.calls: collections.Counter[str] = collections.Counter()
        self.injected: collections.Counter[str] = collections.Counter()  # fault name -> count
        self.injected_by_action: collections.Counter[tuple[str, str]] = collections.Counter()
        self._rng = random.Random(plan.seed)
        self._lock = threading.Lock()
        self._task_born: dict[str, float] = {}  # ARN -> when a RunTask through us created it
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    def configure(self, plan: FaultPlan) -> None:
        """A new plan from the next call on, with a full bucket and zero counts: each measurement starts alike."""
        with self._lock:
            self.plan = plan
            self.bucket = TokenBucket(plan.run_task_rate, plan.run_task_burst) if plan.run_task_rate else None
            self.counts.clear()

    # --- decisions (under the lock: one RNG shared by every handler thread) ---

    def _roll(self) -> float:
        with self._lock:
            return self._rng.random()

    def _count(self, name: str, action: str, n: int = 1) -> None:
        with self._lock:
            self.injected[name] += n
            self.injected_by_action[(action, name)] += n

    def _missing_arns(self, arns: list[str]) -> set[str]:
        plan = self.plan
        if not plan.describe_missing:
            return set()
        now = time.monotonic()
        chosen = set()
        for arn in arns:
            born = self._task_born.get(arn)
            young = plan.missing_max_age is None or (born is not None and now - born <= plan.missing_max_age)
            if young and self._roll() < plan.describe_missing:
                chosen.add(arn)
        return chosen

    # --- serving ---

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # one line per AWS call would bury the output
                pass

            def do_POST(self) -> None:
                try:
                    proxy._handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up first (its own timeout, or it was killed)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

            def finish(self) -> None:
                try:
                    super().finish()
                except OSError:
                    pass  # a connection we reset on purpose

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="local-ecs-faults", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        # SQS long polls for up to 20 s; moto answers everything else at once.
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            payload = response.read()
            return response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP], payload
        finally:
            connection.close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if self.control is not None and handler.path.startswith(self.control_prefix):
            return self._reply(
                handler,
                (
                    200,
                    [("Content-Type", "application/json")],
                    json.dumps(self.control(handler.path, _json_or_empty(body))).encode(),
                ),
            )
        service, action = parse_target(handler.headers.get("X-Amz-Target"))
        name = action or "(other)"
        signed = signed_action(handler.headers, body)
        with self._lock:
            plan, bucket = self.plan, self.bucket
            self.calls[name] += 1
            self.counts[signed] += 1
        if plan.latency:
            time.sleep(plan.latency)
        if bucket is not None and service == ECS_PREFIX and action == "RunTask" and not bucket.take():
            with self._lock:
                self.counts[f"{signed}.throttled"] += 1
            return self._reply(handler, error_response(400, "ThrottlingException", "Rate exceeded"))
        fault = choose_fault(plan, service, action, self._roll())
        headers = list(handler.headers.items())

        if fault in BEFORE:
            self._count(fault, name)
            if fault == "throttle":
                return self._reply(handler, error_response(400, "ThrottlingException", "Rate exceeded"))
            if fault == "server_error":
                return self._reply(handler, error_response(500, "ServerException", "Service encountered an error"))
            if fault == "unavailable":
                return self._reply(handler, error_response(503, "ServiceUnavailableException", "Service unavailable"))
            return self._break(handler, fault)

        is_run_task = service == ECS_PREFIX and action == "RunTask"
        request = _json_or_empty(body)

        def forward() -> tuple[int, list[tuple[str, str]], bytes]:
            answered = self.answer(service, action, request) if self.answer is not None else None
            return answered if answered is not None else self._forward(handler.command, handler.path, headers, body)

        if is_run_task and request.get("clientToken"):
            token, fingerprint = request["clientToken"], request_fingerprint(request)
            if fault == "capacity" and not self.tokens.entry(token).response:
                self._count(fault, name)
                return self._reply(handler, self._capacity_failure())
            answer = self.tokens.run(token, fingerprint, forward)
        elif fault == "capacity":
            self._count(fault, name)
            return self._reply(handler, self._capacity_failure())
        else:
            answer = forward()

        status, out_headers, payload = answer
        if is_run_task and status == 200:
            now = time.monotonic()
            for task in _json_or_empty(payload).get("tasks") or []:
                self._task_born.setdefault(task.get("taskArn", ""), now)
        if service == ECS_PREFIX and action == "DescribeTasks" and status == 200:
            missing = self._missing_arns(list(request.get("tasks") or []))
            found = {t.get("taskArn") for t in _json_or_empty(payload).get("tasks") or []}
            missing &= found
            if missing:
                self._count("describe_missing", name, len(missing))
                payload = without_missing(payload, missing)

        if plan.stop_unknown_as_ecs and service == ECS_PREFIX and action == "StopTask" and status >= 500:
            # ECS's answer, which Airflow's own executor's health check (a StopTask of a made-up task) counts
            # as healthy.
            status, out_headers, payload = error_response(
                400, "InvalidParameterException", "The referenced task was not found."
            )
        if fault in AFTER:
            self._count(fault, name)
            if fault == "server_error_after":
                return self._reply(handler, error_response(500, "ServerException", "Service encountered an error"))
            return self._break(handler, fault)
        self._reply(handler, (status, out_headers, payload))

    def _capacity_failure(self) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            failure = dict(self._rng.choice(CAPACITY_FAILURES))
        return json_response({"tasks": [], "failures": [failure]})

    def _reply(self, handler: BaseHTTPRequestHandler, answer: tuple[int, list[tuple[str, str]], bytes]) -> None:
        status, headers, body = answer
        handler.send_response_only(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("server", "date"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
        handler.wfile.flush()

    def _break(self, handler: BaseHTTPRequestHandler, fault: str) -> None:
        """No answer: a TCP reset now, or silence until the client's read timeout has fired."""
        if fault.startswith("timeout"):
            self._stopping.wait(self.plan.stall_seconds)
        handler.close_connection = True
        try:
            # SO_LINGER 0: close() sends RST instead of FIN, as a dropped load balancer connection does.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
        except OSError:
            pass

    def counted(self) -> dict[str, int]:
        """Calls per ``service.Action``, with ``ecs.RunTask.throttled`` for the bucket's refusals."""
        with self._lock:
            return dict(self.counts)

    def figures(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "injected": dict(self.injected),
                "client_token_replays": self.tokens.replays,
                "client_token_conflicts": self.tokens.conflicts,
            }


def _json_or_empty(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class FaultyEvents:
    """The runtime's EventBridge client with EventBridge's worst behaviour, by rate: an event dropped,
    delivered twice, or delivered late (so a later state change overtakes it)."""

    def __init__(self, client: Any, plan: FaultPlan):
        self._client = client
        self.plan = plan
        self._rng = random.Random(plan.seed + 1)
        self._lock = threading.Lock()
        self._due: list[tuple[float, int, dict[str, Any]]] = []
        self._counter = 0
        self._wake = threading.Condition(self._lock)
        self._stopped = False
        self.injected: collections.Counter[str] = collections.Counter()
        self.published = 0
        self._thread = threading.Thread(target=self._deliver_late, name="local-ecs-late-events", daemon=True)
        self._thread.start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_events(self, **kwargs: Any) -> Any:
        with self._lock:
            roll = self._rng.random()
            fault = choose_event_fault(self.plan, roll)
            self.published += 1
            if fault:
                self.injected[fault] += 1
            if fault == "drop":
                return {"FailedEntryCount": 0, "Entries": [{"EventId": "dropped"}]}
            if fault in ("delay", "duplicate"):
                low, high = self.plan.event_delay_seconds
                delay = self._rng.uniform(low, high) if fault == "delay" else self._rng.uniform(0.0, 2.0)
                self._counter += 1
                heapq.heappush(self._due, (time.monotonic() + delay, self._counter, kwargs))
                self._wake.notify()
                if fault == "delay":
                    return {"FailedEntryCount": 0, "Entries": [{"EventId": "delayed"}]}
        return self._client.put_events(**kwargs)

    def _deliver_late(self) -> None:
        while True:
            with self._lock:
                while not self._stopped and (not self._due or self._due[0][0] > time.monotonic()):
                    self._wake.wait(timeout=(self._due[0][0] - time.monotonic()) if self._due else None)
                if self._stopped:
                    return
                _, _, kwargs = heapq.heappop(self._due)
            try:
                self._client.put_events(**kwargs)
            except Exception:  # noqa: BLE001 - a late event that cannot be sent is one more lost event
                pass

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._wake.notify()

    def figures(self) -> dict[str, Any]:
        with self._lock:
            return {"published": self.published, **{f"event_{k}": v for k, v in self.injected.items()}}
