"""The ``airflow-ecs`` console script as pip installed it (pyproject's [project.scripts]), run as a user runs it:
the executable next to this Python, in its own process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

# The commands a user (and the docs, and make's targets) call by name.
COMMANDS = ("render", "local", "check", "status", "orphans", "plan", "apply", "destroy", "output-value")


@pytest.fixture(scope="module")
def script() -> Path:
    path = Path(sys.executable).parent / "airflow-ecs"
    assert path.is_file(), f"no console script at {path}: install the package (make install: pip install -e .)"
    return path


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}  # argparse wraps the help to the terminal's width
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120, env=env)


def test_version_prints_the_installed_version_and_exits_0(script):
    done = run(script, "--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"airflow-ecs {metadata.version('airflow-ecs')}\n", "")


def test_help_lists_every_command(script):
    done = run(script, "--help")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("usage: airflow-ecs [-h] [--version] COMMAND ...\n")
    # Each command's line under COMMAND: its name indented by four, its help beside or below it.
    assert tuple(re.findall(r"^ {4}(\S+)", done.stdout, re.MULTILINE)) == COMMANDS, done.stdout
