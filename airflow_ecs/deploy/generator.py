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
from airflow_ecs.deploy.terraform_outputs import (
    DeploymentOutputs,
    OutputsError,
    ProfileOutputs,
    TeamOutputs,
    parse_outputs,
)

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
    return json.dumps(
        {profile.name: profile_settings(profile) for profile in profiles}, sort_keys=True, separators=(",", ":")
    )


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
        if outputs.events_queue_urls:
            # Terraform made one queue per scheduler: this one is the first scheduler's alone.
            values.append(("events_queue_exclusive", "True"))
    if outputs.profiles:
        values.append(("profiles", profiles_value(outputs.profiles)))
    return values


def team_section_values(outputs: DeploymentOutputs, team: TeamOutputs, template_path: str) -> list[tuple[str, str]]:
    """A team's whole section: a team's executor reads only ``[<team>=ecs_fargate]`` (no fallback to the global
    one), so every key is written again, with the team's task definition and events queue. No profiles: their
    task definitions run as the deployment's task role, which a team's tasks must not get."""
    values = []
    for key, value in section_values(outputs, template_path):
        if key == "task_definition":
            value = team.task_definition_family
        elif key == "container_name":
            value = team.container_name
        elif key in ("events_queue_url", "events_queue_exclusive", "profiles"):
            continue
        values.append((key, value))
    if team.events_queue_url:
        values.append(("events_queue_url", team.events_queue_url))
        if team.events_queue_urls:
            values.append(("events_queue_exclusive", "True"))
    return values


def scheduler_env_name(number: int | str) -> str:
    """The env file of scheduler ``number`` (2 and up; the first's queues are in airflow_ecs.env)."""
    return f"airflow_ecs.scheduler-{number}.env"


def scheduler_env_files(outputs: DeploymentOutputs) -> dict[str, str]:
    """Schedulers 2 to N: each an env file giving it its own events queue (and each team's), loaded after
    airflow_ecs.env, whose queues are the first scheduler's. None with one queue."""
    urls = outputs.events_queue_urls
    for team in outputs.teams:
        if team.events_queue_url and len(team.events_queue_urls) != len(urls):
            raise OutputsError(
                f"terraform outputs: teams[{team.name!r}].events_queue_urls has {len(team.events_queue_urls)} "
                f"queues and events_queue_urls {len(urls)}; every scheduler runs every team's executor, so each "
                "needs one of each"
            )
    files = {}
    for index in range(1, len(urls)):
        name = scheduler_env_name(index + 1)
        how = f"load it after airflow_ecs.env: set -a; . airflow_ecs.env; . {name}; set +a"
        lines = [
            f"# {MARKER}: scheduler {index + 1} of {len(urls)}, its own events queues; {how}",
            f"AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL={shell_value(urls[index])}",
        ]
        lines += [
            f"AIRFLOW__{team.name.upper()}___ECS_FARGATE__EVENTS_QUEUE_URL={shell_value(team.events_queue_urls[index])}"
            for team in outputs.teams
            if team.events_queue_urls
        ]
        files[name] = "\n".join(lines) + "\n"
    return files


def executor_value(teams: tuple[TeamOutputs, ...]) -> str:
    """``[core] executor``: ours for the deployment (Airflow 3.3 wants a global executor before any team's) and
    one per team, ``<global>;<team>=<executor>;...``."""
    return ";".join([EXECUTOR_PATH, *(f"{team.name}={EXECUTOR_PATH}" for team in teams)])


def config_sections(outputs: DeploymentOutputs, template_path: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(airflow.cfg section name, environment variable prefix, values) of the deployment and of each team, as
    Airflow 3.3 names a team's: ``[<team>=ecs_fargate]``, ``AIRFLOW__<TEAM>___ECS_FARGATE__<KEY>``."""
    sections = [("ecs_fargate", "AIRFLOW__ECS_FARGATE__", section_values(outputs, template_path))]
    for team in outputs.teams:
        sections.append(
            (
                f"{team.name}=ecs_fargate",
                f"AIRFLOW__{team.name.upper()}___ECS_FARGATE__",
                team_section_values(outputs, team, template_path),
            )
        )
    return sections


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
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(default_template_path().parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["shell_value"] = shell_value
    sections = config_sections(outputs, template_path)
    for _, _, values in sections:
        refuse_what_the_executor_would(values)
    context = {"sections": sections, "executor": executor_value(outputs.teams), "multi_team": bool(outputs.teams)}
    return {
        **scheduler_env_files(outputs),
        "airflow.cfg": environment.get_template("airflow.cfg.j2").render(**context),
        "airflow_ecs.env": environment.get_template("airflow_ecs.env.j2").render(**context),
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
            raise RenderError(
                f"{target} is the terraform outputs file render reads; give --out another "
                "directory (e.g. generated) or move the outputs file"
            )
        if target.is_symlink():
            raise RenderError(
                f"{target} is a symlink; render does not write through links: remove it or give --out another directory"
            )
        if target.exists() and not (target.is_file() and written_by_render(target)):
            raise RenderError(
                f"{target} exists and was not written by airflow-ecs render; move it away or give "
                "--out another directory (e.g. generated)"
            )


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
            descriptor, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            staged.append((name, Path(path)))
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(path, mode)
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
    # A scheduler env file of a larger deployment names a queue Terraform has since removed: render's own go.
    for stale in sorted(out_dir.glob(scheduler_env_name("*"))):
        if stale.name not in files and not stale.is_symlink() and written_by_render(stale):
            stale.unlink()
    return [out_dir / name for name in files]


def next_steps(out_dir: Path, teams: tuple[TeamOutputs, ...] = (), schedulers: int = 1) -> str:
    """What to do with the files, exactly: both ways leave the user's airflow.cfg loadable (its [core] section
    stays the only one; the rendered airflow.cfg holds [ecs_fargate] and the teams' sections alone)."""
    executor = executor_value(teams)
    core = f"executor = {executor}" + (" and multi_team = True" if teams else "")
    holds = "[ecs_fargate]" + (" and " + ", ".join(f"[{team.name}=ecs_fargate]" for team in teams) if teams else "")
    exports = f"export AIRFLOW__CORE__EXECUTOR={shell_value(executor)}" + (
        " AIRFLOW__CORE__MULTI_TEAM=True" if teams else ""
    )
    text = (
        f"Wrote {out_dir}/airflow.cfg, {out_dir}/{TEMPLATE_FILE} and {out_dir}/airflow_ecs.env.\n"
        f"Scheduler, either: set -a; . {out_dir}/airflow_ecs.env; set +a   (sets [core] executor too)\n"
        f"or: cat {out_dir}/airflow.cfg >> $AIRFLOW_HOME/airflow.cfg (once; it holds only {holds}) and set "
        f"{core} in that file's [core] section, or {exports}."
    )
    if schedulers > 1:
        text += (
            f"\nSchedulers: {schedulers}, each with its own events queue. airflow_ecs.env and airflow.cfg hold the "
            f"first's; scheduler N also loads {out_dir}/{scheduler_env_name('N')} after them "
            f"(N = 2 to {schedulers}). Run no more schedulers than queues (Terraform's events_queue_count)."
        )
    if teams:
        text += (
            "\nTeams: each must exist in Airflow (airflow teams create <name>) and own its DAG bundle "
            '([dag_processor] dag_bundle_config_list, "team_name"); attach each team\'s '
            "scheduler_policy_arn to the role its executor runs as."
        )
    return text
