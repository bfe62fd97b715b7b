"""A thread-safe token bucket, sized by default like Fargate's RunTask limit (20/s, burst 100)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate} burst={burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_acquire(self) -> float:
        """Take a token if one is there: returns 0. Otherwise returns the seconds until one will be."""
        with self._lock:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate

    def acquire(self, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Block until a token is taken (True) or ``cancelled()`` turns true (False)."""
        while True:
            if cancelled():
                return False
            wait = self.try_acquire()
            if wait == 0:
                return True
            self._sleep(min(wait, 0.5))

    def penalize(self, seconds: float) -> None:
        """Empty the bucket for ``seconds``: AWS said we are throttled, so everyone backs off, not one call."""
        with self._lock:
            self._refill()
            # From now, not on top of an earlier pause: ten calls throttled at once mean one pause, not ten.
            self._tokens = min(self._tokens, -seconds * self.rate)
