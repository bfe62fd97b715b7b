"""``airflow-ecs render``: terraform outputs -> the ``[ecs_fargate]`` section, the run_task template and an
env file, rendered from the Jinja templates in ``templates/``. Deterministic; written all or nothing.

``--out`` may be a directory the user keeps other files in (``--out .``, ``$AIRFLOW_HOME``): render writes
only its own three files there, each beside its final name and then renamed over it, and refuses to replace a
file it did not write (no ``MARKER`` in its first line), a symlink or the outputs file it reads.
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from airflow_ecs.core.config import ConfigError, load_config
from airflow_ecs.core.run_task_request import default_template_path
from airflow_ecs.deploy.terraform_outputs import DeploymentOutputs, OutputsError, ProfileOutputs, parse_outputs

TEMPLATE_FILE = "run_task_template.json.j2"
# The first line of every file render writes says so: render replaces a file only when it carries this.
MARKER = "Rendered by `airflow-ecs render`"
EXECUTOR_PATH = "airflow_ecs.executor.EcsFargateExecutor"


class RenderError(OutputsError):
    """render would lose or overwrite something it does not own; the message is one line naming it.
    (An OutputsError, so every caller of ``render_to``, ``apply`` included, already reports it in one line.)"""


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
        # A Jinja comment renders to nothing: the copy says who wrote it and stays the same template.
        TEMPLATE_FILE: f"{{# {MARKER} (a copy of the package's template); edit it freely under another name. #}}\n"
                       + default_template_path().read_text(),
    }


def written_by_render(path: Path) -> bool:
    """True when ``path``'s first line carries ``MARKER`` (render may replace it)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            return MARKER in file.readline()
    except OSError:
        return False


def refuse_what_is_not_ours(names: list[str], out_dir: Path, protected: tuple[Path, ...] = ()) -> None:
    """Each target must be absent or a regular file render wrote, and none may be a file render reads."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RenderError(f"--out {out_dir}: is a file, not a directory; give a directory (e.g. generated)")
    for name in names:
        target = out_dir / name
        if any(target == p or (target.exists() and p.exists() and target.samefile(p)) for p in protected):
            raise RenderError(f"{target} is the terraform outputs file render reads; give --out another "
                              "directory (e.g. generated) or move the outputs file")
        if target.is_symlink():
            raise RenderError(f"{target} is a symlink; render does not write through links: remove it or give "
                              "--out another directory")
        if target.exists() and not (target.is_file() and written_by_render(target)):
            raise RenderError(f"{target} exists and was not written by airflow-ecs render; move it away or give "
                              "--out another directory (e.g. generated)")


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(files: dict[str, str], out_dir: Path, protected: tuple[Path, ...] = ()) -> None:
    """Write each file beside its final name, then rename them all into place: a failure (a full disk) while
    writing leaves every previous file as it was; nothing else in ``out_dir`` is touched.

    Modes are what the umask gives (0755 directories, 0644 files with the usual 022), not mkstemp's 0600.
    """
    refuse_what_is_not_ours(list(files), out_dir, protected)
    out_dir.mkdir(parents=True, exist_ok=True)
    mode = _file_mode()
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in files.items():
            descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            staged.append((name, Path(temporary)))
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, mode)
        for name, temporary in staged:
            os.replace(temporary, out_dir / name)
    finally:
        for _, temporary in staged:
            temporary.unlink(missing_ok=True)


def render_to(outputs: Mapping[str, Any], out_dir: Path, protected: tuple[Path, ...] = ()) -> list[Path]:
    """``terraform output -json`` -> every file ``render`` writes, written into ``out_dir`` all or nothing;
    ``protected`` are files render must not replace (the outputs file it read)."""
    files = render_files(parse_outputs(outputs), str(out_dir / TEMPLATE_FILE))
    write_atomically(files, out_dir, protected)
    return [out_dir / name for name in files]


def next_steps(out_dir: Path) -> str:
    """What to do with the files, exactly: both ways leave the user's airflow.cfg loadable (its [core] section
    stays the only one; the rendered airflow.cfg holds [ecs_fargate] alone)."""
    return (f"Wrote {out_dir}/airflow.cfg, {out_dir}/{TEMPLATE_FILE} and {out_dir}/airflow_ecs.env.\n"
            f"Scheduler, either: set -a; . {out_dir}/airflow_ecs.env; set +a   (sets [core] executor too)\n"
            f"or: cat {out_dir}/airflow.cfg >> $AIRFLOW_HOME/airflow.cfg (once; it holds only [ecs_fargate]) and set "
            f"executor = {EXECUTOR_PATH} in that file's [core] section, "
            f"or export AIRFLOW__CORE__EXECUTOR={EXECUTOR_PATH}.")
