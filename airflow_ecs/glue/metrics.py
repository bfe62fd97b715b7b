"""The executor's metrics, through Airflow's own stats (so StatsD, Datadog and OpenTelemetry get them).

Every name is declared once in ``METRICS`` with its kind and meaning; docs/metrics.md lists the same
table and a test keeps the two equal. Names carry the class in the name itself (``...run_task.throttled``)
because plain StatsD drops tags.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

PREFIX = "ecs_executor"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "counter", "gauge" or "timer"
    description: str


METRICS: tuple[Metric, ...] = (
    Metric("run_task.launched", "counter", "RunTask calls that started an ECS task."),
    Metric("run_task.throttled", "counter", "RunTask calls ECS throttled (retried with the same clientToken)."),
    Metric("run_task.transient", "counter", "RunTask calls that failed with a 5xx, timeout or connection error."),
    Metric("run_task.capacity", "counter", "RunTask calls refused for lack of capacity (RESOURCE:*, Spot capacity)."),
    Metric("run_task.permanent", "counter", "RunTask calls refused for good (bad parameters, access denied, ...)."),
    Metric(
        "launches.pending",
        "gauge",
        "Tasks taken from Airflow and not yet launched: to build, in flight, or waiting for a retry.",
    ),
    Metric("tasks.provisioning", "gauge", "Tracked ECS tasks PROVISIONING (or not yet described)."),
    Metric("tasks.pending", "gauge", "Tracked ECS tasks PENDING or ACTIVATING."),
    Metric("tasks.running", "gauge", "Tracked ECS tasks RUNNING."),
    Metric("tasks.stopping", "gauge", "Tracked ECS tasks on their way down (DEACTIVATING, STOPPING, DEPROVISIONING)."),
    Metric("queued_to_running", "timer", "From taking the task from Airflow to seeing its ECS task RUNNING."),
    Metric("stopped_to_known", "timer", "From ECS stopping the task (stoppedAt) to the executor reporting it."),
    Metric(
        "tasks.superseded",
        "counter",
        "Attempts replaced because Airflow queued the same key again (a reschedule "
        "sensor, a resumed deferral, a requeue); their results are never reported.",
    ),
    Metric("run_task.superseded", "counter", "ECS tasks started for a revoked or superseded attempt, stopped at once."),
    Metric("tasks.relaunched", "counter", "ECS tasks launched again after an infrastructure failure before they ran."),
    Metric("sweeps.describe", "counter", "DescribeTasks sweeps (polling, or what a reconciliation found)."),
    Metric("sweeps.reconcile", "counter", "Reconciliation sweeps (ListTasks) when tracking by events."),
    Metric("events.applied", "counter", "Task State Change events applied (newer than what the task showed)."),
    Metric(
        "adopt_task_instances.duration",
        "timer",
        "Time try_adopt_task_instances took (AwsEcsExecutor's metric of the same name).",
    ),
    Metric("events.ignored", "counter", "Events received and deleted without effect: duplicates, stale, late."),
    Metric(
        "events.not_ours",
        "counter",
        "Events of tasks this scheduler does not track, deleted from its own queue (events_queue_exclusive).",
    ),
)
_KINDS = {metric.name: metric.kind for metric in METRICS}


class Metrics:
    """Emits the declared metrics to ``backend`` (Airflow's stats unless a test gives another)."""

    def __init__(self, backend: Any = None, team: str | None = None):
        self._backend = backend
        # A team's executor tags its metrics with the team, as Airflow's own executor metrics are tagged
        # (StatsD without tags still sees one series per name; tag-aware backends split it by team).
        self._tags: dict[str, Any] = {"tags": {"team": team}} if team else {}

    @property
    def backend(self) -> Any:
        if self._backend is None:
            from airflow_ecs.glue.airflow_compat import airflow_stats

            self._backend = airflow_stats()
        return self._backend

    def _name(self, name: str, kind: str) -> str:
        if _KINDS.get(name) != kind:
            raise KeyError(f"metric {name!r} is not declared as a {kind} in airflow_ecs.glue.metrics.METRICS")
        return f"{PREFIX}.{name}"

    def incr(self, name: str, count: int = 1) -> None:
        if count:
            self.backend.incr(self._name(name, "counter"), count, **self._tags)

    def gauge(self, name: str, value: float) -> None:
        self.backend.gauge(self._name(name, "gauge"), value, **self._tags)

    def timing(self, name: str, seconds: float) -> None:
        self.backend.timing(self._name(name, "timer"), datetime.timedelta(seconds=max(seconds, 0.0)), **self._tags)


def status_gauge(last_status: str) -> str:
    """The ``tasks.*`` gauge an ECS lastStatus counts in."""
    if last_status in ("PENDING", "ACTIVATING"):
        return "tasks.pending"
    if last_status == "RUNNING":
        return "tasks.running"
    if last_status in ("DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"):
        return "tasks.stopping"
    return "tasks.provisioning"
