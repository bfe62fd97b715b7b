"""From an ECS task (DescribeTasks or a Task State Change event) to what Airflow should hear.

PROVISIONING/PENDING -> still queued; RUNNING -> running; STOPPED -> success when the Airflow container
exited 0, failure otherwise; a task that an infrastructure failure stopped before it ever ran is launched
again. Only the Airflow container is judged: sidecars do not fail a task.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_ecs.core.containers import container_named
from airflow_ecs.core.diagnosis import Diagnosis, diagnose

PENDING_STATUSES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})
# The task is on its way down; the outcome is known only at STOPPED.
ENDING_STATUSES = frozenset({"DEACTIVATING", "STOPPING", "DEPROVISIONING"})


class Verdict(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RELAUNCH = "relaunch"


@dataclass(frozen=True)
class TaskOutcome:
    verdict: Verdict
    last_status: str
    diagnosis: Diagnosis | None = None
    exit_code: int | None = None
    stopped_at: float | None = None  # epoch seconds of ECS's stoppedAt, when it said

    @property
    def final(self) -> bool:
        return self.verdict in (Verdict.SUCCEEDED, Verdict.FAILED, Verdict.RELAUNCH)


def judge(task: Mapping[str, Any], container_name: str, *, seen_running: bool = False) -> TaskOutcome:
    """What one observation of an ECS task means for its Airflow task.

    ``seen_running``: this executor already saw the task RUNNING. A task that has run cannot simply be
    launched again: Airflow's execution API refuses a second start of the same try (409), so it fails and
    Airflow's own retries take over.
    """
    status = str(task.get("lastStatus") or "PROVISIONING")
    reached_running = seen_running or bool(task.get("startedAt"))
    if status in PENDING_STATUSES:
        return TaskOutcome(Verdict.PENDING, status)
    if status == "RUNNING" or status in ENDING_STATUSES:
        return TaskOutcome(Verdict.RUNNING if reached_running or status == "RUNNING" else Verdict.PENDING, status)

    container = container_named(task.get("containers"), container_name)
    exit_code = container.get("exitCode") if container else None
    stopped_at = epoch_seconds(task.get("stoppedAt"))
    if container is not None and exit_code == 0:
        return TaskOutcome(Verdict.SUCCEEDED, status, exit_code=0, stopped_at=stopped_at)
    diagnosis = diagnose(
        task.get("stopCode"), task.get("stoppedReason"), container.get("reason") if container else None, exit_code
    )
    if container is None and task.get("containers"):
        names = ", ".join(str(c.get("name")) for c in task["containers"])
        diagnosis = Diagnosis(
            f"the task has no container named {container_name!r} (it has {names})",
            "Set [ecs_fargate] container_name to the Airflow container of the task definition",
        )
    if diagnosis.infrastructure and not reached_running and exit_code is None:
        return TaskOutcome(Verdict.RELAUNCH, status, diagnosis, exit_code, stopped_at)
    return TaskOutcome(Verdict.FAILED, status, diagnosis, exit_code, stopped_at)


def epoch_seconds(value: Any) -> float | None:
    """A timestamp as boto3 parses it (datetime) or as an event carries it (ISO 8601 text)."""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


# ECS's API is eventually consistent: DescribeTasks may answer MISSING for a task RunTask placed seconds ago.
# Relaunching then would run the try twice, so a young task's MISSING means "not visible yet".
MISSING_GRACE_SECONDS = 60.0


def judge_missing(*, seen_running: bool, age: float | None = None) -> TaskOutcome:
    """DescribeTasks answered MISSING: ECS no longer knows the task (or never placed it, or not yet).

    ``age``: seconds since RunTask answered with this task (for an adopted task, since its adoption, so it
    gets the same grace); None when unknown, taken as old.
    """
    if not seen_running and age is not None and age < MISSING_GRACE_SECONDS:
        return TaskOutcome(Verdict.PENDING, "MISSING")
    diagnosis = Diagnosis(
        "ECS reports the task MISSING",
        "Relaunched if it had not started; otherwise failed so Airflow retries it",
        infrastructure=True,
    )
    return TaskOutcome(Verdict.FAILED if seen_running else Verdict.RELAUNCH, "MISSING", diagnosis)


# ECS's lastStatus values, in lifecycle order (the status commands' --state choices).
ECS_STATES = (
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
)
