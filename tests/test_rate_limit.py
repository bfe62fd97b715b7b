"""The RunTask token bucket on a fake clock: burst, then the sustained rate, and a shared penalty."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_ecs.rate_limit import TokenBucket


class FakeClock:
    """Time that moves only when a test (or the bucket's sleep) moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        # A hair past the mark, so float rounding of now * rate cannot leave 0.9999... of a token.
        self.now += seconds + 1e-9

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def bucket(clock: FakeClock, rate: float = 20.0, burst: int = 100) -> TokenBucket:
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep)


def drain(limiter: TokenBucket) -> int:
    taken = 0
    while limiter.try_acquire() == 0:
        taken += 1
    return taken


@pytest.mark.parametrize(("rate", "burst"), [(20.0, 100), (1.0, 1), (0.5, 3), (100.0, 10), (2.0, 50)])
def test_burst_then_rate(clock, rate, burst):
    limiter = bucket(clock, rate, burst)
    assert drain(limiter) == burst
    assert limiter.try_acquire() == pytest.approx(1 / rate)
    clock.advance(1 / rate)
    assert limiter.try_acquire() == 0
    assert limiter.try_acquire() > 0
    # Ten seconds later: rate * 10 tokens, but never more than the burst.
    clock.now += 10
    assert drain(limiter) == min(burst, int(rate * 10))


def test_an_idle_bucket_refills_only_to_the_burst(clock):
    limiter = bucket(clock)
    drain(limiter)
    clock.now += 3600
    assert drain(limiter) == 100


def test_the_wait_is_until_the_next_token(clock):
    limiter = bucket(clock, rate=4.0, burst=1)
    assert limiter.try_acquire() == 0
    clock.now += 0.125  # half a token back
    assert limiter.try_acquire() == pytest.approx(0.125)


@pytest.mark.parametrize("seconds", [0.5, 2.0, 30.0])
def test_penalize_empties_the_bucket_for_that_long(clock, seconds):
    limiter = bucket(clock)
    limiter.penalize(seconds)
    assert limiter.try_acquire() == pytest.approx(seconds + 1 / 20)
    clock.advance(seconds)
    assert limiter.try_acquire() == pytest.approx(1 / 20)
    clock.advance(1 / 20)
    assert limiter.try_acquire() == 0


def test_penalties_at_the_same_moment_do_not_stack(clock):
    # Ten launch threads throttled at once each call penalize(1): the bucket pauses 1 s, not 10 s.
    limiter = bucket(clock)
    limiter.penalize(1.0)
    limiter.penalize(1.0)
    assert limiter.try_acquire() == pytest.approx(1.0 + 1 / 20)


def test_acquire_sleeps_in_short_steps_until_a_token(clock):
    limiter = bucket(clock, rate=0.5, burst=1)
    assert limiter.acquire() is True
    assert limiter.acquire() is True
    assert clock.now == pytest.approx(1002.0)
    assert all(0 < step <= 0.5 for step in clock.sleeps)


def test_acquire_returns_false_when_cancelled_without_taking_a_token(clock):
    limiter = bucket(clock, burst=1)
    assert limiter.acquire(cancelled=lambda: True) is False
    assert clock.sleeps == []
    assert limiter.try_acquire() == 0, "a cancelled acquire must leave the token"


def test_acquire_stops_waiting_when_cancelled_meanwhile(clock):
    limiter = bucket(clock, rate=0.01, burst=1)
    limiter.try_acquire()
    checks = iter([False, False, False, True])
    assert limiter.acquire(cancelled=lambda: next(checks)) is False
    assert len(clock.sleeps) == 3


@pytest.mark.parametrize(("rate", "burst"), [(0, 10), (-1, 10), (20, 0), (20, -5)])
def test_a_bucket_needs_a_positive_rate_and_burst(rate, burst):
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate, burst)


def test_threads_share_the_burst_exactly(clock):
    limiter = bucket(clock, rate=1.0, burst=50)
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(1 for _ in range(40) if limiter.try_acquire() == 0)
        with lock:
            taken.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(taken) == 50


class YieldingRate(float):
    """A rate that gives up the GIL each time the refill multiplies by it. The refill reads the tokens before
    that product, so without the lock every thread would read the same count here and each would write back
    its own, taking more tokens than there are; with the lock the others wait outside."""

    def __rmul__(self, other: float) -> float:
        time.sleep(0.001)
        return float(other) * float(self)


@pytest.mark.parametrize("threads", [2, 4])
def test_the_lock_keeps_threads_preempted_mid_refill_within_the_burst(clock, threads):
    # Without the lock in try_acquire this takes 2 x and 4 x the burst, every run (preemption is forced).
    limiter = TokenBucket(YieldingRate(1.0), 10, clock=clock, sleep=clock.sleep)
    start = threading.Barrier(threads)
    taken: list[int] = []

    def worker() -> None:
        start.wait()
        taken.append(sum(1 for _ in range(10) if limiter.try_acquire() == 0))

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert sum(taken) == 10
