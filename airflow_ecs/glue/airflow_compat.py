"""Every difference between the Airflow releases we support, in one place: 3.1, 3.2 and 3.3.

The rest of the package imports what differs from here, so supporting a new Airflow means reading this
file against the new ``airflow/executors/base_executor.py`` and ``airflow/executors/workloads``.
Importing this module refuses an unsupported Airflow with one line, before any import from deep inside
Airflow can fail with a traceback that names something else.

Checked and the same in 3.1.8, 3.2.2 and 3.3.2, so not shimmed: ``_process_workloads(workloads)``,
``queue_workload``, ``revoke_task(*, ti)``, ``log_task_event(event=, extra=, ti_key=)``, the
``_task_event_logs`` deque and ``job_id``, ``self.conf.get(section, key, fallback=)`` (3.1's team-aware
``ExecutorConf`` has only ``get`` and ``getboolean``: use nothing else), the executor's static
``get_cli_commands`` (read by 3.1; 3.2+ read the provider info's ``cli`` key instead and skip it),
``airflow.utils.state.TaskInstanceState`` and ``airflow.utils.session.create_session``.

Shimmed here: ``ExecuteCallback``/``TestConnection`` and their keys (3.3+; ``supports_callbacks`` and
``supports_connection_test`` follow them), ``workload_key``, ``save_external_executor_ids``, the stats front,
``config_section`` and the stdout redirect for ``--json``.

Airflow 3.4 is expected to change the executor interface: workloads of several types with a queue per
type instead of ``queued_tasks`` holding ``ExecuteTask`` only. Keep the Airflow-facing glue this thin
so that change lands here and in ``EcsFargateExecutor._process_workloads``, nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard, cast

# The range pyproject.toml states; a test keeps the two equal.
OLDEST = (3, 1)
FIRST_UNSUPPORTED = (3, 4)
SUPPORTED_RANGE = "apache-airflow>=3.1,<3.4"


def release_of(version: str) -> tuple[int, int] | None:
    """(major, minor) of a version string such as ``3.1.8``, ``3.4.0.dev0`` or ``3.2.0rc1``; None if unreadable."""
    match = re.match(r"\s*v?(\d+)(?:\.(\d+))?", version)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def is_supported(version: str) -> bool:
    """By major.minor only, so pre-releases count as their release: 3.4.0.dev0 is 3.4 (not yet supported)."""
    release = release_of(version)
    return release is not None and OLDEST <= release < FIRST_UNSUPPORTED


def unsupported_message(version: str) -> str:
    return (
        f"airflow-ecs needs {SUPPORTED_RANGE} (3.1, 3.2 or 3.3) but Airflow {version} is installed; "
        f"install a supported release, e.g. pip install '{SUPPORTED_RANGE}'"
    )


def installed_airflow_version() -> str:
    try:
        import airflow
    except ImportError as error:
        raise ImportError(f"airflow-ecs needs {SUPPORTED_RANGE}, and Airflow cannot be imported: {error}") from None
    return str(getattr(airflow, "__version__", "unknown"))


def check_airflow_version() -> str:
    version = installed_airflow_version()
    if not is_supported(version):
        raise ImportError(unsupported_message(version))
    return version


AIRFLOW_VERSION = check_airflow_version()
AIRFLOW_RELEASE = release_of(AIRFLOW_VERSION)

# --- imports that follow the gate: they are only guaranteed on a supported Airflow ---

# Same path in 3.1-3.3. 3.4: the base class is where the per-type workload queues arrive.
from airflow.executors.base_executor import BaseExecutor  # noqa: E402

# The workload the scheduler hands the executor (``ti``, ``dag_rel_path``, ``bundle_info``, ``log_path``,
# ``token``). Its task instance model is ``TaskInstanceDTO`` from 3.2 on; 3.1 calls it ``TaskInstance``
# (3.2 and 3.3 keep that name as an alias, 3.4 may drop it). Same fields for what we read and build.
from airflow.executors.workloads import BundleInfo, ExecuteTask  # noqa: E402

try:
    from airflow.executors.workloads import TaskInstanceDTO
except ImportError:  # Airflow 3.1
    from airflow.executors.workloads import TaskInstance as TaskInstanceDTO

# Deadline-alert callbacks (``ExecuteCallback``, keyed by ``CallbackKey``) and connection tests (``TestConnection``,
# keyed by ``ConnectionTestKey``) reach executors from 3.3 on: the base class has ``queued_callbacks`` and
# ``queued_connection_tests``, ``fail``/``success``/``running_state`` pick the state class from the key, and the
# container's ``execute_workload`` runs all three types (checked in 3.3.2). 3.1 has neither; the executor claims
# support only where the workload type and its key type both import (3.2 not checked here: it follows the same
# rule). 3.4: expected to keep these types and add per-type queues.
from airflow.models.taskinstancekey import TaskInstanceKey  # noqa: E402

try:
    from airflow.executors.workloads import ExecuteCallback
    from airflow.models.callback import CallbackKey
except ImportError:  # Airflow 3.1 and 3.2
    ExecuteCallback = None  # type: ignore[assignment,misc]
    CallbackKey = None  # type: ignore[assignment,misc]
try:
    from airflow.executors.workloads import TestConnection
    from airflow.models.connection_test import ConnectionTestKey
except ImportError:  # Airflow 3.1 and 3.2
    TestConnection = None  # type: ignore[assignment,misc]
    ConnectionTestKey = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    # Each key a workload is filed under, as BaseExecutor's methods take it (3.3). The tracker in core/ holds the
    # same keys typed Hashable (core imports no Airflow); ``airflow_key`` gives them their type back.
    WorkloadKey: TypeAlias = TaskInstanceKey | CallbackKey | ConnectionTestKey

CALLBACKS_SUPPORTED = ExecuteCallback is not None and CallbackKey is not None
CONNECTION_TESTS_SUPPORTED = TestConnection is not None and ConnectionTestKey is not None

__all__ = [
    "AIRFLOW_VERSION",
    "CALLBACKS_SUPPORTED",
    "CONNECTION_TESTS_SUPPORTED",
    "BaseExecutor",
    "BundleInfo",
    "CallbackKey",
    "ConnectionTestKey",
    "ExecuteCallback",
    "ExecuteTask",
    "TaskInstanceDTO",
    "TaskInstanceKey",
    "TestConnection",
    "airflow_key",
    "airflow_stats",
    "config_section",
    "connection_from_secrets",
    "is_task_key",
    "json_output_to_stdout_only",
    "workload_key",
]


def is_task_key(key: object) -> TypeGuard[TaskInstanceKey]:
    """A task instance's key (its result goes to the task instance; ARNs and event-log lines are stored)."""
    return isinstance(key, TaskInstanceKey)


def workload_key(workload: Any) -> WorkloadKey:
    """The key Airflow files a workload under: ``ti.key`` for a task (3.1 has no ``key`` on it), else ``key``."""
    ti = getattr(workload, "ti", None)
    return ti.key if ti is not None else workload.key


def airflow_key(key: Hashable) -> WorkloadKey:
    """A key the tracker hands back: one the executor gave it (``workload_key``), so Airflow's own."""
    return cast("WorkloadKey", key)


def config_section(section: str, team_name: str | None = None) -> dict[str, Any]:
    """A config section as Airflow sees it: airflow.cfg, ``AIRFLOW__<SECTION>__*`` and the provider's defaults.

    3.1 and 3.2 may not know a third-party provider's section yet in a process that is not an Airflow CLI
    command (3.2 loads provider metadata lazily and, in a plain process, not at all for getsection): then
    ``getsection`` returns None and ignores ``AIRFLOW__<SECTION>__*``, so a mistyped key set through the
    environment went unseen. Then the section's variables are read here as Airflow would (for the
    key check; the values the executor uses still come through ``conf.get``). 3.3 always answers.
    3.4: expected as 3.3.

    With ``team_name`` (multi-team, 3.3): the team's own section, ``[<team>=<section>]`` and
    ``AIRFLOW__<TEAM>___<SECTION>__*``, which is all a team's executor reads (no fallback to the global one).
    """
    import os

    from airflow.configuration import conf

    found = conf.getsection(section, team_name=team_name) if team_name else conf.getsection(section)
    if found is not None:
        return dict(found)
    prefix = f"AIRFLOW__{team_name.upper()}___{section.upper()}__" if team_name else f"AIRFLOW__{section.upper()}__"
    return {
        name[len(prefix) :].lower().removesuffix("_cmd").removesuffix("_secret"): value
        for name, value in sorted(os.environ.items())
        if name.startswith(prefix)
    }


def airflow_stats() -> Any:
    """Airflow's metrics front (anything with ``incr``, ``gauge`` and ``timing``), as each release names it.

    3.3+: the module ``airflow.sdk.observability.stats`` with module-level functions (its ``Stats`` class is a
    compatibility shim). 3.2: the same module holds only the ``Stats`` class (no functions), and
    ``airflow.stats`` warns that it is deprecated. 3.1: ``airflow.stats.Stats``. 3.4: expected to keep the 3.3 form.
    """
    try:
        from airflow.sdk.observability import stats
    except ImportError:  # Airflow 3.1 (task-sdk 1.1 has no observability package)
        from airflow.stats import Stats

        return Stats
    return stats if hasattr(stats, "incr") else stats.Stats  # 3.3+ : 3.2


def json_output_to_stdout_only() -> None:
    """Move Airflow's stdout log handlers to stderr, so ``--json`` output is alone on stdout.

    Airflow 3.3 added ``airflow.cli.utils.redirect_stdout_log_handlers_to_stderr`` (used for its own
    ``-o json``); 3.1 and 3.2 lack it, so the same few lines run here. 3.4: expected as 3.3.
    """
    try:
        from airflow.cli.utils import redirect_stdout_log_handlers_to_stderr
    except ImportError:  # Airflow 3.1 and 3.2
        import logging
        import sys

        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)
        return
    redirect_stdout_log_handlers_to_stderr()


def connection_from_secrets(conn_id: str, team_name: str | None = None) -> Any:
    """An Airflow connection through its secrets backends (environment, secrets managers, database).

    ``Connection.get_connection_from_secrets(conn_id)`` in 3.1-3.3; 3.2 added an optional ``team_name``, so a
    team's executor sees the team's connections. 3.4 may move task-side code to ``airflow.sdk.Connection``;
    the scheduler-side model is expected to stay.
    """
    from airflow.models.connection import Connection

    if team_name:
        return Connection.get_connection_from_secrets(conn_id, team_name=team_name)
    return Connection.get_connection_from_secrets(conn_id)


def save_external_executor_ids(arns: dict[Any, str]) -> None:
    """Store each task instance's ECS task ARN as its ``external_executor_id`` (keys: ``TaskInstanceKey``).

    What the scheduler does with a QUEUED event carrying the ARN, for when it will not read the event buffer
    again (the executor's ``end()``). Same model and columns in 3.1-3.3; 3.4: expected the same.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        for key, arn in arns.items():
            session.execute(
                update(TaskInstance)
                .where(
                    TaskInstance.dag_id == key.dag_id,
                    TaskInstance.task_id == key.task_id,
                    TaskInstance.run_id == key.run_id,
                    TaskInstance.map_index == key.map_index,
                    TaskInstance.try_number == key.try_number,
                )
                .values(external_executor_id=arn)
                .execution_options(synchronize_session=False)
            )
