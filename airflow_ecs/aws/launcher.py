"""RunTask off the scheduler's thread: a bounded pool of workers behind a token bucket.

``submit`` returns at once; each call's result is put on a queue that the executor drains in ``sync()``
on the scheduler's thread, so Airflow state is only ever touched there.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from airflow_ecs.aws.rate_limit import TokenBucket
from airflow_ecs.core.failures import FailureKind, RunTaskResult

# When ECS throttles us, the whole bucket pauses this long (and its rate is cut): other callers share the
# account's limit.
THROTTLE_PAUSE = 1.0


@dataclass(frozen=True)
class Launched:
    key: Hashable
    launch: int
    result: RunTaskResult
    thread_name: str
    cancelled: bool = False


class Launcher:
    def __init__(
        self,
        call: Callable[[Mapping[str, Any]], RunTaskResult],
        bucket: TokenBucket,
        concurrency: int,
        results: queue.SimpleQueue,
    ):
        self._call = call
        self._bucket = bucket
        self._results = results
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ecs-launch")
        self._futures: dict[Hashable, tuple[int, Future]] = {}
        self._cancelled: set[Hashable] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._start_threads(concurrency)

    def _start_threads(self, concurrency: int) -> None:
        """Start every launch thread now, at the executor's start, not in the heartbeat of the first burst:
        a pool starts a thread at a submit, and starting one waits until the OS runs it (tens of ms on a busy
        machine, ten times over in one heartbeat)."""
        started = threading.Barrier(concurrency + 1)
        for _ in range(concurrency):
            self._pool.submit(started.wait, 10)
        try:
            started.wait(10)
        except threading.BrokenBarrierError:
            pass  # a slow start: the threads still come, as launches need them

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._futures)

    def ahead(self, seconds: float) -> float:
        """Launches the rate limit lets out within ``seconds``."""
        return self._bucket.ahead(seconds)

    def submit(self, key: Hashable, request: Mapping[str, Any], launch: int) -> None:
        """``key`` names one attempt (the executor passes Airflow's key with the attempt's generation), so a
        cancelled attempt stays cancelled when Airflow queues the same task instance again."""
        with self._lock:
            self._futures[key] = (launch, self._pool.submit(self._launch, key, request, launch))

    def cancel(self, key: Hashable) -> None:
        """Drop a launch not yet sent. One already sent completes; the executor stops what it started."""
        with self._lock:
            entry = self._futures.pop(key, None)
            if entry is None or entry[1].cancel():
                return  # nothing in flight, or dropped before it ran
            self._cancelled.add(key)  # running: maybe still waiting for a rate-limit token

    def _launch(self, key: Hashable, request: Mapping[str, Any], launch: int) -> None:
        def cancelled() -> bool:
            return self._closing.is_set() or key in self._cancelled

        name = threading.current_thread().name
        if not self._bucket.acquire(cancelled):
            outcome = Launched(key, launch, RunTaskResult(), name, cancelled=True)
        else:
            sent_at = self._bucket.now()
            result = self._call(request)
            kind = result.failure.kind if result.failure is not None else None
            if kind is FailureKind.THROTTLED:
                self._bucket.throttled(sent_at, THROTTLE_PAUSE)
            elif kind is not FailureKind.TRANSIENT:
                # ECS answered (a task, failures[], or a refusal): the call passed the account's rate limit.
                # A transient error (a timeout, a 5xx) says nothing about the rate either way.
                self._bucket.answered(sent_at)
            outcome = Launched(key, launch, result, name)
        with self._lock:
            self._cancelled.discard(key)
            entry = self._futures.get(key)
            if entry is not None and entry[0] == launch:
                del self._futures[key]
        self._results.put(outcome)

    def shutdown(self, wait: bool = True) -> None:
        """Stop launching: queued launches are dropped, calls already sent finish."""
        self._closing.set()
        with self._lock:
            entries = list(self._futures.values())
            self._futures.clear()
        for _, future in entries:
            future.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=True)
