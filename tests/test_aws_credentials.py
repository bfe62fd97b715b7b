"""Credentials that follow their source, and a start-up that survives a blip: against moto's server.

moto accepts any key, so what a request was signed with is read from its Authorization header; what moto
cannot answer (ExpiredToken, throttling) is injected with botocore's own before-send hook, so the answer
still goes through botocore's parser.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from botocore.credentials import Credentials

from airflow_ecs.aws import aws_credentials, ecs_api
from airflow_ecs.aws.aws_credentials import CredentialsError, FollowingCredentials
from airflow_ecs.core.config import load_config
from airflow_ecs.executor import EcsFargateExecutor, ExecutorStartError
from devtools import aws_fixtures as aws
from tests.executor_harness import error_response

# --- FollowingCredentials, without AWS ---


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def loader(*keys: str | None):
    """A source that gives these access keys, one per read (None: the source has none right now)."""
    reads = iter(keys)

    def load():
        key = next(reads)
        return None if key is None else Credentials(key, f"secret-of-{key}")

    return load


def test_credentials_are_read_once_until_aws_says_they_expired():
    credentials = FollowingCredentials(loader("AKID1", "AKID2"), clock=Clock())
    assert [credentials.get_frozen_credentials().access_key for _ in range(3)] == ["AKID1"] * 3
    assert credentials.mark_stale()
    assert credentials.get_frozen_credentials().access_key == "AKID2"
    assert credentials.get_frozen_credentials().secret_key == "secret-of-AKID2"
    assert credentials.reloads == 1


def test_a_storm_of_expired_answers_reads_the_source_once_per_ten_seconds():
    clock = Clock()
    credentials = FollowingCredentials(loader("AKID1", "AKID2", "AKID3"), clock=clock)
    assert credentials.mark_stale()  # the first is never held back
    credentials.get_frozen_credentials()
    clock.now += 9.9
    assert not credentials.mark_stale()
    assert credentials.get_frozen_credentials().access_key == "AKID2"
    clock.now += 0.1
    assert credentials.mark_stale()
    assert credentials.get_frozen_credentials().access_key == "AKID3"
    assert credentials.reloads == 2


def test_a_source_with_nothing_to_give_keeps_the_last_credentials():
    credentials = FollowingCredentials(loader("AKID1", None), clock=Clock())
    credentials.mark_stale()
    assert credentials.get_frozen_credentials().access_key == "AKID1"


# --- clients against moto ---


@pytest.fixture
def signed_with():
    """Attach to a client; the list fills with the access key id each request was signed with."""

    def attach(client) -> list[str]:
        keys: list[str] = []

        def record(request, **_):
            header = (
                request.headers["Authorization"].decode()
                if isinstance(request.headers["Authorization"], bytes)
                else request.headers["Authorization"]
            )
            keys.append(header.split("Credential=")[1].split("/")[0])

        client.meta.events.register("before-send", record)
        return keys

    return attach


def connection_env(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "aws", **fields}))


def section(url: str, **values: str):
    base = {
        "region": aws.REGION,
        "cluster": aws.CLUSTER,
        "container_name": aws.CONTAINER,
        "task_definition": aws.FAMILY,
        "endpoint_url": url,
    }
    return load_config({**base, **values}.get)


def test_a_rotated_connection_key_is_used_after_an_expired_token_answer(moto_server, monkeypatch, signed_with):
    monkeypatch.setattr(aws_credentials, "amazon_provider_installed", lambda: False)
    connection_env(
        monkeypatch, "rotating", login="AKIDOLD", password="old-secret", extra={"aws_session_token": "token-1"}
    )
    make = ecs_api.client_factory(section(moto_server, aws_conn_id="rotating"))
    ecs, logs, sqs = make("ecs", retries=1), make("logs", retries=1), make("sqs", retries=1)
    ecs_keys, logs_keys, sqs_keys = signed_with(ecs), signed_with(logs), signed_with(sqs)
    ecs.list_clusters()

    # Whoever owns the connection rotates it; AWS starts refusing the old token.
    connection_env(
        monkeypatch, "rotating", login="AKIDNEW", password="new-secret", extra={"aws_session_token": "token-2"}
    )

    def expired(**_):
        return error_response(400, "ExpiredTokenException", "The security token included in the request is expired")

    ecs.meta.events.register("before-send.ecs.ListClusters", expired)
    with pytest.raises(ecs.exceptions.ClientError, match="ExpiredTokenException"):
        ecs.list_clusters()
    ecs.meta.events.unregister("before-send.ecs.ListClusters", expired)

    ecs.list_clusters()
    logs.describe_log_groups()  # every client shares the refreshed credentials, not only the one refused
    sqs.list_queues()
    assert ecs_keys == ["AKIDOLD", "AKIDOLD", "AKIDNEW"]
    assert logs_keys == ["AKIDNEW"] and sqs_keys == ["AKIDNEW"]


def test_without_the_provider_an_extra_it_alone_reads_is_one_line_naming_it(moto_server, monkeypatch):
    monkeypatch.setattr(aws_credentials, "amazon_provider_installed", lambda: False)
    connection_env(monkeypatch, "assumed", extra={"role_arn": "arn:aws:iam::123456789012:role/airflow"})
    with pytest.raises(
        CredentialsError,
        match=r"^connection 'assumed': extra field 'role_arn' needs the amazon "
        r"provider \(pip install 'airflow-ecs\[amazon\]'\)",
    ):
        ecs_api.client_factory(section(moto_server, aws_conn_id="assumed"))


def test_a_connection_with_role_arn_assumes_the_role_through_the_local_sts(moto_server, monkeypatch, signed_with):
    pytest.importorskip("airflow.providers.amazon", reason="the amazon provider (extra 'amazon') reads role_arn")
    connection_env(
        monkeypatch,
        "assumed",
        login="AKIDBASE",
        password="base-secret",
        extra={
            "role_arn": "arn:aws:iam::123456789012:role/airflow-scheduler",
            "endpoint_url": moto_server,
            # The provider never sends AssumeRole to endpoint_url; a local STS is named per service.
            "service_config": {"sts": {"endpoint_url": moto_server}},
            "region_name": aws.REGION,
        },
    )
    make = ecs_api.client_factory(section(moto_server, aws_conn_id="assumed", endpoint_url=""))
    ecs = make("ecs")
    keys = signed_with(ecs)
    ecs.list_clusters()
    # moto's STS hands out temporary keys starting ASIA; the base key never signs an ECS call.
    assert keys[0].startswith("ASIA") and keys[0] != "AKIDBASE"
    assert ecs.meta.endpoint_url == moto_server
    credentials = make.credentials
    assert credentials.get_frozen_credentials().token  # a session token came with the role


# --- start-up: transient errors retried, the rest stops with one line ---


def throttle_describe_clusters(
    monkeypatch, times: float, code: str = "ThrottlingException", message: str = "Rate exceeded"
):
    """The start-up DescribeClusters is answered with ``code`` the first ``times`` times (botocore itself
    tries each call 3 times before the executor sees the error)."""
    answered = SimpleNamespace(count=0)
    connect = EcsFargateExecutor._connect

    def connect_and_inject(self, config):
        connect(self, config)

        def inject(**_):
            answered.count += 1
            if answered.count <= times:
                return error_response(400, code, message)
            return None

        self._ecs.meta.events.register("before-send.ecs.DescribeClusters", inject)

    monkeypatch.setattr(EcsFargateExecutor, "_connect", connect_and_inject)
    return answered


def executor_with_fake_time() -> tuple[EcsFargateExecutor, list[float]]:
    executor = EcsFargateExecutor()
    clock = Clock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    executor._clock, executor._sleep = clock, sleep
    return executor, slept


def test_a_throttled_start_succeeds_when_a_retry_gets_through(ecs_env, monkeypatch, capfd):
    answered = throttle_describe_clusters(monkeypatch, times=6)
    executor, slept = executor_with_fake_time()
    executor.start()
    assert len(slept) == 2 and answered.count == 7
    # Airflow's structlog writes the executor's log to stdout, where caplog never sees it.
    logged = capfd.readouterr().out
    assert logged.count("ThrottlingException: Rate exceeded; trying again in") == 2
    executor.terminate()


def test_a_start_throttled_for_two_minutes_stops_with_one_line(ecs_env, monkeypatch):
    throttle_describe_clusters(monkeypatch, times=float("inf"))
    executor, slept = executor_with_fake_time()
    with pytest.raises(
        ExecutorStartError,
        match=r"^ECS executor cannot start: ECS executor health check: "
        r"cannot describe cluster .*"
        r"ThrottlingException",
    ) as caught:
        executor.start()
    assert "\n" not in str(caught.value)
    # Retried for two minutes, never longer: it stops when the next full-jitter delay (at most 30 s, the
    # transient cap) would pass 120 s, so more than 90 s were spent waiting.
    assert 90 < sum(slept) <= 120


def test_a_wrong_cluster_stops_at_once_without_retrying(ecs_env):
    ecs_env.configure(cluster="no-such-cluster")
    executor, slept = executor_with_fake_time()
    with pytest.raises(ExecutorStartError, match=r"cluster 'no-such-cluster' not found in us-east-1") as caught:
        executor.start()
    assert slept == [] and "\n" not in str(caught.value)


def test_access_denied_at_start_is_not_retried(ecs_env, monkeypatch):
    throttle_describe_clusters(
        monkeypatch,
        times=float("inf"),
        code="AccessDeniedException",
        message="User is not authorized to perform: ecs:DescribeClusters",
    )
    executor, slept = executor_with_fake_time()
    with pytest.raises(ExecutorStartError, match="AccessDeniedException"):
        executor.start()
    assert slept == []


def test_check_health_on_startup_false_starts_without_calling_aws(ecs_env):
    ecs_env.configure(cluster="no-such-cluster", check_health_on_startup="False")
    executor = EcsFargateExecutor()
    executor.start()
    assert executor.aws_calls == {}
    executor.terminate()


def test_an_unknown_aws_profile_stops_start_with_one_line(ecs_env, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    ecs_env.configure(aws_profile="nope")
    with pytest.raises(
        ExecutorStartError,
        match=r"^ECS executor cannot start: \[ecs_fargate\] aws_profile = 'nope': "
        r"no such profile",
    ) as caught:
        EcsFargateExecutor().start()
    assert "\n" not in str(caught.value)


def test_a_missing_task_definition_stops_at_once_without_retrying(ecs_env):
    # Retrying cannot register it: one line naming it, no waiting.
    ecs_env.configure(task_definition="no-such-family")
    executor, slept = executor_with_fake_time()
    with pytest.raises(
        ExecutorStartError,
        match=r"task definition 'no-such-family': ClientException: .*; check \[ecs_fargate\] task_definition "
        r"\(a family, family:revision or ARN registered in us-east-1\)$",
    ) as caught:
        executor.start()
    assert slept == [] and "\n" not in str(caught.value)
