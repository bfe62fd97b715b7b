"""What the executor knows about each task it launched: one record per Airflow task instance try,
indexed by Airflow key, ECS task ARN and startedBy (which events carry before RunTask has answered)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

from airflow_ecs.run_task_request import TaskIdentity

RECENTLY_FINISHED = 10_000  # ARNs remembered after they finish, so late duplicate events are recognised


@dataclass
class TrackedTask:
    key: Hashable
    identity: TaskIdentity
    started_by: str
    request_json: str | None  # None for a task adopted from another scheduler: it cannot be relaunched
    container_name: str = ""  # the Airflow container, the one judged (its profile may name another)
    queued_at: float = field(default_factory=time.monotonic)
    launch: int = 0  # which launch of this try; part of the clientToken
    attempts: int = 0  # RunTask calls plus relaunches, bounded by max_run_task_attempts
    failures: int = 0  # consecutive failed RunTask calls of the current launch, for the backoff
    on_fallback: bool = False
    arn: str | None = None
    launched_at: float | None = None
    last_status: str = ""
    seen_running: bool = False
    version: int = -1  # detail.version of the last applied event
    stopping: bool = False


class TaskBook:
    def __init__(self) -> None:
        self._by_key: dict[Hashable, TrackedTask] = {}
        self._by_arn: dict[str, Hashable] = {}
        self._by_started_by: dict[str, Hashable] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[TrackedTask]:
        return iter(list(self._by_key.values()))

    def add(self, task: TrackedTask) -> None:
        self._by_key[task.key] = task
        self._by_started_by[task.started_by] = task.key
        if task.arn:
            self._by_arn[task.arn] = task.key

    def get(self, key: Hashable) -> TrackedTask | None:
        return self._by_key.get(key)

    def by_arn(self, arn: str) -> TrackedTask | None:
        key = self._by_arn.get(arn)
        return self._by_key.get(key) if key is not None else None

    def by_started_by(self, started_by: str) -> TrackedTask | None:
        key = self._by_started_by.get(started_by)
        return self._by_key.get(key) if key is not None else None

    def set_arn(self, task: TrackedTask, arn: str | None) -> None:
        if task.arn:
            self._by_arn.pop(task.arn, None)
            self._remember_finished(task.arn)
        task.arn = arn
        if arn:
            self._by_arn[arn] = task.key

    def remove(self, key: Hashable) -> TrackedTask | None:
        task = self._by_key.pop(key, None)
        if task is None:
            return None
        if self._by_started_by.get(task.started_by) == key:
            del self._by_started_by[task.started_by]
        if task.arn:
            self._by_arn.pop(task.arn, None)
            self._remember_finished(task.arn)
        return task

    def recently_finished(self, arn: str) -> bool:
        return arn in self._finished

    def _remember_finished(self, arn: str) -> None:
        self._finished[arn] = None
        while len(self._finished) > RECENTLY_FINISHED:
            self._finished.popitem(last=False)

    def arns(self) -> list[str]:
        return list(self._by_arn)
