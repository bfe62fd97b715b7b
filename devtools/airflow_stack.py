"""A real Airflow 3 (api-server, scheduler, dag-processor, triggerer) on this machine, for the demo and the e2e tests.

``airflow standalone`` would swap our executor for LocalExecutor (it is not ``is_local``), so each
component runs as its own process, in its own AIRFLOW_HOME, with SQLite there unless ``database_url`` names
another database (several schedulers need PostgreSQL's row locks). Task state is read straight from the
database: no Airflow import in the caller, which may already have Airflow loaded with other config.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class TaskRow:
    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    state: str | None
    try_number: int
    external_executor_id: str | None
    queued_dttm: str | None
    start_date: str | None
    end_date: str | None

    @property
    def name(self) -> str:
        return f"{self.task_id}[{self.map_index}]" if self.map_index >= 0 else self.task_id


@dataclass
class AirflowStack:
    home: Path
    dags_folder: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # A SQLAlchemy URL; None is SQLite in ``home``. Only postgresql+psycopg2 is read back besides SQLite.
    database_url: str | None = None
    # Multi-team ([core] multi_team): create the teams the DAG bundle config names (`airflow teams sync`, one
    # command for all) after the database is migrated, before anything starts: the scheduler refuses a team's
    # executor, and the dag-processor a team's bundle, for a team not in the database.
    sync_teams: bool = False
    api_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _api_token: str | None = field(default=None, repr=False)

    @property
    def execution_api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/execution/"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTOR": "airflow_ecs.executor.EcsFargateExecutor",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": self.execution_api_url,
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                # A restarted scheduler adopts a dead one's tasks within seconds instead of minutes.
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
                "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.ui_url,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                # Connection tests queued through the API run where the tasks run: on the executor.
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.database_url:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.database_url
        env.update(self.extra_env)
        return env

    def airflow(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.airflow("db", "migrate")
        if self.sync_teams:
            self.airflow("teams", "sync")
        # The api-server writes the JWT secret into airflow.cfg; the others must read the same one.
        self.start_component("api-server")
        self.wait_for_api()
        self.start_component("dag-processor")
        self.start_component("scheduler")
        # Deferred tasks wait in the triggerer and are queued again to the executor when their trigger fires.
        self.start_component("triggerer")

    def start_component(self, name: str, command: str | None = None, env: Mapping[str, str] | None = None) -> None:
        """Start ``airflow <command>`` (default: ``name``) as the process ``name``, e.g. a second scheduler;
        ``env`` adds to its environment (a second scheduler's own events queue)."""
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - the process owns it until it exits
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", command or name],
            env={**self.env(), **dict(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_component(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait(timeout=60)

    def wait_for_api(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(f"{self.ui_url}api/v2/monitor/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"the api-server did not answer on {self.ui_url} within {timeout:g}s")

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.home / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {name} exited with {process.returncode}:\n{tail}")

    def stop(self) -> None:
        for name in list(self.processes):
            process = self.processes[name]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name in list(self.processes):
            process = self.processes.pop(name)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    # --- reading and driving DAG runs ---

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of ``sql`` with ``?`` placeholders, from SQLite or PostgreSQL (timestamps as ISO text in both)."""
        if self.database_url is None:
            db = self.home / "airflow.db"
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as connection:
                return connection.execute(sql, params).fetchall()
        import psycopg2  # only where a PostgreSQL-backed stack is used

        dsn = self.database_url.replace("postgresql+psycopg2://", "postgresql://", 1)
        connection = psycopg2.connect(dsn, connect_timeout=10)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), params)
                rows = cursor.fetchall()
        finally:
            connection.close()
        return [
            tuple(value.isoformat(sep=" ") if isinstance(value, datetime) else value for value in row) for row in rows
        ]

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.query("SELECT 1 FROM serialized_dag WHERE dag_id = ?", (dag_id,)):
                return
            time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} was not parsed within {timeout:g}s; see {self.home}/dag-processor.log")

    def trigger(self, dag_id: str, run_id: str) -> None:
        # Through the REST API: the CLI costs seconds of CPU per run (it loads all of Airflow).
        self.api("POST", f"dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": None})

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))
        return rows[0][0] if rows else None

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                return state
            time.sleep(1)
        raise TimeoutError(f"DAG run {dag_id}/{run_id} did not finish within {timeout:g}s")

    def task_rows(self, dag_id: str, run_id: str) -> list[TaskRow]:
        rows = self.query(
            "SELECT dag_id, task_id, run_id, map_index, state, try_number, external_executor_id, queued_dttm, "
            "start_date, end_date FROM task_instance WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
            (dag_id, run_id),
        )
        return [TaskRow(*row) for row in rows]

    def event_log(self, dag_id: str, run_id: str) -> list[tuple[str, str, str]]:
        """(task_id, event, extra) rows of the task instances' event log."""
        return [
            tuple(r)
            for r in self.query(
                "SELECT task_id, event, COALESCE(extra, '') FROM log WHERE dag_id = ? AND run_id = ? ORDER BY id",
                (dag_id, run_id),
            )
        ]

    def api(self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None) -> Any:
        """The api-server's REST API (``path`` under /api/v2/) as an admin, its JSON answer decoded."""
        if not self._api_token:
            with urllib.request.urlopen(f"{self.ui_url}auth/token", timeout=30) as response:
                self._api_token = json.load(response)["access_token"]
        request = urllib.request.Request(
            f"{self.ui_url}api/v2/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self._api_token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def logs_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.home.rglob("*.log")))


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None

    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace(" ", "T"))

    return (parse(end) - parse(start)).total_seconds()


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
