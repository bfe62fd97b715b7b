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

from airflow_ecs.core.failures import (
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
    FailureKind.THROTTLED,
    FailureKind.TRANSIENT,
    FailureKind.CAPACITY,
    FailureKind.PERMANENT,
)
ENDPOINT = "https://ecs.us-east-1.amazonaws.com/"
# ECS's RunTask failure reason when no capacity is left in the zone (as ECS words it).
CAPACITY_UNAVAILABLE = (
    "Capacity is unavailable at this time. Please try again later or in a different availability zone"
)


def client_error(code: str, message: str, status: int) -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "RunTask")


@pytest.mark.parametrize(
    ("code", "message", "status", "kind"),
    [
        ("ThrottlingException", "Rate exceeded", 400, THROTTLED),
        ("ClientException", "Rate exceeded.", 400, THROTTLED),
        ("TooManyRequestsException", "Too many requests", 429, THROTTLED),
        ("RequestLimitExceeded", "", 400, THROTTLED),
        ("Throttling", "", 400, THROTTLED),
        # S3-style throttling answers 503 SlowDown: throttled (shared pause, fast retry), not a 5xx TRANSIENT.
        ("SlowDown", "Please reduce your request rate.", 503, THROTTLED),
        ("ServerException", "Service encountered an internal error", 500, TRANSIENT),
        ("InternalFailure", "", 500, TRANSIENT),
        ("ServiceUnavailable", "", 503, TRANSIENT),
        ("SomethingNew", "unexpected", 502, TRANSIENT),
        ("ExpiredTokenException", "The security token included in the request is expired", 400, TRANSIENT),
        ("ClientException", "You've reached the limit on the number of tasks you can run concurrently", 400, CAPACITY),
        ("ClientException", "Capacity is unavailable at this time. Please try again later", 400, CAPACITY),
        # A capacity message wins over a 5xx status or a transient code: capacity retries slowly, on the fallback.
        ("ServerException", "Capacity is unavailable at this time. Please try again later", 500, CAPACITY),
        ("ServiceUnavailable", "Insufficient capacity.", 503, CAPACITY),
        (
            "AccessDeniedException",
            "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: ecs:RunTask",
            400,
            PERMANENT,
        ),
        ("InvalidParameterException", "Task definition does not support launch_type FARGATE.", 400, PERMANENT),
        ("ClusterNotFoundException", "Cluster not found.", 400, PERMANENT),
        ("ClientException", "TaskDefinition not found.", 400, PERMANENT),
        ("UnsupportedFeatureException", "", 400, PERMANENT),
        ("PlatformUnknownException", "The specified platform version does not exist.", 400, PERMANENT),
    ],
)
def test_client_errors(code, message, status, kind):
    failure = classify_error(client_error(code, message, status))
    assert failure == LaunchFailure(kind, code, message)
    assert failure.kind.retryable is (kind is not PERMANENT)


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url=ENDPOINT),
        ReadTimeoutError(endpoint_url=ENDPOINT),
        ConnectTimeoutError(endpoint_url=ENDPOINT),
        ConnectionClosedError(endpoint_url=ENDPOINT),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_errors_are_transient(error):
    failure = classify_error(error)
    assert failure.kind is TRANSIENT
    assert failure.code == type(error).__name__
    assert ENDPOINT in failure.message


def test_a_subclass_of_a_connection_error_is_transient():
    class ProxyTrouble(EndpointConnectionError):
        pass

    assert classify_error(ProxyTrouble(endpoint_url=ENDPOINT)).kind is TRANSIENT


@pytest.mark.parametrize(
    "error",
    [
        NoCredentialsError(),
        PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        NoRegionError(),
        ProfileNotFound(profile="airflow-scheduler"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_credential_errors_are_permanent_and_say_where_boto3_looks(error):
    failure = classify_error(error)
    assert failure.kind is PERMANENT
    assert failure.code == type(error).__name__
    assert str(error) in failure.message
    assert "aws_profile" in failure.message


@pytest.mark.parametrize(
    ("error", "message"),
    [(ValueError("bad"), "bad"), (KeyError("x"), "'x'"), (RuntimeError(), "")],
    ids=lambda e: type(e).__name__,
)
def test_anything_else_is_permanent(error, message):
    assert classify_error(error) == LaunchFailure(PERMANENT, type(error).__name__, message)


def test_a_client_error_without_a_message_or_metadata_is_classified_by_its_code():
    # botocore leaves out what the service did not send: no Message, no ResponseMetadata.
    failure = classify_error(ClientError({"Error": {"Code": "ThrottlingException"}}, "RunTask"))
    assert failure == LaunchFailure(THROTTLED, "ThrottlingException", "")
    assert failure.describe() == "ThrottlingException"
    assert classify_error(ClientError({"Error": {"Code": "ServerException"}}, "RunTask")).kind is TRANSIENT


def test_a_client_error_without_a_code_is_named_by_its_class():
    error = ClientError({"Error": {"Message": "odd"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "RunTask")
    assert classify_error(error).code == "ClientError"


@pytest.mark.parametrize(
    ("code", "message", "status", "kind"),
    [
        ("ThrottlingException", "", 0, THROTTLED),
        ("Anything", "Rate exceeded", 0, THROTTLED),
        ("Anything", "", 500, TRANSIENT),
        ("Anything", "", 599, TRANSIENT),
        ("Anything", "", 499, PERMANENT),
        ("Anything", "Insufficient capacity", 400, CAPACITY),
        ("Anything", "Insufficient capacity", 503, CAPACITY),
        ("SlowDown", "", 503, THROTTLED),
        ("Anything", "", 0, PERMANENT),
    ],
)
def test_classify_code(code, message, status, kind):
    assert classify_code(code, message, status) is kind


@pytest.mark.parametrize(
    ("failure", "kind", "code"),
    [
        (
            {"arn": "arn:aws:ecs:us-east-1:1:container-instance/x", "reason": "RESOURCE:MEMORY"},
            CAPACITY,
            "RESOURCE:MEMORY",
        ),
        ({"reason": "RESOURCE:CPU"}, CAPACITY, "RESOURCE:CPU"),
        ({"reason": "RESOURCE:ENI"}, CAPACITY, "RESOURCE:ENI"),
        ({"reason": CAPACITY_UNAVAILABLE}, CAPACITY, CAPACITY_UNAVAILABLE),
        ({"arn": "arn:aws:ecs:us-east-1:1:cluster/x", "reason": "MISSING"}, PERMANENT, "MISSING"),
        ({"reason": "INACTIVE"}, PERMANENT, "INACTIVE"),
        ({"reason": "ATTRIBUTE", "detail": "ecs.capability.secrets"}, PERMANENT, "ATTRIBUTE"),
        ({"reason": "AGENT"}, TRANSIENT, "AGENT"),
        ({"reason": "INTERNAL"}, TRANSIENT, "INTERNAL"),
        ({}, PERMANENT, "failure"),
    ],
)
def test_run_task_failures(failure, kind, code):
    classified = classify_run_task_failure(failure)
    assert classified.kind is kind
    assert classified.code == code
    assert classified.message == (failure.get("detail") or "")


def test_a_failure_describes_itself():
    assert LaunchFailure(PERMANENT, "MISSING", "cluster gone").describe() == "MISSING: cluster gone"
    assert LaunchFailure(CAPACITY, "RESOURCE:CPU", "").describe() == "RESOURCE:CPU"


# --- backoff ---


# The retry policy, (first retry, cap) in seconds: how long a throttled or starved launch waits is what a user
# sizes max_run_task_attempts by. Written out here, not read from BACKOFF, so that a changed number fails a test.
POLICY = {THROTTLED: (0.5, 20.0), TRANSIENT: (1.0, 30.0), CAPACITY: (10.0, 120.0)}
# The ceiling (rand() = 1) for the 1st, 2nd, ... retry: doubling from the first until the cap.
CEILINGS = {
    THROTTLED: [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0],
    TRANSIENT: [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0],
    CAPACITY: [10.0, 20.0, 40.0, 80.0, 120.0, 120.0, 120.0, 120.0],
}


def test_the_backoff_table_is_the_documented_policy():
    assert BACKOFF == POLICY


@pytest.mark.parametrize("kind", [THROTTLED, TRANSIENT, CAPACITY])
def test_retry_delay_doubles_up_to_the_cap(kind):
    assert [retry_delay(kind, n, rand=lambda: 1.0) for n in range(1, 9)] == CEILINGS[kind]
    assert retry_delay(kind, 29, rand=lambda: 1.0) == POLICY[kind][1]


@pytest.mark.parametrize(
    ("kind", "failures", "rand", "delay"),
    [
        # Full jitter: rand() * ceiling, but never under a quarter of the first delay.
        (THROTTLED, 1, 0.0, 0.125),
        (THROTTLED, 1, 0.5, 0.25),
        (THROTTLED, 3, 0.25, 0.5),
        (THROTTLED, 8, 0.5, 10.0),
        (THROTTLED, 8, 0.999, 19.98),
        (TRANSIENT, 1, 0.0, 0.25),
        (TRANSIENT, 3, 0.5, 2.0),
        (TRANSIENT, 8, 0.25, 7.5),
        (TRANSIENT, 8, 0.001, 0.25),
        (CAPACITY, 1, 0.0, 2.5),
        (CAPACITY, 1, 0.5, 5.0),
        (CAPACITY, 3, 0.25, 10.0),
        (CAPACITY, 8, 0.5, 60.0),
        (CAPACITY, 8, 0.999, 119.88),
    ],
)
def test_retry_delay_is_full_jitter_below_the_ceiling(kind, failures, rand, delay):
    assert retry_delay(kind, failures, rand=lambda: rand) == pytest.approx(delay)


@pytest.mark.parametrize("failures", [0, -1])
def test_retry_delay_before_any_failure_is_the_base(failures):
    assert retry_delay(THROTTLED, failures, rand=lambda: 1.0) == 0.5


@pytest.mark.parametrize("failures", [1_100, 100_000])
def test_retry_delay_stays_capped_for_any_count(failures):
    # max_run_task_attempts has no upper bound, so the count may be large.
    assert retry_delay(CAPACITY, failures, rand=lambda: 1.0) == 120.0


def test_retry_delay_uses_the_random_source():
    values = iter([0.1, 0.9])
    first = retry_delay(CAPACITY, 4, rand=lambda: next(values))
    second = retry_delay(CAPACITY, 4, rand=lambda: next(values))
    assert first < second


# --- decide_retry ---


@pytest.mark.parametrize(
    ("kind", "attempts", "max_attempts", "has_fallback", "retry", "fallback", "delay"),
    [
        (THROTTLED, 1, 5, False, True, False, 0.5),
        (THROTTLED, 1, 5, True, True, False, 0.5),
        (TRANSIENT, 4, 5, True, True, False, 8.0),
        (CAPACITY, 1, 5, True, True, True, 10.0),
        (CAPACITY, 1, 5, False, True, False, 10.0),
        (CAPACITY, 4, 9, False, True, False, 80.0),
        (CAPACITY, 5, 5, True, False, False, 0.0),
        (THROTTLED, 5, 5, False, False, False, 0.0),
        (TRANSIENT, 6, 5, False, False, False, 0.0),
        (PERMANENT, 1, 5, True, False, False, 0.0),
        (THROTTLED, 1, 1, False, False, False, 0.0),
    ],
)
def test_decide_retry(kind, attempts, max_attempts, has_fallback, retry, fallback, delay):
    decision = decide_retry(
        LaunchFailure(kind, "X", ""), attempts, max_attempts, has_fallback=has_fallback, rand=lambda: 1.0
    )
    assert decision.retry is retry
    assert decision.use_fallback is fallback
    assert decision.delay == delay


def test_retries_of_one_task_are_bounded():
    failure = LaunchFailure(THROTTLED, "ThrottlingException", "Rate exceeded")
    attempts = 1
    while decide_retry(failure, attempts, 5, has_fallback=False).retry:
        attempts += 1
    assert attempts == 5
