"""The exact line a diagnosis makes of what ECS said: which parts it quotes, in what order, with what glue.
(test_diagnosis.py picks the branch for each stop; this pins the words the user reads in the event log.)"""

from __future__ import annotations

import pytest

from airflow_ecs.core.diagnosis import diagnose

EXITED, ESSENTIAL = "EssentialContainerExited", "Essential container in task exited"


@pytest.mark.parametrize(
    ("stop_code", "reason", "container_reason", "detail"),
    [
        (EXITED, ESSENTIAL, "Error: boom", f" ({EXITED}: {ESSENTIAL}; Error: boom)"),
        (EXITED, ESSENTIAL, None, f" ({EXITED}: {ESSENTIAL})"),
        (None, ESSENTIAL, None, f" ({ESSENTIAL})"),
        (EXITED, None, None, f" ({EXITED})"),
        (None, None, "Error: boom", " (Error: boom)"),
        (None, None, None, ""),
    ],
)
def test_what_ecs_said_is_quoted_once_in_order(stop_code, reason, container_reason, detail):
    assert diagnose(stop_code, reason, container_reason, 2).cause == f"the container exited 2{detail}"


@pytest.mark.parametrize(
    ("args", "cause", "infrastructure"),
    [
        (
            ("TaskFailedToStart", "CannotPullContainerError: not found", None, None),
            "the image could not be pulled (TaskFailedToStart: CannotPullContainerError: not found)",
            True,
        ),
        (
            ("TaskFailedToStart", "Timeout waiting for network interface provisioning to complete.", None, None),
            (
                "the task's network interface could not be set up "
                "(TaskFailedToStart: Timeout waiting for network interface "
                "provisioning to complete.)"
            ),
            True,
        ),
        (
            ("TaskFailedToStart", "ENI allocation failed", None, None),
            "the task's network interface could not be set up (TaskFailedToStart: ENI allocation failed)",
            True,
        ),
        (
            ("TaskFailedToStart", "failed to pull image manifest", None, None),
            "the image could not be pulled (TaskFailedToStart: failed to pull image manifest)",
            True,
        ),
        (
            ("TaskFailedToStart", "ResourceInitializationError: unable to pull secrets", None, None),
            (
                "the task's secrets or registry auth could not be fetched "
                "(TaskFailedToStart: ResourceInitializationError: "
                "unable to pull secrets)"
            ),
            True,
        ),
        (
            ("SpotInterruption", "Your Spot Task was interrupted.", None, 143),
            "Fargate Spot reclaimed the capacity (SpotInterruption: Your Spot Task was interrupted.)",
            True,
        ),
        (
            ("TerminationNotice", None, None, None),
            "the task was stopped by an AWS maintenance or termination notice (TerminationNotice)",
            True,
        ),
        (
            (EXITED, ESSENTIAL, "OutOfMemoryError: Container killed", 137),
            (
                f"the container was killed for using more memory than it has ({EXITED}: {ESSENTIAL}; OutOfMemoryError: "
                "Container killed)"
            ),
            False,
        ),
        (
            (EXITED, ESSENTIAL, "killed: memory limit", 137),
            f"the container was killed for using more memory than it has ({EXITED}: {ESSENTIAL}; killed: memory limit)",
            False,
        ),
        (
            ("TaskFailedToStart", "Task failed to start", None, None),
            "the task failed to start (TaskFailedToStart: Task failed to start)",
            True,
        ),
        (
            ("UserInitiated", "stopped by test", None, None),
            "the task was stopped before its container ran (UserInitiated: stopped by test)",
            False,
        ),
        (
            (EXITED, ESSENTIAL, None, None),
            f"the Airflow container never reported an exit code ({EXITED}: {ESSENTIAL})",
            True,
        ),
        ((EXITED, ESSENTIAL, None, 0), "the container exited 0", False),
        (
            (EXITED, None, None, 137),
            f"the container was killed (exit 137), most often for running out of memory ({EXITED})",
            False,
        ),
        ((None, None, None, 143), "the container was terminated with SIGTERM (exit 143)", False),
        ((None, None, None, 1), "the container exited 1", False),
        ((None, None, None, 126), "the container's command could not run (exit 126)", False),
        ((None, None, None, 127), "the container's command could not run (exit 127)", False),
        (
            ("UserInitiated", None, None, 143),
            "the container was terminated with SIGTERM (exit 143) (UserInitiated)",
            False,
        ),
    ],
)
def test_each_cause_in_full(args, cause, infrastructure):
    diagnosis = diagnose(*args)
    assert diagnosis.cause == cause
    assert diagnosis.infrastructure is infrastructure
    assert diagnosis.line() == f"{cause}. {diagnosis.action}"
    assert diagnosis.action and "\n" not in diagnosis.line()
