"""The executor's metrics: declared once, emitted where things happen, documented in docs/metrics.md."""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from pathlib import Path

import pytest

from airflow_ecs.glue.metrics import METRICS, PREFIX, Metrics, status_gauge
from tests.executor_harness import (
    error_response,
    fast_backoff,
    heartbeat_until,
    launch_one,
    moto_task,
    started,
    stop_in_moto,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"


class Recorder:
    """Stands where Airflow's stats module stands, and keeps what it was given."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = defaultdict(int)
        self.gauges: dict[str, float] = {}
        self.timings: dict[str, list[float]] = defaultdict(list)

    def incr(self, name: str, count: int = 1) -> None:
        self.counters[name] += count

    def gauge(self, name: str, value: float) -> None:
        self.gauges[name] = value

    def timing(self, name: str, delta) -> None:
        self.timings[name].append(delta.total_seconds())


def test_a_launch_its_throttle_and_its_life_are_counted_and_timed(ecs_env):
    executor = started()
    executor.metrics = Metrics(recorder := Recorder())
    throttled = []

    def throttle_once(request, **_):
        if not throttled:
            throttled.append(1)
            return error_response(400, "ThrottlingException", "Rate exceeded")
        return None

    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", throttle_once)
    with fast_backoff():
        _key, arn = launch_one(executor)
    assert recorder.counters[f"{PREFIX}.run_task.throttled"] == 1
    assert recorder.counters[f"{PREFIX}.run_task.launched"] == 1
    heartbeat_until(executor, lambda: recorder.gauges.get(f"{PREFIX}.tasks.provisioning") == 1)
    moto_task(arn).status = "RUNNING"
    heartbeat_until(executor, lambda: recorder.gauges.get(f"{PREFIX}.tasks.running") == 1)
    assert len(recorder.timings[f"{PREFIX}.queued_to_running"]) == 1
    stop_in_moto(arn, exit_code=0)
    heartbeat_until(executor, lambda: recorder.timings.get(f"{PREFIX}.stopped_to_known"))
    assert 0 <= recorder.timings[f"{PREFIX}.stopped_to_known"][0] < 30
    assert recorder.gauges[f"{PREFIX}.tasks.running"] == 0 and recorder.gauges[f"{PREFIX}.launches.pending"] == 0
    assert recorder.counters[f"{PREFIX}.sweeps.describe"] >= 2
    executor.terminate()


def test_an_undeclared_or_miskinded_name_is_refused():
    metrics = Metrics(Recorder())
    with pytest.raises(KeyError, match="not declared"):
        metrics.incr("run_task.launchd")
    with pytest.raises(KeyError, match="not declared as a gauge"):
        metrics.gauge("run_task.launched", 1)


class StatsBackend:
    """A backend behind Airflow's own stats front (where its StatsD or OpenTelemetry logger would be)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, object]] = []

    def incr(self, stat: str, count: int = 1, rate: float = 1, **_: object) -> None:
        self.received.append(("counter", stat, count))

    def gauge(self, stat: str, value: float, rate: float = 1, delta: bool = False, **_: object) -> None:
        self.received.append(("gauge", stat, value))

    def timing(self, stat: str, dt: object, **_: object) -> None:
        self.received.append(("timer", stat, dt))


def behind_airflows_stats(monkeypatch, backend: StatsBackend) -> None:
    """Put ``backend`` behind Airflow's stats front, the way each release lets one be chosen."""
    import os
    import sys

    from airflow_ecs.glue.airflow_compat import airflow_stats

    front = airflow_stats()
    if hasattr(front, "initialize"):  # 3.3+: module functions over a backend made by initialize()'s factory
        module = sys.modules[front.initialize.__module__]
        for name in ("_factory", "_backend", "_export_legacy_names"):
            monkeypatch.setattr(module, name, getattr(module, name))  # put back after the test
        front.initialize(factory=lambda: backend, export_legacy_names=False)
    else:  # 3.1, 3.2: the Stats class hands every call to its per-process instance
        monkeypatch.setattr(front, "instance", backend)
        monkeypatch.setattr(front, "_instance_pid", os.getpid())


def test_airflows_own_stats_take_every_declared_metric(monkeypatch):
    backend = StatsBackend()
    behind_airflows_stats(monkeypatch, backend)
    metrics = Metrics()  # Airflow's stats front, as the executor uses it
    send = {"counter": (metrics.incr, 2), "gauge": (metrics.gauge, 3.0), "timer": (metrics.timing, 0.5)}
    for metric in METRICS:
        method, amount = send[metric.kind]
        method(metric.name, amount)
    value = {"counter": 2, "gauge": 3.0, "timer": datetime.timedelta(seconds=0.5)}
    assert backend.received == [(m.kind, f"ecs_executor.{m.name}", value[m.kind]) for m in METRICS]


@pytest.mark.parametrize(
    ("status", "gauge"),
    [
        ("PROVISIONING", "tasks.provisioning"),
        ("", "tasks.provisioning"),
        ("PENDING", "tasks.pending"),
        ("ACTIVATING", "tasks.pending"),
        ("RUNNING", "tasks.running"),
        ("DEACTIVATING", "tasks.stopping"),
        ("STOPPING", "tasks.stopping"),
        ("DEPROVISIONING", "tasks.stopping"),
    ],
)
def test_each_ecs_status_counts_in_one_gauge(status, gauge):
    assert status_gauge(status) == gauge


def test_docs_list_every_metric_and_nothing_else():
    documented = set(re.findall(rf"^\| `{PREFIX}\.([a-z_.]+)` \|", DOC.read_text(), re.M))
    assert documented == {metric.name for metric in METRICS}
