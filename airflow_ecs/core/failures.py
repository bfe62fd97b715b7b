"""Why a RunTask call failed, and what to do about it: a pure classification and a retry policy.

Throttling and transient errors are retried quickly with the same clientToken (ECS then never starts a
second container); capacity is retried more slowly, optionally on a fallback strategy; anything else
(invalid parameters, access denied, a missing cluster or task definition) fails the task at once.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class FailureKind(enum.Enum):
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    CAPACITY = "capacity"
    PERMANENT = "permanent"

    @property
    def retryable(self) -> bool:
        return self is not FailureKind.PERMANENT


@dataclass(frozen=True)
class LaunchFailure:
    kind: FailureKind
    code: str
    message: str

    def describe(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "ServerException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ExpiredTokenException",
        "ExpiredToken",
        "RequestExpired",
        "IDPCommunicationError",
    }
)
# Errors botocore raises without a response: the request may or may not have reached ECS, so a retry
# must reuse the clientToken.
TRANSIENT_EXCEPTIONS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "ConnectionError",
        "ProxyConnectionError",
        "HTTPClientError",
        "ResponseStreamingError",
        "IncompleteReadError",
    }
)
_CAPACITY_TEXT = re.compile(
    r"capacity is unavailable|insufficient capacity|tasks? in provisioning|"
    r"provisioning (?:tasks?|state) limit|reached the limit on the number of tasks",
    re.IGNORECASE,
)


def classify_error(error: BaseException) -> LaunchFailure:
    """Classify an exception raised by a boto3 call."""
    response = getattr(error, "response", None)
    if isinstance(response, Mapping) and "Error" in response:
        code = str(response["Error"].get("Code", "")) or type(error).__name__
        message = str(response["Error"].get("Message", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return LaunchFailure(classify_code(code, message, status), code, message)
    name = type(error).__name__
    if name in TRANSIENT_EXCEPTIONS or any(base.__name__ in TRANSIENT_EXCEPTIONS for base in type(error).__mro__):
        return LaunchFailure(FailureKind.TRANSIENT, name, str(error))
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoRegionError", "ProfileNotFound"):
        return LaunchFailure(
            FailureKind.PERMANENT,
            name,
            f"{error}; boto3 looks in the environment, the shared files (~/.aws), then the ECS/EC2 role, "
            "or set [ecs_fargate] aws_profile",
        )
    return LaunchFailure(FailureKind.PERMANENT, name, str(error))


def classify_code(code: str, message: str = "", http_status: int = 0) -> FailureKind:
    if code in THROTTLING_CODES or "rate exceeded" in message.lower():
        return FailureKind.THROTTLED
    if _CAPACITY_TEXT.search(message):
        return FailureKind.CAPACITY
    if code in TRANSIENT_CODES or http_status >= 500:
        return FailureKind.TRANSIENT
    return FailureKind.PERMANENT


def classify_run_task_failure(failure: Mapping[str, str]) -> LaunchFailure:
    """Classify one entry of RunTask's ``failures[]`` (ECS answered, but placed no task)."""
    reason = str(failure.get("reason", ""))
    detail = str(failure.get("detail", "") or "")
    text = f"{reason} {detail}"
    if reason.startswith("RESOURCE:") or _CAPACITY_TEXT.search(text):
        kind = FailureKind.CAPACITY
    elif reason in ("AGENT", "INTERNAL"):
        kind = FailureKind.TRANSIENT
    else:  # MISSING (cluster/task definition), INACTIVE, ATTRIBUTE, LOCATION: the request itself is wrong
        kind = FailureKind.PERMANENT
    return LaunchFailure(kind, reason or "failure", detail)


# Seconds: throttling and transient errors clear fast; capacity returns on the scale of minutes.
BACKOFF = {
    FailureKind.THROTTLED: (0.5, 20.0),
    FailureKind.TRANSIENT: (1.0, 30.0),
    FailureKind.CAPACITY: (10.0, 120.0),
}


def retry_delay(kind: FailureKind, failures_so_far: int, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog).

    ``failures_so_far`` counts this one (1 for the first retry). Full jitter spreads many throttled
    callers apart instead of letting them retry in lockstep.
    """
    base, cap = BACKOFF[kind]
    ceiling = min(cap, base * 2 ** min(max(failures_so_far - 1, 0), 32))  # the cap is reached long before
    return max(ceiling * rand(), base / 4)


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay: float = 0.0
    use_fallback: bool = False


def decide_retry(
    failure: LaunchFailure,
    attempts: int,
    max_attempts: int,
    *,
    has_fallback: bool,
    rand: Callable[[], float] = random.random,
) -> RetryDecision:
    """After ``attempts`` RunTask calls for a task, the latest failing with ``failure``: again, or give up?"""
    if not failure.kind.retryable or attempts >= max_attempts:
        return RetryDecision(retry=False)
    return RetryDecision(
        retry=True,
        delay=retry_delay(failure.kind, attempts, rand),
        use_fallback=failure.kind is FailureKind.CAPACITY and has_fallback,
    )


def start_retry_delay(
    failed_checks: int, elapsed: float, budget: float, rand: Callable[[], float] = random.random
) -> float | None:
    """After ``failed_checks`` start-up checks failed for a transient reason: seconds to wait before the next,
    or None when waiting would pass ``budget`` seconds since the first (then the scheduler stops)."""
    delay = retry_delay(FailureKind.TRANSIENT, failed_checks, rand)
    return delay if elapsed + delay <= budget else None


# What one RunTask call came to; declared here (not in ecs_api) so the launcher's and rate limit's callers
# need no boto3 to name it.
@dataclass(frozen=True)
class RunTaskResult:
    task_arn: str | None = None
    task: Mapping[str, Any] | None = None
    failure: LaunchFailure | None = None
    # ECS answered (``failures[]``): it placed no task for this clientToken, and may replay that answer for it.
    answered: bool = False
