"""docs/refusals.md lists every refusal: each raise of a refusal in the checking modules is reached by a row."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from airflow_ecs.aws import aws_credentials
from airflow_ecs.cli import render
from airflow_ecs.core import config, executor_config, run_task_request
from airflow_ecs.deploy import generator, terraform_outputs
from airflow_ecs.glue import startup
from devtools import refusals

MODULES = (config, executor_config, terraform_outputs, generator, render, startup, run_task_request, aws_credentials)
REFUSAL_CALLS = {
    "ConfigError",
    "ExecutorConfigError",
    "OutputsError",
    "RenderError",
    "TemplateError",
    "RequestError",
    "CredentialsError",
    "bad",
}
# Reached only with Airflow or AWS at hand (a connection from Airflow's secrets backends), or unreachable from a
# user's input because an earlier check refuses first. Each named, so a new refusal cannot hide here.
NOT_IN_THE_CATALOGUE = {
    ("aws_credentials", "_read_connection"),  # Airflow's secrets backends: tested with a connection
    ("executor_config", "parse_cpu"),  # cpu <= 0 as text: "0" is refused as "expected a positive number" above
    ("terraform_outputs", "parse_outputs"),  # a non-object: json.loads of a file render read gives one
    ("render", "run"),  # wording of OSError: the full-disk test in test_generator
    ("render", "read_outputs"),  # stdin a terminal, Terraform's own error: test_generator, test_terraform_runner
    ("startup", "read_file"),  # an unreadable file (permissions): the OS's words
    ("config", "parse_capacity_provider_strategy"),  # a strategy that is neither text nor a list: only from code
    ("run_task_request", "load_template"),  # an unreadable template: the run_task_template key is checked first
    ("executor_config", "parse_executor_config"),  # capacity_provider_strategy's own wrapping of a ConfigError
}


def refusal_sites(module) -> list[tuple[str, int, int]]:
    """(function, first line, last line) of each `raise <Refusal>(...)` in the module."""
    tree = ast.parse(Path(module.__file__).read_text())
    sites = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", ""))
                if name in REFUSAL_CALLS:
                    sites.append((function.name, node.lineno, node.end_lineno))
    return sites


def test_every_refusal_in_the_checking_code_has_a_row():
    files = {str(Path(module.__file__)): module.__name__.rsplit(".", 1)[-1] for module in MODULES}
    executed: dict[str, set[int]] = {name: set() for name in files.values()}

    def tracer(frame, event, arg):
        name = files.get(frame.f_code.co_filename)
        if name is None:
            return tracer if event == "call" else None
        if event == "line":
            executed[name].add(frame.f_lineno)
        return tracer

    sys.settrace(tracer)
    try:
        rows = refusals.catalogue()
    finally:
        sys.settrace(None)
    assert len({row.line for row in rows}) == len(rows), "two rows give the same line: one is redundant"

    missing = []
    for module in MODULES:
        name = module.__name__.rsplit(".", 1)[-1]
        for function, first, last in refusal_sites(module):
            reached = any(line in executed[name] for line in range(first, last + 1))
            if not reached and (name, function) not in NOT_IN_THE_CATALOGUE:
                missing.append(f"{name}.{function}:{first}")
    assert not missing, f"refusals no row of devtools/refusals.py reaches: {missing}"
