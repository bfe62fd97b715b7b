"""A throwaway PostgreSQL server for tests that need row locks: several Airflow schedulers on one database.

Airflow queues a task instance try under ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite has no row locks, so
two schedulers on it may both queue the same try. This starts Debian's (or any) PostgreSQL server binaries
on a free loopback port in a temporary directory, trust-authenticated, tuned for speed over durability, and
removes it all afterwards. ``make test`` installs the server package when it is missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.airflow_stack import free_port

DATABASE = "airflow"
USER = "airflow"


def server_binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's versioned directories."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    # Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<major>/bin; take the newest.
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if candidates:
        return Path(candidates[-1]).parent
    raise RuntimeError(
        "PostgreSQL's server binaries (initdb, pg_ctl) were not found on PATH or in /usr/lib/postgresql/*/bin. "
        "`make test` installs Debian's postgresql package; elsewhere install PostgreSQL 13 or newer."
    )


def _run_as(user: pwd.struct_passwd | None, argv: list[str]) -> None:
    # initdb and postgres refuse to run as root; as root, run them as the package's own "postgres" user.
    command = ["runuser", "-u", user.pw_name, "--", *argv] if user else argv
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _server_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "running as root, PostgreSQL needs an unprivileged user to run as, and there is no "
            "'postgres' user (Debian's postgresql package creates it)"
        ) from None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the SQLAlchemy URL of an empty database on a fresh server; stop and delete it afterwards."""
    binaries = server_binaries()
    user = _server_user()
    # Not under pytest's tmp_path: its parent is private to root, and the server may run as "postgres".
    base = Path(tempfile.mkdtemp(prefix="airflow-ecs-pg-"))
    data = base / "data"
    port = free_port()
    try:
        if user:
            os.chown(base, user.pw_uid, user.pw_gid)
        _run_as(
            user,
            [
                str(binaries / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                USER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-sync",
            ],
        )
        # A test database: durability off, enough connections for two schedulers, an api-server and a
        # dag-processor with their pools, the socket in our own directory (not /var/run/postgresql).
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        _run_as(
            user,
            [
                str(binaries / "pg_ctl"),
                "start",
                "--pgdata",
                str(data),
                "--wait",
                "--timeout",
                "60",
                "--log",
                str(base / "server.log"),
                "-o",
                options,
            ],
        )
        try:
            _run_as(
                user,
                [str(binaries / "createdb"), "--host", "127.0.0.1", "--port", str(port), "--username", USER, DATABASE],
            )
            yield f"postgresql+psycopg2://{USER}@127.0.0.1:{port}/{DATABASE}"
        finally:
            _run_as(user, [str(binaries / "pg_ctl"), "stop", "--pgdata", str(data), "--mode", "immediate", "--wait"])
    finally:
        shutil.rmtree(base, ignore_errors=True)
