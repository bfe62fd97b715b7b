"""What a scheduler's log shows when the executor cannot start: one ERROR line naming the value and what would
be right, and an exception carrying that same line and no chained cause (so Airflow's traceback ends with it).

Below the e2e test (tests/e2e/test_airflow_e2e.py), which reads a real scheduler's log for one case.
"""

from __future__ import annotations

import pytest
import structlog

from airflow_ecs.executor import EcsFargateExecutor, ExecutorStartError

PREFIX = "ECS executor cannot start: "


def start_error() -> tuple[list[dict], ExecutorStartError]:
    """The error-level entries start() logged (Airflow logs through structlog, in 3.1 as in 3.3), and what it raised."""
    with structlog.testing.capture_logs() as entries, pytest.raises(ExecutorStartError) as caught:
        EcsFargateExecutor().start()
    return [e for e in entries if e["log_level"] in ("error", "critical", "exception")], caught.value


@pytest.mark.parametrize(
    ("setting", "value", "line"),
    [
        ("launch_rate", "fast", "[ecs_fargate] launch_rate = 'fast': expected a number, e.g. 20"),
        ("cluster", "no-such-cluster", "cluster 'no-such-cluster' not found"),
        ("assign_public_ip", "maybe", "[ecs_fargate] assign_public_ip = 'maybe': expected"),
    ],
)
def test_a_bad_setting_is_one_error_line_and_the_same_line_is_raised(ecs_env, setting, value, line):
    ecs_env.configure(**{setting: value})
    entries, error = start_error()
    assert [e["event"] for e in entries] == [str(error)]
    assert str(error).startswith(PREFIX) and line in str(error) and "\n" not in str(error)
    assert not {"exc_info", "exception"} & set(entries[0])  # no traceback of our own
    # `from None`: Airflow's traceback shows only this exception, not the one deep inside that led to it.
    assert error.__cause__ is None and error.__suppress_context__


def test_a_credential_in_an_unknown_key_stays_out_of_the_log_line(ecs_env, monkeypatch):
    monkeypatch.setenv("AIRFLOW__ECS_FARGATE__AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-not-to-be-logged")
    entries, error = start_error()
    assert [e["event"] for e in entries] == [str(error)]
    assert "aws_secret_access_key = (value not shown)" in str(error)
    assert "not-to-be-logged" not in repr(entries)
