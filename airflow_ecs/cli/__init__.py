"""The ``airflow-ecs`` command line (also ``python -m airflow_ecs``).

Each subcommand lives in the module that owns its concern; this file only wires them to argparse,
importing only the module of the command that runs, so ``airflow-ecs render`` does not pay for Airflow's
import, nor ``airflow-ecs check`` for the local ECS.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_ecs.cli.task_status import TaskRow

# command name -> (module, one-line help). The module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "render": ("airflow_ecs.cli.render", "terraform outputs -> airflow.cfg section, run_task template, env file"),
    "local": ("airflow_ecs.local.server", "run the local ECS (moto + a process runtime) in the foreground"),
    "check": ("airflow_ecs.cli.check", "deep health check of the deployment the config points at"),
    "status": ("airflow_ecs.cli.task_status", "ECS tasks running or recently stopped, with their Airflow keys"),
    "orphans": ("airflow_ecs.cli.orphans", "ECS tasks no Airflow task instance owns; --yes stops them"),
    "plan": ("airflow_ecs.deploy.terraform_runner", "terraform init + plan with a var-file"),
    "apply": ("airflow_ecs.deploy.terraform_runner", "terraform init + apply, then render the Airflow config"),
    "destroy": ("airflow_ecs.deploy.terraform_runner", "terraform init + destroy with a var-file"),
    "output-value": (
        "airflow_ecs.deploy.terraform_runner",
        "print one terraform output (for scripts, e.g. make image)",
    ),
}


# The options commands share, each declared once: flags -> argparse's keyword arguments. ``airflow ecs check``,
# ``status`` and ``orphans`` (glue/airflow_cli.py) declare their Airflow ``Arg``s from the same table.
Flag = tuple[tuple[str, ...], dict[str, Any]]
CONFIG: Flag = (("--config",), {"help": "an airflow.cfg holding [ecs_fargate] (default: Airflow's own config)"})


def json_flag(what: str) -> Flag:
    return ("--json",), {"action": "store_true", "help": f"print {what} as JSON"}


def filter_flags() -> list[Flag]:
    from airflow_ecs.core.task_state import ECS_STATES

    return [
        (("--dag",), {"help": "only this DAG's tasks"}),
        (("--state",), {"type": str.upper, "choices": ECS_STATES, "help": "only tasks in this ECS status"}),
        (("--since",), {"help": "only tasks created since: 30m, 2h, 1d or an ISO time"}),
    ]


def shared_flags(command: str) -> list[Flag]:
    """The options of the commands that read the deployment's ``[ecs_fargate]`` (ours and Airflow's CLI alike)."""
    if command == "check":
        return [CONFIG, json_flag("the checks")]
    if command == "status":
        return [CONFIG, json_flag("the tasks"), *filter_flags()]
    if command == "orphans":
        return [
            CONFIG,
            json_flag("the orphans"),
            (("--yes",), {"action": "store_true", "help": "stop them (default: only list them)"}),
        ]
    raise KeyError(command)


def add_flags(parser: argparse.ArgumentParser, flags: Sequence[Flag]) -> None:
    for names, options in flags:
        parser.add_argument(*names, **options)


# The columns that open ``status``'s and ``orphans``' tables: which task instance try each ECS task is, and its status.
TASK_COLUMNS = ("dag", "task", "run", "try", "ECS task", "status")


def print_task_table(title: str, columns: Sequence[str], rows: Iterable[tuple[TaskRow, Sequence[str]]]) -> None:
    """``status``'s and ``orphans``' table: per ECS task its ``TASK_COLUMNS``, then the command's own ``columns``
    (each row's ``cells``). Every cell and the title are escaped: a run id or ECS's reason may hold rich markup
    (``[bold]``), shown as written. Long cells fold to the terminal's width (80 when not a terminal) instead of
    wrapping the whole row."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title))
    for column in (*TASK_COLUMNS, *columns):
        table.add_column(column, overflow="fold")
    for row, cells in rows:
        name = f"{row.task_id}[{row.map_index}]" if row.map_index >= 0 else row.task_id
        key = (row.dag_id, name, row.run_id, str(row.try_number), row.ecs_task_id, row.last_status)
        table.add_row(*(escape(cell) for cell in (*key, *cells)))
    Console().print(table)


def run_command(command: str, module: Any, args: argparse.Namespace) -> int:
    """Run one command's module; the error boundary of every command, ``airflow ecs ...`` included.

    A refusal (``core.errors.UserError``: bad config, template, outputs, credentials, a Terraform step) is its one
    line on stderr and its exit status (2 unless it says otherwise), never a traceback.
    """
    from airflow_ecs.core.errors import UserError

    try:
        return int(module.run(args) or 0)
    except UserError as error:
        print(f"airflow-ecs {command}: {error}", file=sys.stderr)
        return error.exit_status


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (for its arguments), so ``airflow-ecs render`` does not
    import the local ECS, and ``airflow-ecs --help`` imports no command at all."""
    from airflow_ecs import __version__

    parser = argparse.ArgumentParser(prog="airflow-ecs", description="Airflow tasks as ECS/Fargate tasks.")
    parser.add_argument("--version", action="version", version=f"airflow-ecs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser, name)
            command_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)  # the top level has only flags
    args = build_parser(command).parse_args(argv)
    return run_command(args.command, args._module, args)


if __name__ == "__main__":
    sys.exit(main())
