"""The short chaos run in ``make test``: one DAG run (20 task instances: mapped over an upstream's output, a
reschedule sensor, a task that defers and resumes, and a deadline callback) under every fault at once, and a
scheduler SIGKILLed and restarted mid-run. ``make chaos`` is the long run of the same harness (1,000 task
instances, many runs at once); this one is sized for make test's 15 minutes: each task instance is a Python
process importing Airflow, seconds of CPU on a 2-core machine."""

from __future__ import annotations

import pytest

from tests.chaos.harness import ChaosSettings, run_chaos

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_twenty_task_instances_under_mixed_faults_keep_every_invariant(tmp_path):
    figures = run_chaos(ChaosSettings(work_dir=tmp_path / "chaos", task_instances=20, seed=1, timeout=420))
    print(figures.report())
    assert figures.task_instances == 20
    # The run missed its deadline and the executor ran its callback (or the harness killed that container).
    assert figures.callbacks == 1, figures.report()
    # The faults did happen: a run that injected nothing would prove nothing.
    injected = figures.faults["injected"]
    assert sum(injected.values()) >= 10 and figures.scheduler_kills == 1, figures.report()
    assert figures.violations() == [], figures.report()
