"""The scheduler's start-up checks, as one function of the configured section.

``EcsFargateExecutor.start()``, ``airflow-ecs check`` and ``airflow ecs check`` all call ``check_settings``,
so ``check`` refuses exactly what the scheduler refuses, with the same line, before its deeper AWS checks.
No I/O beyond reading the run_task template file: tested without AWS or Airflow.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_ecs.core.config import SECTION, ConfigError, EcsConfig, Profile, check_known_keys, load_config
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


def environment_section(environ: Mapping[str, str]) -> dict[str, str]:
    """``AIRFLOW__ECS_FARGATE__<KEY>`` variables as section keys (Airflow's ``_CMD``/``_SECRET`` forms included)."""
    return {
        name[len(ENV_PREFIX) :].lower().removesuffix("_cmd").removesuffix("_secret"): value
        for name, value in sorted(environ.items())
        if name.startswith(ENV_PREFIX)
    }


def file_section(
    path: str, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, object], Callable[[str], str | None]]:
    """An airflow.cfg's ``[ecs_fargate]`` with the environment over it, as Airflow layers them; bad files are
    one ConfigError line (no such file, not an ini file, an option given twice, no section)."""
    environ = os.environ if environ is None else environ
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
    if not parser.has_section(SECTION):
        raise ConfigError("--config", path, f"has no [{SECTION}] section; render one with airflow-ecs render")
    from_file = {key: value for key, value in parser.items(SECTION, raw=True) if key not in parser.defaults()}
    from_env = {
        name[len(ENV_PREFIX) :].lower(): value for name, value in environ.items() if name.startswith(ENV_PREFIX)
    }
    section: dict[str, object] = {**from_file, **environment_section(environ)}

    def get(key: str) -> str | None:
        return from_env.get(key, from_file.get(key))

    return section, get


def airflow_section() -> tuple[dict[str, object], Callable[[str], str | None]]:
    """Airflow's own config: the section as the scheduler sees it, and its values."""
    from airflow.configuration import conf

    from airflow_ecs.core.config import airflow_getter
    from airflow_ecs.glue.airflow_compat import config_section

    return config_section(SECTION), airflow_getter(conf)


def check_cli_settings(path: str | None) -> tuple[EcsConfig, RunTaskTemplate]:
    """What ``check`` and ``status`` read: ``--config FILE`` (with the environment over it), else Airflow's own."""
    section, get = file_section(path) if path else airflow_section()
    return check_settings(section, get)


def load_cli_config(path: str | None) -> EcsConfig:
    """The config a command line tool works with: an airflow.cfg file's [ecs_fargate] (the environment over it,
    as Airflow layers them), else Airflow's own."""
    if path:
        return load_config(file_section(path)[1])
    from airflow.configuration import conf

    from airflow_ecs.core.config import airflow_getter

    return load_config(airflow_getter(conf))
