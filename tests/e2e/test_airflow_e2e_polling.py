"""The whole path through a real Airflow 3, tracking tasks by DescribeTasks polling (no events queue), on the
Python provisioner's local ECS: the events file applies terraform/ once, and test_airflow_e2e.py's
test_the_python_provisioner_builds_what_terraform_applied holds the two to the same shapes, so this file saves
that minute. The tests are in deployment_cases.py."""

from __future__ import annotations

import pytest

# isort: off
# In the order they run: pytest collects them as imported, and the later ones read what the earlier ones left.
from tests.e2e.deployment_cases import (  # noqa: F401 - the tests, collected and run in this file
    test_outcomes_success_failure_crash_and_out_of_memory,
    test_spot_interruption_restart_adoption_and_live_log,
    test_clearing_a_running_task_stops_its_ecs_task_and_runs_the_next_try,
    test_reschedule_deferral_and_mapping_end_as_on_local_executor,
    test_a_connection_test_runs_where_the_tasks_run_or_is_refused_in_one_line,
    test_deadline_callbacks_run_on_ecs_and_their_results_reach_airflow,
    test_the_executor_tracked_tasks_the_configured_way,
    test_no_log_holds_a_workload_token_or_a_credential,
)
# isort: on

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tracking():
    return "polling"


@pytest.fixture(scope="module")
def provision():
    return "python"
