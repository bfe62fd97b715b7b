"""The RunTask token bucket on a fake clock: burst, then the sustained rate, a shared penalty, and a rate that
adapts to throttling so several schedulers sharing one account's limit converge on their share."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_ecs.aws.launcher import Launcher
from airflow_ecs.aws.rate_limit import TokenBucket
from airflow_ecs.core.failures import FailureKind, LaunchFailure, RunTaskResult


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


# --- adapting to throttling: additive increase, multiplicative decrease ---


def test_a_throttle_halves_the_rate_and_pauses(clock):
    limiter = bucket(clock)
    limiter.throttled(sent_at=clock(), pause=1.0)
    assert limiter.rate == pytest.approx(10.0)
    # Paused one second, then tokens at the new rate.
    assert limiter.try_acquire() == pytest.approx(1.0 + 1 / 10)


def test_calls_in_flight_at_a_cut_are_one_round(clock):
    # Ten launch threads had calls in flight when the account's bucket ran dry: all ten come back throttled,
    # but they were sent at the old rate; the rate is cut once, not to 20 / 2**10.
    limiter = bucket(clock)
    sent = clock()
    clock.advance(0.1)
    for _ in range(10):
        limiter.throttled(sent_at=sent, pause=1.0)
    assert limiter.rate == pytest.approx(10.0)
    # A call sent after the cut and throttled too: the new rate is still too much, cut again.
    clock.advance(1.0)
    limiter.throttled(sent_at=clock(), pause=1.0)
    assert limiter.rate == pytest.approx(5.0)


def test_answers_raise_the_rate_by_about_half_a_call_per_second_each_second(clock):
    limiter = bucket(clock)
    limiter.throttled(sent_at=clock(), pause=0.0)
    assert limiter.rate == pytest.approx(10.0)
    clock.advance(0.1)
    # One second of answers at 10/s: 10 answers, each + 0.5 / rate.
    for _ in range(10):
        limiter.answered(sent_at=clock())
    assert limiter.rate == pytest.approx(10.5, abs=0.02)


def test_answers_to_calls_sent_before_a_cut_do_not_raise_the_rate(clock):
    limiter = bucket(clock)
    sent = clock()
    clock.advance(0.05)
    limiter.throttled(sent_at=clock(), pause=0.0)
    limiter.answered(sent_at=sent)
    assert limiter.rate == pytest.approx(10.0)


def test_the_rate_never_passes_the_configured_limit(clock):
    limiter = bucket(clock)
    for _ in range(1000):
        limiter.answered(sent_at=clock())
    assert limiter.rate == 20.0
    assert drain(limiter) == 100


def test_the_rate_never_falls_below_one_percent_of_the_limit(clock):
    limiter = bucket(clock)
    for _ in range(50):
        clock.advance(0.01)
        limiter.throttled(sent_at=clock(), pause=0.0)
    assert limiter.rate == pytest.approx(0.2)


def test_the_burst_shrinks_with_the_rate(clock):
    # A scheduler with a quarter of the limit saves up a quarter of the burst, not all of it.
    limiter = bucket(clock)
    limiter.throttled(sent_at=clock(), pause=0.0)
    clock.advance(0.01)
    limiter.throttled(sent_at=clock(), pause=0.0)
    assert limiter.rate == pytest.approx(5.0)
    clock.now += 3600
    assert drain(limiter) == 25


@pytest.mark.parametrize(("decrease", "increase"), [(0, 0.5), (1, 0.5), (1.5, 0.5), (0.5, -1)])
def test_a_bucket_needs_a_decrease_below_one_and_an_increase_not_negative(decrease, increase):
    with pytest.raises(ValueError, match="decrease"):
        TokenBucket(20, 100, decrease=decrease, increase=increase)


# Random interleavings of time, takes, throttles (of calls sent any time up to now) and answers.
operations = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0, 5)),
        st.tuples(st.just("take"), st.just(0.0)),
        st.tuples(st.just("throttled"), st.floats(0, 3)),
        st.tuples(st.just("answered"), st.floats(0, 3)),
    ),
    max_size=200,
)


@given(ops=operations, rate=st.floats(0.5, 50), burst=st.integers(1, 200))
@settings(max_examples=300, deadline=None)
def test_the_rate_stays_between_its_floor_and_the_limit_and_tokens_within_the_burst(ops, rate, burst):
    clock = FakeClock()
    limiter = TokenBucket(rate, burst, clock=clock, sleep=clock.sleep)
    for op, value in ops:
        if op == "advance":
            clock.now += value
        elif op == "take":
            limiter.try_acquire()
        elif op == "throttled":
            limiter.throttled(sent_at=clock() - value, pause=1.0)
        else:
            limiter.answered(sent_at=clock() - value)
        assert rate / 100 - 1e-9 <= limiter.rate <= rate
        assert limiter._tokens <= limiter.capacity <= burst
        assert limiter.capacity >= 1


@given(steps=st.lists(st.floats(0, 2), max_size=200), rate=st.floats(0.5, 50), burst=st.integers(1, 200))
@settings(max_examples=200, deadline=None)
def test_never_throttled_it_grants_exactly_what_a_fixed_bucket_grants(steps, rate, burst):
    # Answers alone never move the rate past the limit: without throttling it is the plain bucket it was.
    clock = FakeClock()
    limiter = TokenBucket(rate, burst, clock=clock, sleep=clock.sleep)
    granted, allowed = 0, float(burst)
    start = clock()
    for step in steps:
        clock.now += step
        if limiter.try_acquire() == 0:
            granted += 1
            limiter.answered(sent_at=clock())
    allowed += (clock() - start) * rate
    assert limiter.rate == rate
    assert granted <= allowed + 1e-6


# --- several schedulers, one account: a discrete-time simulation on one fake clock, no threads ---


class AccountLimit:
    """ECS's side: one RunTask bucket for the account (20/s, burst 100), a take per call."""

    def __init__(self, clock: FakeClock):
        self.clock, self.tokens, self.updated = clock, 100.0, clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(100.0, self.tokens + (now - self.updated) * 20.0)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def share_one_limit(schedulers: int, tasks_each: int, latency: float, concurrency: int) -> dict[str, float]:
    """Each scheduler: ``concurrency`` launch threads behind its own bucket, each call answered ``latency``
    later, a throttled task launched again. Steps of 5 ms until every task is launched."""
    clock = FakeClock()
    account = AccountLimit(clock)
    buckets = [TokenBucket(20.0, 100, clock=clock, sleep=clock.sleep) for _ in range(schedulers)]
    pending = [tasks_each] * schedulers
    in_flight: list[list[tuple[float, float, bool]]] = [[] for _ in range(schedulers)]
    launched, calls, throttled, start = 0, 0, 0, clock()
    while launched < schedulers * tasks_each:
        assert clock() - start < 3600, "the schedulers stopped launching"
        for i, limiter in enumerate(buckets):
            due = [call for call in in_flight[i] if call[0] <= clock()]
            in_flight[i] = [call for call in in_flight[i] if call[0] > clock()]
            for _, sent, ok in due:
                if ok:
                    limiter.answered(sent)
                    launched += 1
                else:
                    limiter.throttled(sent, pause=1.0)
                    pending[i] += 1
            while len(in_flight[i]) < concurrency and pending[i] and limiter.try_acquire() == 0:
                pending[i] -= 1
                ok = account.take()
                calls, throttled = calls + 1, throttled + (not ok)
                in_flight[i].append((clock() + latency, clock(), ok))
        clock.now += 0.005
    seconds = clock() - start
    return {"throughput": (schedulers * tasks_each - 100) / 20.0 / seconds, "throttled": throttled / calls}


@pytest.mark.parametrize("schedulers", [2, 4])
@pytest.mark.parametrize(("latency", "concurrency"), [(0.1, 10), (0.02, 10), (0.1, 4)])
def test_schedulers_sharing_the_limit_use_90_percent_of_it_with_under_5_percent_throttled(
    schedulers, latency, concurrency
):
    result = share_one_limit(schedulers, 2000 // schedulers, latency, concurrency)
    assert result["throughput"] >= 0.9
    assert result["throttled"] < 0.05


def test_one_scheduler_alone_is_never_throttled():
    result = share_one_limit(1, 1000, 0.1, 10)
    assert result["throttled"] == 0
    assert result["throughput"] >= 0.99


@pytest.mark.parametrize(
    ("answer", "rate_after"),
    [
        (RunTaskResult(task_arn="arn:aws:ecs:us-east-1:1:task/c/1"), 10.05),  # launched: + 0.5 / 10
        (RunTaskResult(failure=LaunchFailure(FailureKind.CAPACITY, "RESOURCE:FARGATE", ""), answered=True), 10.05),
        (RunTaskResult(failure=LaunchFailure(FailureKind.PERMANENT, "AccessDeniedException", "no")), 10.05),
        (RunTaskResult(failure=LaunchFailure(FailureKind.THROTTLED, "ThrottlingException", "Rate exceeded")), 5.0),
        (RunTaskResult(failure=LaunchFailure(FailureKind.TRANSIENT, "ReadTimeout", "")), 10.0),  # says nothing
    ],
)
def test_the_launcher_feeds_each_answer_to_the_bucket(clock, answer, rate_after):
    import queue

    limiter = bucket(clock)
    limiter.throttled(sent_at=clock(), pause=0.0)
    clock.advance(0.1)
    results: queue.SimpleQueue = queue.SimpleQueue()
    launcher = Launcher(lambda request: answer, limiter, concurrency=1, results=results)
    launcher.submit("key", {}, 1)
    assert results.get(timeout=30).result is answer
    launcher.shutdown()
    assert limiter.rate == pytest.approx(rate_after)


def test_ahead_counts_the_tokens_there_and_those_the_rate_adds_and_none_while_paused(clock):
    limiter = bucket(clock, 20.0, 100)
    assert limiter.ahead(5.0) == pytest.approx(200.0)  # a full burst, and 5 s at 20/s
    drain(limiter)
    assert limiter.ahead(5.0) == pytest.approx(100.0)
    limiter.throttled(clock(), 1.0)  # rate halved to 10/s, paused 1 s: 10 tokens owed
    assert limiter.ahead(0.5) == 0.0
    assert limiter.ahead(5.0) == pytest.approx(40.0)


def test_the_launch_threads_are_started_with_the_launcher_not_at_the_first_launch():
    import queue

    before = set(threading.enumerate())
    launcher = Launcher(
        lambda request: RunTaskResult(), TokenBucket(20.0, 100), concurrency=3, results=queue.SimpleQueue()
    )
    try:
        started = [t for t in set(threading.enumerate()) - before if t.name.startswith("ecs-launch")]
        assert len(started) == 3
    finally:
        launcher.shutdown()
