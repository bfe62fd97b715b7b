"""ECS Task State Change events from EventBridge, through SQS: reading one, pure.

The SQS side (the consumer thread, release and delete) is ``airflow_ecs.aws.event_queue``; the executor applies
events in ``sync()`` and then deletes them. Delivery is at least once and unordered, so every event is ordered
per task by ``detail.version``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DETAIL_TYPE = "ECS Task State Change"


@dataclass(frozen=True)
class TaskEvent:
    task_arn: str
    version: int
    started_by: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class ReceivedMessage:
    receipt_handle: str
    event: TaskEvent | None  # None: not a task state change (or unreadable): delete it


@dataclass(frozen=True)
class EventsReceived:
    messages: tuple[ReceivedMessage, ...]


@dataclass(frozen=True)
class ReceiveFailed:
    error: str


def parse_event(body: str) -> TaskEvent | None:
    """The task state change in an SQS message body (the whole EventBridge event), or None."""
    try:
        event = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not isinstance(event, dict) or event.get("detail-type") != DETAIL_TYPE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, dict) or not isinstance(detail.get("taskArn"), str):
        return None
    try:
        version = int(detail.get("version", 0))
    except (TypeError, ValueError):
        version = 0
    return TaskEvent(detail["taskArn"], version, str(detail.get("startedBy") or ""), detail)


def is_newer(event_version: int, applied_version: int) -> bool:
    """Apply an event only if it is newer than what this task already showed; equal is a duplicate."""
    return event_version > applied_version
