"""Why a task stopped, row by row, with stop codes and reasons as ECS writes them."""

from __future__ import annotations

import pytest

from airflow_ecs.core.diagnosis import diagnose

ESSENTIAL = "Essential container in task exited"

# (stop code, stopped reason, container reason, exit code) -> words of the cause, words of the action, infrastructure
ROWS = [
    pytest.param(
        "TaskFailedToStart",
        "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref "
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow:3.1: not found",
        None,
        None,
        "image could not be pulled",
        "VPC endpoints",
        True,
        id="image-pull",
    ),
    pytest.param(
        "TaskFailedToStart",
        None,
        "CannotPullContainerError: Error response from daemon: pull access denied",
        None,
        "image could not be pulled",
        "execution role",
        True,
        id="image-pull-in-container-reason",
    ),
    pytest.param(
        "TaskFailedToStart",
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        "unable to retrieve secret from asm: AccessDeniedException",
        None,
        None,
        "secrets",
        "Secrets Manager",
        True,
        id="secrets",
    ),
    pytest.param(
        "SpotInterruption",
        "Your Spot Task was interrupted.",
        None,
        None,
        "Fargate Spot",
        "fallback_capacity_provider_strategy",
        True,
        id="spot",
    ),
    pytest.param(
        "SpotInterruption",
        "Your Spot Task was interrupted.",
        None,
        143,
        "Fargate Spot",
        "retries",
        True,
        id="spot-after-sigterm",
    ),
    pytest.param(
        "TerminationNotice",
        "Task stopped due to maintenance",
        None,
        None,
        "termination notice",
        "Relaunched",
        True,
        id="termination-notice",
    ),
    pytest.param(
        "EssentialContainerExited",
        ESSENTIAL,
        "OutOfMemoryError: Container killed due to memory usage",
        137,
        "more memory",
        "Raise memory",
        False,
        id="oom",
    ),
    pytest.param(
        "EssentialContainerExited",
        ESSENTIAL,
        "OutOfMemoryError: Container killed due to memory usage",
        None,
        "more memory",
        "Raise memory",
        False,
        id="oom-without-exit-code",
    ),
    pytest.param("EssentialContainerExited", ESSENTIAL, None, 137, "exit 137", "Raise memory", False, id="137"),
    pytest.param("UserInitiated", "Task stopped by user", None, 143, "SIGTERM (exit 143)", "StopTask", False, id="143"),
    pytest.param(
        "EssentialContainerExited",
        ESSENTIAL,
        None,
        1,
        "exited 1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        False,
        id="exit-1",
    ),
    pytest.param(
        "EssentialContainerExited", ESSENTIAL, None, 126, "could not run (exit 126)", "task SDK", False, id="126"
    ),
    pytest.param(
        "EssentialContainerExited", ESSENTIAL, None, 127, "could not run (exit 127)", "task SDK", False, id="127"
    ),
    pytest.param("EssentialContainerExited", ESSENTIAL, None, 2, "exited 2", "task's log", False, id="other-exit"),
    pytest.param(
        "EssentialContainerExited",
        ESSENTIAL,
        None,
        None,
        "never reported an exit code",
        "stopped reason",
        True,
        id="no-exit-code",
    ),
    pytest.param(None, None, None, None, "never reported an exit code", "container's log", True, id="nothing-known"),
    pytest.param(
        "TaskFailedToStart",
        "Timeout waiting for network interface provisioning to complete.",
        None,
        None,
        "network interface",
        "free IP addresses",
        True,
        id="network-interface",
    ),
    pytest.param(
        "TaskFailedToStart",
        "ResourceInitializationError: failed to configure ENI: failed to setup regular eni: netplugin failed",
        None,
        None,
        # ResourceInitializationError is not only about secrets: this one is the network interface.
        "network interface",
        "free IP addresses",
        True,
        id="eni-resource-initialization",
    ),
    pytest.param(
        "TaskFailedToStart",
        "Unexpected EC2 error while attempting to Create Network Interface",
        None,
        None,
        "network interface",
        "ENI limit",
        True,
        id="eni-create",
    ),
    pytest.param(
        "TaskFailedToStart",
        "Task failed to start",
        None,
        None,
        "failed to start",
        "Relaunched",
        True,
        id="failed-to-start",
    ),
    pytest.param(
        "UserInitiated",
        "Stopped by airflow-ecs: pending timeout",
        None,
        None,
        "stopped before its container ran",
        "StopTask",
        False,
        id="stopped-before-running",
    ),
    pytest.param("EssentialContainerExited", ESSENTIAL, None, 0, "exited 0", "Nothing", False, id="exit-0"),
]


@pytest.mark.parametrize(("stop_code", "reason", "container_reason", "exit_code", "cause", "action", "infra"), ROWS)
def test_each_stop_gives_a_cause_and_an_action(stop_code, reason, container_reason, exit_code, cause, action, infra):
    diagnosis = diagnose(stop_code, reason, container_reason, exit_code)
    assert cause in diagnosis.cause
    assert action in diagnosis.action
    assert diagnosis.infrastructure is infra
    assert diagnosis.line() == f"{diagnosis.cause}. {diagnosis.action}"
    assert "\n" not in diagnosis.line()


@pytest.mark.parametrize(
    ("stop_code", "reason", "container_reason", "exit_code"),
    [row.values[:4] for row in ROWS if (row.values[1] or row.values[2]) and row.values[3] != 0],
)
def test_the_cause_quotes_what_ecs_said(stop_code, reason, container_reason, exit_code):
    cause = diagnose(stop_code, reason, container_reason, exit_code).cause
    for said in (reason, container_reason):
        if said:
            assert said in cause
