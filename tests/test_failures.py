"""Each way a RunTask call fails, with botocore's own exceptions, and the retry policy for it."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from airflow_ecs.failures import (
    BACKOFF,
    FailureKind,
    LaunchFailure,
    classify_code,
    classify_error,
    classify_run_task_failure,
    decide_retry,
    retry_delay,
)

THROTTLED, TRANSIENT, CAPACITY, PERMANENT = (
    FailureKind.THROTTLED, FailureKind.TRANSIENT, FailureKind.CAPACITY, FailureKind.PERMANENT)
ENDPOINT = "https://ecs.us-east-1.amazonaws.com/"


def client_error(code: str, message: str, status: int) -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "RunTask")


@pytest.mark.parametrize(("code", "message", "status", "kind"), [
    ("ThrottlingException", "Rate exceeded", 400, THROTTLED),
    ("ClientException", "Rate exceeded.", 400, THROTTLED),
    ("TooManyRequestsException", "Too many requests", 429, THROTTLED),
    ("RequestLimitExceeded", "", 400, THROTTLED),
    ("Throttling", "", 400, THROTTLED),
    ("ServerException", "Service encountered an internal error", 500, TRANSIENT),
    ("InternalFailure", "", 500, TRANSIENT),
    ("ServiceUnavailable", "", 503, TRANSIENT),
    ("SomethingNew", "unexpected", 502, TRANSIENT),
    ("ExpiredTokenException", "The security token included in the request is expired", 400, TRANSIENT),
    ("ClientException", "You've reached the limit on the number of tasks you can run concurrently", 400, CAPACITY),
    ("ClientException", "Capacity is unavailable at this time. Please try again later", 400, CAPACITY),
    ("AccessDeniedException", "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: ecs:RunTask",
     400, PERMANENT),
    ("InvalidParameterException", "Task definition does not support launch_type FARGATE.", 400, PERMANENT),
    ("ClusterNotFoundException", "Cluster not found.", 400, PERMANENT),
    ("ClientException", "TaskDefinition not found.", 400, PERMANENT),
    ("UnsupportedFeatureException", "", 400, PERMANENT),
    ("PlatformUnknownException", "The specified platform version does not exist.", 400, PERMANENT),
])
def test_client_errors(code, message, status, kind):
    failure = classify_error(client_error(code, message, status))
    assert failure == LaunchFailure(kind, code, message)
    assert failure.kind.retryable is (kind is not PERMANENT)


@pytest.mark.parametrize("error", [
    EndpointConnectionError(endpoint_url=ENDPOINT),
    ReadTimeoutError(endpoint_url=ENDPOINT),
    ConnectTimeoutError(endpoint_url=ENDPOINT),
    ConnectionClosedError(endpoint_url=ENDPOINT),
], ids=lambda e: type(e).__name__)
def test_connection_errors_are_transient(error):
    failure = classify_error(error)
    assert failure.kind is TRANSIENT
    assert failure.code == type(error).__name__
    assert ENDPOINT in failure.message


def test_a_subclass_of_a_connection_error_is_transient():
    class ProxyTrouble(EndpointConnectionError):
        pass

    assert classify_error(ProxyTrouble(endpoint_url=ENDPOINT)).kind is TRANSIENT


@pytest.mark.parametrize("error", [
    NoCredentialsError(),
    PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
    NoRegionError(),
    ProfileNotFound(profile="airflow-scheduler"),
], ids=lambda e: type(e).__name__)
def test_credential_errors_are_permanent_and_say_where_boto3_looks(error):
    failure = classify_error(error)
    assert failure.kind is PERMANENT
    assert failure.code == type(error).__name__
    assert str(error) in failure.message
    assert "aws_profile" in failure.message


@pytest.mark.parametrize("error", [ValueError("bad"), KeyError("x"), RuntimeError()], ids=lambda e: type(e).__name__)
def test_anything_else_is_permanent(error):
    assert classify_error(error).kind is PERMANENT


def test_a_client_error_without_a_code_is_named_by_its_class():
    error = ClientError({"Error": {"Message": "odd"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "RunTask")
    assert classify_error(error).code == "ClientError"


@pytest.mark.parametrize(("code", "message", "status", "kind"), [
    ("ThrottlingException", "", 0, THROTTLED),
    ("Anything", "Rate exceeded", 0, THROTTLED),
    ("Anything", "", 500, TRANSIENT),
    ("Anything", "", 599, TRANSIENT),
    ("Anything", "", 499, PERMANENT),
    ("Anything", "Insufficient capacity", 400, CAPACITY),
    ("Anything", "", 0, PERMANENT),
])
def test_classify_code(code, message, status, kind):
    assert classify_code(code, message, status) is kind


@pytest.mark.parametrize(("failure", "kind", "code"), [
    ({"arn": "arn:aws:ecs:us-east-1:1:container-instance/x", "reason": "RESOURCE:MEMORY"}, CAPACITY, "RESOURCE:MEMORY"),
    ({"reason": "RESOURCE:CPU"}, CAPACITY, "RESOURCE:CPU"),
    ({"reason": "RESOURCE:ENI"}, CAPACITY, "RESOURCE:ENI"),
    ({"reason": "Capacity is unavailable at this time. Please try again later or in a different availability zone"},
     CAPACITY, "Capacity is unavailable at this time. Please try again later or in a different availability zone"),
    ({"arn": "arn:aws:ecs:us-east-1:1:cluster/x", "reason": "MISSING"}, PERMANENT, "MISSING"),
    ({"reason": "INACTIVE"}, PERMANENT, "INACTIVE"),
    ({"reason": "ATTRIBUTE", "detail": "ecs.capability.secrets"}, PERMANENT, "ATTRIBUTE"),
    ({"reason": "AGENT"}, TRANSIENT, "AGENT"),
    ({"reason": "INTERNAL"}, TRANSIENT, "INTERNAL"),
    ({}, PERMANENT, "failure"),
])
def test_run_task_failures(failure, kind, code):
    classified = classify_run_task_failure(failure)
    assert classified.kind is kind
    assert classified.code == code
    assert classified.message == (failure.get("detail") or "")


def test_a_failure_describes_itself():
    assert LaunchFailure(PERMANENT, "MISSING", "cluster gone").describe() == "MISSING: cluster gone"
    assert LaunchFailure(CAPACITY, "RESOURCE:CPU", "").describe() == "RESOURCE:CPU"


# --- backoff ---


@pytest.mark.parametrize("kind", [THROTTLED, TRANSIENT, CAPACITY])
def test_retry_delay_grows_then_is_capped(kind):
    base, cap = BACKOFF[kind]
    ceilings = [retry_delay(kind, n, rand=lambda: 1.0) for n in range(1, 30)]
    assert ceilings[0] == base
    assert ceilings[1] == 2 * base
    assert ceilings == sorted(ceilings)
    assert ceilings[-1] == cap
    assert max(ceilings) == cap


@pytest.mark.parametrize("kind", [THROTTLED, TRANSIENT, CAPACITY])
@pytest.mark.parametrize("failures", [1, 3, 8])
@pytest.mark.parametrize("rand", [0.0, 0.25, 0.5, 0.999])
def test_retry_delay_is_full_jitter_below_the_ceiling(kind, failures, rand):
    base, cap = BACKOFF[kind]
    ceiling = min(cap, base * 2 ** (failures - 1))
    delay = retry_delay(kind, failures, rand=lambda: rand)
    assert delay == max(ceiling * rand, base / 4)
    assert base / 4 <= delay <= ceiling


@pytest.mark.parametrize("failures", [0, -1])
def test_retry_delay_before_any_failure_is_the_base(failures):
    assert retry_delay(THROTTLED, failures, rand=lambda: 1.0) == BACKOFF[THROTTLED][0]


@pytest.mark.parametrize("failures", [1_100, 100_000])
def test_retry_delay_stays_capped_for_any_count(failures):
    # max_run_task_attempts has no upper bound, so the count may be large.
    assert retry_delay(CAPACITY, failures, rand=lambda: 1.0) == BACKOFF[CAPACITY][1]


def test_retry_delay_uses_the_random_source():
    values = iter([0.1, 0.9])
    first = retry_delay(CAPACITY, 4, rand=lambda: next(values))
    second = retry_delay(CAPACITY, 4, rand=lambda: next(values))
    assert first < second


# --- decide_retry ---


@pytest.mark.parametrize(("kind", "attempts", "max_attempts", "has_fallback", "retry", "fallback"), [
    (THROTTLED, 1, 5, False, True, False),
    (THROTTLED, 1, 5, True, True, False),
    (TRANSIENT, 4, 5, True, True, False),
    (CAPACITY, 1, 5, True, True, True),
    (CAPACITY, 1, 5, False, True, False),
    (CAPACITY, 5, 5, True, False, False),
    (THROTTLED, 5, 5, False, False, False),
    (TRANSIENT, 6, 5, False, False, False),
    (PERMANENT, 1, 5, True, False, False),
    (THROTTLED, 1, 1, False, False, False),
])
def test_decide_retry(kind, attempts, max_attempts, has_fallback, retry, fallback):
    decision = decide_retry(LaunchFailure(kind, "X", ""), attempts, max_attempts, has_fallback=has_fallback,
                            rand=lambda: 1.0)
    assert decision.retry is retry
    assert decision.use_fallback is fallback
    if retry:
        assert decision.delay == retry_delay(kind, attempts, rand=lambda: 1.0)
    else:
        assert decision.delay == 0.0


def test_retries_of_one_task_are_bounded():
    failure = LaunchFailure(THROTTLED, "ThrottlingException", "Rate exceeded")
    attempts = 1
    while decide_retry(failure, attempts, 5, has_fallback=False).retry:
        attempts += 1
    assert attempts == 5
