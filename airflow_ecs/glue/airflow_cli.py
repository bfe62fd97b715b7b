"""``airflow ecs check`` and ``airflow ecs status``: the same commands under Airflow's own CLI.

Airflow 3.2+ finds them through the provider info's ``cli`` entry; 3.1 through the executor's
``get_cli_commands``. Both point here.
"""

from __future__ import annotations

from typing import Any


def _run(module: str) -> Any:
    def command(args: Any) -> None:
        import importlib

        if getattr(args, "json", False):
            # Airflow logs to stdout; JSON for scripts must be alone there (Airflow does the same for -o json).
            from airflow_ecs.glue.airflow_compat import json_output_to_stdout_only

            json_output_to_stdout_only()
        code = importlib.import_module(module).run(args)
        if code:
            raise SystemExit(code)

    return command


def get_cli_commands() -> list:
    from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand

    common = (
        Arg(("--config",), help="an airflow.cfg holding [ecs_fargate] (default: Airflow's own config)"),
        Arg(("--json",), action="store_true", help="print JSON"),
    )
    from airflow_ecs.core.task_state import ECS_STATES

    filters = (
        Arg(("--dag",), help="only this DAG's tasks"),
        Arg(("--state",), type=str.upper, choices=ECS_STATES, help="only tasks in this ECS status"),
        Arg(("--since",), help="only tasks created since: 30m, 2h, 1d or an ISO time"),
    )
    return [GroupCommand(
        name="ecs",
        help="The ECS executor (airflow-ecs): check the deployment, list its tasks, stop orphaned ones",
        subcommands=(
            ActionCommand(name="check", help="Deep health check: credentials, cluster, task definition, network, "
                                             "PassRole, events queue, execution API",
                          func=_run("airflow_ecs.cli.check"), args=common),
            ActionCommand(name="status", help="ECS tasks running or recently stopped, with their Airflow keys",
                          func=_run("airflow_ecs.cli.task_status"), args=(*common, *filters)),
            ActionCommand(name="orphans", help="ECS tasks no Airflow task instance owns; --yes stops them",
                          func=_run("airflow_ecs.cli.orphans"),
                          args=(*common, Arg(("--yes",), action="store_true", help="stop them (default: only list)"))),
        ),
    )]
