"""The deadline callback of tests/e2e/dags/ecs_e2e_workloads.py, imported by path where the executor runs it.

Its effect is a file in the worker's AIRFLOW_HOME, named after the run, so a test can see it ran, where and
for which run.
"""

from __future__ import annotations

import os
from pathlib import Path


def deadline_missed(note: str, context: dict) -> None:
    run_id = context["dag_run"]["dag_run_id"]
    marker = Path(os.environ["AIRFLOW_HOME"]) / f"deadline-missed-{run_id}.txt"
    marker.write_text(f"{note} {context['dag_run']['dag_id']} {run_id}\n")
    print(f"deadline missed for {run_id}; wrote {marker}", flush=True)


def deadline_missed_and_fails(context: dict) -> None:
    """A callback that raises: its failure must reach Airflow as the callback's state."""
    raise RuntimeError(f"this deadline callback fails on purpose ({context['dag_run']['dag_run_id']})")
