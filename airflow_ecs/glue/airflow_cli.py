"""``airflow ecs check``, ``status`` and ``orphans``: the same commands under Airflow's own CLI.

Airflow 3.2+ finds them through the provider info's ``cli`` entry; 3.1 through the executor's
``get_cli_commands``. Both point here. The options and the error boundary are ``airflow_ecs.cli``'s own, read by
name: Airflow builds its CLI in the scheduler's process too, and the scheduler imports no command module.
"""

from __future__ import annotations

import importlib
from typing import Any

# command -> (module, help)
COMMANDS = {
    "check": (
        "airflow_ecs.cli.check",
        ("Deep health check: credentials, cluster, task definition, network, PassRole, events queue, execution API"),
    ),
    "status": ("airflow_ecs.cli.task_status", "ECS tasks running or recently stopped, with their Airflow keys"),
    "orphans": ("airflow_ecs.cli.orphans", "ECS tasks no Airflow task instance owns; --yes stops them"),
}


def _cli() -> Any:
    return importlib.import_module("airflow_ecs.cli")


def _run(command: str, module: str) -> Any:
    def run(args: Any) -> None:
        if getattr(args, "json", False):
            # Airflow logs to stdout; JSON for scripts must be alone there (Airflow does the same for -o json).
            from airflow_ecs.glue.airflow_compat import json_output_to_stdout_only

            json_output_to_stdout_only()
        code = _cli().run_command(command, importlib.import_module(module), args)
        if code:
            raise SystemExit(code)

    return run


def get_cli_commands() -> list:
    from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand

    cli = _cli()
    return [
        GroupCommand(
            name="ecs",
            help="The ECS executor (airflow-ecs): check the deployment, list its tasks, stop orphaned ones",
            subcommands=tuple(
                ActionCommand(
                    name=command,
                    help=help_text,
                    func=_run(command, module),
                    args=tuple(Arg(flags, **options) for flags, options in cli.shared_flags(command)),
                )
                for command, (module, help_text) in COMMANDS.items()
            ),
        )
    ]
