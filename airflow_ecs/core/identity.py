"""What identifies one Airflow task instance try in ECS, and the tokens derived from it.

Apart from run_task_request (which renders requests with jinja2) so the tracking state machine can name a
try and relaunch it without the template machinery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_ecs.core.config import uses_fargate

STARTED_BY_LIMIT = 36
CLIENT_TOKEN_LIMIT = 64


@dataclass(frozen=True)
class TaskIdentity:
    """What identifies one Airflow task instance try in ECS."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int
    ti_id: str = ""
    queue: str = "default"
    team: str = ""  # the Airflow team (multi-team deployments) whose executor launches it

    def describe(self) -> str:
        mapped = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{mapped} run {self.run_id} try {self.try_number}"


def client_token(identity: TaskIdentity, launch: int, request: Mapping[str, Any] | None = None) -> str:
    """The RunTask idempotency key of one launch of one try, with these parameters.

    A retried call (same launch, same request) reuses it, so ECS never starts a second container for it. A
    deliberate relaunch (new launch number) or other parameters need a new one, or ECS answers
    ConflictException: that includes the same try queued again by Airflow (its workload carries a new
    token), hence the digest of the request in the key.
    """
    parts = [
        identity.dag_id,
        identity.task_id,
        identity.run_id,
        str(identity.map_index),
        str(identity.try_number),
        identity.ti_id,
        str(launch),
    ]
    if request is not None:
        body = {name: value for name, value in request.items() if name != "clientToken"}
        parts.append(hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest())
    key = "\x1f".join(parts)
    return "airflow-" + hashlib.sha256(key.encode()).hexdigest()[: CLIENT_TOKEN_LIMIT - len("airflow-")]


def started_by(identity: TaskIdentity) -> str:
    """ECS keeps 36 characters: the task instance's UUID exactly, or a digest of its key."""
    if identity.ti_id and len(identity.ti_id) <= STARTED_BY_LIMIT:
        return identity.ti_id
    digest = hashlib.sha256(
        f"{identity.dag_id}\x1f{identity.task_id}\x1f{identity.run_id}\x1f{identity.map_index}".encode()
    ).hexdigest()
    return "airflow-" + digest[: STARTED_BY_LIMIT - len("airflow-")]


def with_launch(
    request: Mapping[str, Any], identity: TaskIdentity, launch: int, strategy: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The same request for another launch (after an infrastructure failure), optionally on another strategy."""
    updated = dict(request)
    if strategy is not None:
        updated.pop("launchType", None)
        updated["capacityProviderStrategy"] = [dict(item) for item in strategy]
        if not uses_fargate("", strategy):
            updated.pop("platformVersion", None)  # ECS refuses platformVersion for EC2 capacity
    updated["clientToken"] = client_token(identity, launch, updated)
    return updated
