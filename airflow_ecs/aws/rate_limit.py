"""A thread-safe token bucket, sized by default like Fargate's RunTask limit (20/s, burst 100), whose rate adapts.

RunTask's limit is the account's, shared by every scheduler launching in it: a scheduler that assumes the
whole 20/s is its own is throttled as soon as a second one launches too. So the rate adapts as TCP's window
does (additive increase, multiplicative decrease): every answered call raises it by ``increase / rate`` (about
``increase`` tokens/s per second while calls flow at the rate), every ThrottlingException cuts it by
``decrease``. N schedulers doing this converge on about limit/N each; alone, one climbs back to the
configured rate. The burst shrinks with the rate (a scheduler with a quarter of the limit saves up a quarter
of the burst), so an idle scheduler's first burst does not empty the account's bucket for the others.

The bucket is pure but for a lock: time comes from ``clock`` and waiting from ``sleep``, both passed in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Per second, while calls flow at the rate: from a quarter of 20/s back to all of it in about 30 s. Slow on
# purpose: each step past the account's limit costs a throttled call, so the climb sets the share throttled.
DEFAULT_INCREASE = 0.5
# Halved at a throttle: the classic AIMD factor, converges on fair shares from any start.
DEFAULT_DECREASE = 0.5


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        min_rate: float | None = None,
        increase: float = DEFAULT_INCREASE,
        decrease: float = DEFAULT_DECREASE,
    ):
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate} burst={burst}")
        if not 0 < decrease < 1 or increase < 0:
            raise ValueError(
                f"decrease must be in (0, 1) and increase >= 0, got decrease={decrease} increase={increase}"
            )
        self.max_rate = rate
        self.rate = rate
        # A floor, so a long storm of throttles cannot stall launching for good: 1% of the limit.
        self.min_rate = min(rate, min_rate if min_rate is not None else rate / 100)
        self.burst = burst
        self.increase = increase
        self.decrease = decrease
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        # When the rate was last cut: answers to calls sent before it were sent at the old rate and say
        # nothing new (ten calls in flight throttled together mean one cut, not ten).
        self._decreased_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def capacity(self) -> float:
        """The burst in proportion to the rate: this scheduler's share of the account's burst."""
        return max(1.0, self.burst * (self.rate / self.max_rate))  # exactly the burst at the full rate

    def now(self) -> float:
        """The bucket's clock: a launch notes it when it sends a call, for ``throttled``/``answered``."""
        return self._clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_acquire(self) -> float:
        """Take a token if one is there: returns 0. Otherwise returns the seconds until one will be."""
        with self._lock:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate

    def ahead(self, seconds: float) -> float:
        """Tokens this bucket can hand out within ``seconds`` at its current rate (fewer while it pauses)."""
        with self._lock:
            self._refill()
            return max(0.0, self._tokens + self.rate * seconds)

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

    def throttled(self, sent_at: float, pause: float) -> None:
        """A call sent at ``sent_at`` (``now()``) was throttled: cut the rate once per round, and pause."""
        with self._lock:
            self._refill()
            if sent_at >= self._decreased_at:
                self.rate = max(self.min_rate, self.rate * self.decrease)
                self._decreased_at = self._clock()
                self._tokens = min(self._tokens, self.capacity)
            self._tokens = min(self._tokens, -pause * self.rate)

    def answered(self, sent_at: float) -> None:
        """A call sent at ``sent_at`` went through (not throttled): the rate may grow towards the limit."""
        with self._lock:
            if sent_at < self._decreased_at:
                return  # sent at the rate that was just cut: not a sign that the new one is fine
            self._refill()
            self.rate = min(self.max_rate, self.rate + self.increase / self.rate)
