"""The deadline callback of the chaos DAG, imported by path where the executor runs it."""

from __future__ import annotations


def deadline_missed(context: dict) -> None:
    print(f"deadline missed for {context['dag_run']['dag_run_id']}", flush=True)
