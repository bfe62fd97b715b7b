"""The one base type of every refusal a user can act on, so the command line maps them to exit codes once.

Bad ``[ecs_fargate]`` values, a run_task template that renders no valid request, missing credentials, terraform
outputs that break the contract, a Terraform step that failed: each is one line naming the value and what would be
right. ``airflow_ecs.cli.run_command`` prints that line and exits with ``exit_status``; no command repeats it.
"""

from __future__ import annotations


class UserError(Exception):
    """``str()`` is the one line to show (never a traceback); ``exit_status`` the status a command exits with."""

    # Refused before anything ran, as argparse's usage errors; a subclass or an instance may say otherwise.
    exit_status: int = 2
