"""Thin adapters over boto3: each AWS call the executor makes, taking the client as a parameter.

Nothing here decides anything; the decisions (``failures``, ``task_state``) are pure functions tested
without AWS, and these functions are tested against moto's server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from airflow_ecs.aws import aws_credentials
from airflow_ecs.aws.aws_credentials import CredentialsError  # noqa: F401 - re-exported for callers
from airflow_ecs.core.config import EcsConfig
from airflow_ecs.core.failures import (
    RunTaskResult,
    classify_error,
    classify_run_task_failure,
)

DESCRIBE_BATCH = 100  # DescribeTasks takes at most 100 tasks per call


@dataclass(frozen=True)
class ClientFactory:
    """``factory(service, **client_options)``: clients that share one set of credentials following its source."""

    config: EcsConfig
    session: boto3.session.Session
    credentials: aws_credentials.FollowingCredentials
    endpoint_url: str | None

    def __call__(self, service: str, **options: Any) -> Any:
        client = make_client(self.session, service, self.config, endpoint_url=self.endpoint_url, **options)
        return aws_credentials.reload_on_expiry(client, self.credentials)


def client_factory(config: EcsConfig, team_name: str | None = None) -> ClientFactory:
    """Clients of ``config``'s account and region that share one set of credentials following its source.

    The source is ``aws_conn_id`` (through the amazon provider's hook when installed), else ``aws_profile``,
    else boto3's chain (``aws_credentials``); the credentials are read once here and again whenever they are
    due or AWS answers that they expired.
    """
    source = aws_credentials.source_for(config.aws_conn_id, config.aws_profile, config.region, team_name)
    credentials = aws_credentials.FollowingCredentials(source.load)
    session = aws_credentials.session_with(credentials, config.region)
    return ClientFactory(config, session, credentials, source.endpoint_url)


def make_client(
    session: boto3.session.Session,
    service: str,
    config: EcsConfig,
    *,
    retries: int = 3,
    pool_size: int = 10,
    endpoint_url: str | None = None,
) -> Any:
    # RunTask's client makes one attempt per call: the launcher classifies and retries itself, with the
    # same clientToken, so botocore's own retries would only hide throttling from the rate limiter.
    boto_config = BotoConfig(
        retries={"mode": "standard", "total_max_attempts": retries},
        max_pool_connections=pool_size,
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="airflow-ecs",
    )
    # The cluster's Region is [ecs_fargate] region, whatever a connection's region_name says.
    return session.client(
        service, region_name=config.region, endpoint_url=config.endpoint_url or endpoint_url or None, config=boto_config
    )


def run_task(ecs: Any, request: Mapping[str, Any]) -> RunTaskResult:
    """One RunTask call; never raises, the failure comes back classified."""
    try:
        response = ecs.run_task(**request)
    except Exception as error:  # noqa: BLE001 - every error is classified; none may reach the scheduler
        return RunTaskResult(failure=classify_error(error))
    tasks = response.get("tasks") or []
    if tasks:
        return RunTaskResult(task_arn=tasks[0]["taskArn"], task=tasks[0])
    failures = response.get("failures") or [{"reason": "NO_TASK", "detail": "RunTask returned no task and no failure"}]
    return RunTaskResult(failure=classify_run_task_failure(failures[0]), answered=True)


def describe_tasks(ecs: Any, cluster: str, arns: Sequence[str]) -> tuple[dict[str, Mapping[str, Any]], list[str]]:
    """Every task by ARN, in batches of 100, and the ARNs ECS reports MISSING."""
    found: dict[str, Mapping[str, Any]] = {}
    missing: list[str] = []
    for start in range(0, len(arns), DESCRIBE_BATCH):
        batch = list(arns[start : start + DESCRIBE_BATCH])
        response = ecs.describe_tasks(cluster=cluster, tasks=batch)
        for task in response.get("tasks") or []:
            found[task["taskArn"]] = task
        missing.extend(f["arn"] for f in response.get("failures") or [] if f.get("reason") == "MISSING")
    return found, missing


def list_task_arns(ecs: Any, cluster: str, family: str | None, desired_status: str) -> list[str]:
    """Every task ARN of the cluster (of one task definition family, when given) with this desired status."""
    kwargs: dict[str, Any] = {"cluster": cluster, "desiredStatus": desired_status, "maxResults": 100}
    if family:
        kwargs["family"] = family
    arns: list[str] = []
    while True:
        response = ecs.list_tasks(**kwargs)
        arns.extend(response.get("taskArns") or [])
        if not response.get("nextToken"):
            return arns
        kwargs["nextToken"] = response["nextToken"]


def live_tasks_started_by(ecs: Any, cluster: str, families: Sequence[str | None], wanted: set[str]) -> dict[str, str]:
    """startedBy -> task ARN, for the not-yet-stopped tasks of these families whose startedBy is wanted."""
    arns: list[str] = []
    for family in families:
        arns += list_task_arns(ecs, cluster, family, "RUNNING")
    found: dict[str, str] = {}
    for batch in chunks(dict.fromkeys(arns), DESCRIBE_BATCH):
        for task in ecs.describe_tasks(cluster=cluster, tasks=batch).get("tasks") or []:
            if task.get("startedBy") in wanted and task.get("lastStatus") != "STOPPED":
                found[task["startedBy"]] = task["taskArn"]
    return found


def stop_task(ecs: Any, cluster: str, arn: str, reason: str) -> None:
    """StopTask; a task ECS no longer knows is already stopped, which is what was asked."""
    try:
        ecs.stop_task(cluster=cluster, task=arn, reason=reason[:255])
    except Exception as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code not in ("InvalidParameterException", "ClientException"):
            raise


def describe_task_definition(ecs: Any, task_definition: str) -> Mapping[str, Any]:
    return ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]


def describe_cluster(ecs: Any, cluster: str) -> Mapping[str, Any] | None:
    response = ecs.describe_clusters(clusters=[cluster])
    clusters = [c for c in response.get("clusters") or [] if c.get("status") != "INACTIVE"]
    return clusters[0] if clusters else None


def log_events(logs: Any, group: str, stream: str, *, limit: int | None = None) -> list[str]:
    """The lines of a log stream, oldest first; with ``limit``, only the last ``limit`` lines."""
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": limit is None}
    if limit is not None:
        kwargs["limit"] = limit
        response = logs.get_log_events(**kwargs)
        return [event["message"] for event in response.get("events", [])]
    lines: list[str] = []
    token = None
    while True:
        if token:
            kwargs["nextToken"] = token
        response = logs.get_log_events(**kwargs)
        lines.extend(event["message"] for event in response.get("events", []))
        if not response.get("events") or response.get("nextForwardToken") in (None, token):
            return lines
        token = response["nextForwardToken"]


def log_events_after(logs: Any, group: str, stream: str, token: str | None) -> tuple[list[str], str | None]:
    """The lines of a log stream after ``token`` (from the head when None), and the token to read on from.

    CloudWatch answers with the same ``nextForwardToken`` when nothing is new: then one call reads nothing.
    """
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    lines: list[str] = []
    while True:
        if token:
            kwargs["nextToken"] = token
        response = logs.get_log_events(**kwargs)
        lines.extend(event["message"] for event in response.get("events", []))
        following = response.get("nextForwardToken")
        if not response.get("events") or following in (None, token):
            return lines, following or token
        token = following


def chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
