"""``airflow-ecs check``: the deep health check of a deployment (``airflow_ecs.aws.health``), as a table or JSON."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from airflow_ecs.aws import ecs_api
from airflow_ecs.aws.health import FAIL, OK, SKIP, WARN, Check, run_checks
from airflow_ecs.cli import add_flags, shared_flags


def add_arguments(parser: argparse.ArgumentParser, command_name: str) -> None:
    add_flags(parser, shared_flags(command_name))


def run(args: argparse.Namespace) -> int:
    """Exit 0 when nothing failed (warnings and skipped checks allowed), 1 when a check failed, 2 when the
    scheduler would refuse to start (the same line it logs) or no credentials can be made."""
    from airflow_ecs.glue.startup import check_cli_settings

    config, _ = check_cli_settings(args.config)  # exactly the scheduler's start-up checks
    client = ecs_api.client_factory(config)
    checks = run_checks(config, client)
    if args.json:
        print(json.dumps([asdict(check) for check in checks], indent=2))
    else:
        print_table(checks, f"airflow-ecs check: cluster {config.cluster} in {config.region}")
    return 1 if any(check.status == FAIL for check in checks) else 0


def print_table(checks: list[Check], title: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # The terminal's own width (80 when not a terminal); details fold, and rich markup in them ([ecs_fargate])
    # is text, not style.
    table = Table(title=escape(title))
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    style = {OK: "green", FAIL: "bold red", WARN: "yellow", SKIP: "dim"}
    for check in checks:
        table.add_row(escape(check.name), f"[{style[check.status]}]{check.status}[/]", escape(check.detail))
    Console().print(table)
