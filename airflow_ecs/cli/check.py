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
    scheduler would refuse to start (the same line it logs) or no credentials can be made.

    Multi-team: each team's section (``[<team>=ecs_fargate]``, ``AIRFLOW__<TEAM>___ECS_FARGATE__*``) is checked
    after the deployment's, as the team's executor reads it; every line names the team."""
    from airflow_ecs.glue.startup import check_cli_settings, cli_teams

    teams: list[str | None] = [None, *cli_teams(args.config)]
    # Every section's start-up checks before any AWS call: any refused one keeps the scheduler from starting.
    configs = [(team, check_cli_settings(args.config, team)[0]) for team in teams]
    results = [(team, run_checks(config, ecs_api.client_factory(config))) for team, config in configs]
    if args.json:
        print(json.dumps([{"team": team, **asdict(check)} for team, checks in results for check in checks], indent=2))
    else:
        titles = [f"cluster {config.cluster} in {config.region}" for _, config in configs]
        if len(teams) > 1:
            titles = [f"{team or '(deployment)'}: {title}" for team, title in zip(teams, titles, strict=True)]
        print_table(results, f"airflow-ecs check: {'; '.join(titles)}")
    return 1 if any(check.status == FAIL for _, checks in results for check in checks) else 0


def print_table(results: list[tuple[str | None, list[Check]]], title: str) -> None:
    """One row per check; with teams, a first column names the team of each (``(deployment)``: the global one)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # The terminal's own width (80 when not a terminal); details fold, and rich markup in them ([ecs_fargate])
    # is text, not style.
    table = Table(title=escape(title))
    with_teams = len(results) > 1
    if with_teams:
        table.add_column("team", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    style = {OK: "green", FAIL: "bold red", WARN: "yellow", SKIP: "dim"}
    for team, checks in results:
        for check in checks:
            row = [escape(check.name), f"[{style[check.status]}]{check.status}[/]", escape(check.detail)]
            table.add_row(*([escape(team or "(deployment)")] if with_teams else []), *row)
    Console().print(table)
