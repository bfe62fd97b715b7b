"""The scheduler's start-up checks, as one function of the configured section.

``EcsFargateExecutor.start()``, ``airflow-ecs check`` and ``airflow ecs check`` all call ``check_settings``,
so ``check`` refuses exactly what the scheduler refuses, with the same line, before its deeper AWS checks.
No I/O beyond reading the run_task template file: tested without AWS or Airflow.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from airflow_ecs.core.config import SECTION, ConfigError, EcsConfig, Profile, check_known_keys, load_config
from airflow_ecs.core.errors import UserError
from airflow_ecs.core.executor_config import (
    ExecutorConfigError,
    check_container_names,
    parse_executor_config,
    with_profile,
)
from airflow_ecs.core.run_task_request import (
    RequestError,
    RunTaskTemplate,
    TaskIdentity,
    TemplateError,
    build_request,
    load_template,
    validate,
    with_launch,
)

ENV_PREFIX = f"AIRFLOW__{SECTION.upper()}__"
# A team's variables, as Airflow 3.3 names them: AIRFLOW__<TEAM>___ECS_FARGATE__<KEY>.
TEAM_ENV = re.compile(rf"^AIRFLOW__(?P<team>[A-Z0-9_-]+?)___{SECTION.upper()}__", re.IGNORECASE)
EXECUTOR_CLASS = "EcsFargateExecutor"
SAMPLE_COMMAND = ("python", "-c", "pass")


def sample_identity() -> TaskIdentity:
    return TaskIdentity(
        "example_dag",
        "example_task",
        "manual__2026-01-01T00:00:00+00:00",
        -1,
        1,
        "01900000-0000-7000-8000-000000000000",
        "default",
    )


def build_task_request(
    template: RunTaskTemplate,
    profile: Profile | None,
    config: EcsConfig,
    identity: TaskIdentity,
    command: Sequence[str],
    executor_config: Any,
    launch: int = 0,
    definition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One task's RunTask request: what the executor sends, and what start-up renders for each profile.

    ``definition``: the task definition when it was read (the executor's start-up health check reads each),
    to refuse container overrides naming a container it lacks."""
    request = build_request(
        template=template,
        config=config,
        identity=identity,
        command=command,
        executor_config=executor_config,
        settings=with_profile(parse_executor_config(executor_config), profile),
        profile=profile.name if profile else "",
        launch=launch,
    )
    if definition is not None:
        names = [str(container.get("name")) for container in definition.get("containerDefinitions") or []]
        check_container_names(request, names, config.task_definition)
    return request


def check_settings(
    section: Mapping[str, object],
    get: Callable[[str], str | None],
    refine: Callable[[EcsConfig], EcsConfig] | None = None,
) -> tuple[EcsConfig, RunTaskTemplate]:
    """Every check the scheduler makes before its first AWS call, in its order; raises ConfigError or
    TemplateError (one line). ``section`` is the keys as configured (for the unknown-key check), ``get`` reads
    one value as Airflow would (``AIRFLOW__ECS_FARGATE__*`` over the file); ``refine`` completes the config
    before its requests are rendered (a team's execution API URL)."""
    check_known_keys(section)
    config = load_config(get)
    if refine is not None:
        config = refine(config)
    if not config.task_definition and not config.run_task_template:
        raise ConfigError("task_definition", "", "required by the shipped run_task template; e.g. airflow-worker")
    template = load_template(config.run_task_template or None)
    for profile in (None, *config.profiles):
        # Refuse a template or profile that cannot produce a valid request now, not at the first task.
        for_whom = f" for profile {profile.name!r}" if profile else ""
        view = config.for_profile(profile)
        try:
            sample = build_task_request(template, profile, view, sample_identity(), SAMPLE_COMMAND, None)
            if view.fallback_capacity_provider_strategy:
                # The request a capacity failure would send: it must be valid too, and now.
                fallback = [item.to_boto() for item in view.fallback_capacity_provider_strategy]
                validate(with_launch(sample, sample_identity(), 1, fallback), template)
        except ExecutorConfigError as error:
            raise ConfigError("profiles", profile.name if profile else "", str(error)) from None
        except RequestError as error:
            raise TemplateError(
                f"run_task_template does not render a valid RunTask request{for_whom}: {error}"
            ) from None
        except Exception as error:  # noqa: BLE001 - a wrong shape (a dict for a list...): one line, no traceback
            raise TemplateError(
                f"run_task_template renders a RunTask request of the wrong shape{for_whom} "
                f"({type(error).__name__}: {error}); e.g. overrides.containerOverrides must be "
                "a list of objects, overrides an object"
            ) from None
    return config, template


def section_name(team: str | None) -> str:
    """The airflow.cfg section a team's executor reads, ``[<team>=ecs_fargate]``; the deployment's without one."""
    return f"{team}={SECTION}" if team else SECTION


def env_prefix(team: str | None) -> str:
    return f"AIRFLOW__{team.upper()}___{SECTION.upper()}__" if team else ENV_PREFIX


def environment_section(environ: Mapping[str, str], team: str | None = None) -> dict[str, str]:
    """``AIRFLOW__ECS_FARGATE__<KEY>`` (a team's: ``AIRFLOW__<TEAM>___ECS_FARGATE__<KEY>``) variables as section
    keys (Airflow's ``_CMD``/``_SECRET`` forms included)."""
    prefix = env_prefix(team)
    return {
        name[len(prefix) :].lower().removesuffix("_cmd").removesuffix("_secret"): value
        for name, value in sorted(environ.items())
        if name.startswith(prefix)
    }


def executor_teams(executor: str | None) -> list[str]:
    """The teams whose executors in ``[core] executor`` (``<global>;<team>=<executor>,...;...``) include ours."""
    teams = []
    for entry in (executor or "").split(";"):
        team, found, names = entry.partition("=")
        # An executor is a module path, or alias:module path.
        if (
            found
            and team.strip()
            and any(name.split(":")[-1].strip().endswith(EXECUTOR_CLASS) for name in names.split(","))
        ):
            teams.append(team.strip())
    return teams


def team_names(sections: Iterable[str], environ: Mapping[str, str], executor: str | None) -> list[str]:
    """The teams whose ``[ecs_fargate]`` a check must read: those with a ``[<team>=ecs_fargate]`` section, with
    ``AIRFLOW__<TEAM>___ECS_FARGATE__*`` variables, or whose executor in ``[core] executor`` is ours. Airflow
    matches a team's variables case-blind: one team, spelled as its section or the executor list spells it."""
    found: dict[str, str] = {}
    named = [section.rpartition("=")[0].strip() for section in sections if section.rpartition("=")[2] == SECTION]
    for team in [*named, *executor_teams(executor)]:
        if team:
            found.setdefault(team.lower(), team)
    for name in sorted(environ):
        match = TEAM_ENV.match(name)
        if match:
            found.setdefault(match["team"].lower(), match["team"].lower())
    return sorted(found.values(), key=str.lower)


class TeamSettingsError(UserError):
    """A team's section refused as the scheduler refuses it (the team's executor would not start), the line
    naming the team's section instead of the deployment's."""

    def __init__(self, team: str, error: UserError):
        self.exit_status = error.exit_status
        super().__init__(f"[{section_name(team)}] {str(error).removeprefix(f'[{SECTION}] ')}")


def file_section(
    path: str, environ: Mapping[str, str] | None = None, team: str | None = None
) -> tuple[dict[str, object], Callable[[str], str | None]]:
    """An airflow.cfg's ``[ecs_fargate]`` (``team``'s: ``[<team>=ecs_fargate]``) with the environment over it,
    as Airflow layers them; bad files are one ConfigError line (no such file, not an ini file, an option given
    twice, no section)."""
    environ = os.environ if environ is None else environ
    parser = read_file(path)
    name, prefix = section_name(team), env_prefix(team)
    if not parser.has_section(name) and not (team and environment_section(environ, team)):
        raise ConfigError("--config", path, f"has no [{name}] section; render one with airflow-ecs render")
    from_file = (
        {key: value for key, value in parser.items(name, raw=True) if key not in parser.defaults()}
        if parser.has_section(name)
        else {}
    )
    from_env = {key[len(prefix) :].lower(): value for key, value in environ.items() if key.startswith(prefix)}
    section: dict[str, object] = {**from_file, **environment_section(environ, team)}

    def get(key: str) -> str | None:
        return from_env.get(key, from_file.get(key))

    return section, get


def read_file(path: str) -> configparser.ConfigParser:
    """An airflow.cfg as configparser reads it; one ConfigError line when it cannot be read."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        found = parser.read(path)
    except configparser.Error as error:
        problem = " ".join(str(error).split())
        raise ConfigError("--config", path, f"not a readable airflow.cfg: {problem}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError("--config", path, f"cannot read it ({error})") from None
    if not found:
        raise ConfigError(
            "--config",
            path,
            "no such file; give an airflow.cfg with an [ecs_fargate] section, "
            "e.g. generated/airflow.cfg from airflow-ecs render",
        )
    return parser


def file_teams(path: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The teams an airflow.cfg (the environment over it) configures for our executor (``team_names``)."""
    environ = os.environ if environ is None else environ
    parser = read_file(path)
    executor = environ.get("AIRFLOW__CORE__EXECUTOR", parser.get("core", "executor", fallback=None))
    return team_names(parser.sections(), environ, executor)


def airflow_section(team: str | None = None) -> tuple[dict[str, object], Callable[[str], str | None]]:
    """Airflow's own config: the section as the scheduler (``team``'s executor) sees it, and its values."""
    from airflow.configuration import conf

    from airflow_ecs.core.config import airflow_getter
    from airflow_ecs.glue.airflow_compat import config_section

    if team is None:
        return config_section(SECTION), airflow_getter(conf)
    from airflow.executors.base_executor import ExecutorConf

    return config_section(SECTION, team_name=team), airflow_getter(ExecutorConf(team_name=team))


def airflow_teams() -> list[str]:
    """The teams Airflow's own config runs our executor for or has a section for (multi-team: Airflow 3.3+)."""
    from airflow.configuration import conf

    from airflow_ecs.glue.airflow_compat import AIRFLOW_RELEASE

    if (AIRFLOW_RELEASE or (0, 0)) < (3, 3) or not conf.getboolean("core", "multi_team", fallback=False):
        return []
    return team_names(conf.sections(), os.environ, conf.get("core", "executor", fallback=None))


def cli_teams(path: str | None) -> list[str]:
    """The teams ``check`` reads besides the deployment's section: from ``--config FILE``, else Airflow's."""
    return file_teams(path) if path else airflow_teams()


def team_api_url(path: str | None, team: str) -> Callable[[EcsConfig], EcsConfig]:
    """As a team's executor completes its config: a section without ``execution_api_server_url`` takes the team's
    ``[core] execution_api_server_url`` (``AIRFLOW__<TEAM>___CORE__EXECUTION_API_SERVER_URL``), if it has one."""

    def refine(config: EcsConfig) -> EcsConfig:
        if config.execution_api_server_url:
            return config
        if path:
            url = os.environ.get(f"AIRFLOW__{team.upper()}___CORE__EXECUTION_API_SERVER_URL") or read_file(path).get(
                f"{team}=core", "execution_api_server_url", fallback=""
            )
        else:
            from airflow.executors.base_executor import ExecutorConf

            url = ExecutorConf(team_name=team).get("core", "execution_api_server_url", fallback="") or ""
        return dataclasses.replace(config, execution_api_server_url=url) if url else config

    return refine


def check_cli_settings(path: str | None, team: str | None = None) -> tuple[EcsConfig, RunTaskTemplate]:
    """What ``check`` and ``status`` read: ``--config FILE`` (with the environment over it), else Airflow's own;
    with ``team``, that team's section, its refusals naming it."""
    try:
        section, get = file_section(path, team=team) if path else airflow_section(team)
        return check_settings(section, get, team_api_url(path, team) if team else None)
    except UserError as error:
        if team is None:
            raise
        raise TeamSettingsError(team, error) from None


def load_cli_config(path: str | None) -> EcsConfig:
    """The config a command line tool works with: an airflow.cfg file's [ecs_fargate] (the environment over it,
    as Airflow layers them), else Airflow's own."""
    if path:
        return load_config(file_section(path)[1])
    from airflow.configuration import conf

    from airflow_ecs.core.config import airflow_getter

    return load_config(airflow_getter(conf))
