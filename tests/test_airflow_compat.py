"""The Airflow version gate and the shims of airflow_compat, on whichever supported Airflow runs the tests."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from airflow_ecs.glue import airflow_compat

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("2.10.4", False),
        ("3.0.6", False),
        ("3.1.0", True),
        ("3.2.3", True),
        ("3.3.2", True),
        ("3.4.0", False),
        ("4.0.0", False),
        ("3.1.0rc1", True),
        ("3.4.0.dev0", False),  # a pre-release of 3.4 is 3.4, not "below 3.4"
        ("3.10.0", False),
        ("not-a-version", False),
    ],
)
def test_version_gate(version, supported):
    assert airflow_compat.is_supported(version) is supported


@pytest.mark.parametrize("version", ["2.10.4", "3.0.6", "3.4.0", "4.0.0"])
def test_refusal_is_one_line_naming_the_version_and_the_range(version):
    message = airflow_compat.unsupported_message(version)
    assert "\n" not in message
    assert f"Airflow {version} is installed" in message
    assert "apache-airflow>=3.1,<3.4" in message


def test_gate_range_is_the_one_pyproject_states():
    assert f'"{airflow_compat.SUPPORTED_RANGE}"' in (ROOT / "pyproject.toml").read_text()


def test_the_running_airflow_passes_the_gate():
    import airflow

    assert airflow.__version__ == airflow_compat.AIRFLOW_VERSION
    assert airflow_compat.is_supported(airflow.__version__)


def test_importing_the_executor_on_an_unsupported_airflow_fails_with_one_line(tmp_path):
    # A stand-in package named airflow, first on the path, plays an Airflow 2 installation.
    (tmp_path / "airflow").mkdir()
    (tmp_path / "airflow" / "__init__.py").write_text('__version__ = "2.10.4"\n')
    result = subprocess.run(
        [sys.executable, "-c", "import airflow_ecs.executor"],
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"ImportError: {airflow_compat.unsupported_message('2.10.4')}"


def test_workloads_build_and_round_trip_on_this_airflow():
    # What the tests and the executor rely on, whatever this release calls the task instance model.
    import uuid

    from airflow.executors import workloads
    from pydantic import TypeAdapter

    ti = airflow_compat.TaskInstanceDTO(
        id=uuid.uuid4(),
        dag_id="d",
        task_id="t",
        run_id="r",
        try_number=1,
        map_index=-1,
        pool_slots=1,
        queue="q",
        priority_weight=1,
        dag_version_id=uuid.uuid4(),
        executor_config={"cpu": 256},
    )
    workload = airflow_compat.ExecuteTask(
        ti=ti,
        dag_rel_path="d.py",
        token="x",
        log_path="l",
        bundle_info=airflow_compat.BundleInfo(name="dags-folder", version=None),
    )
    back = TypeAdapter(workloads.All).validate_json(workload.model_dump_json())
    assert back.ti.key == ti.key
    assert "executor_config" not in workload.model_dump_json()  # excluded from the JSON the container gets


def test_airflow_stats_has_what_metrics_calls():
    stats = airflow_compat.airflow_stats()
    for name in ("incr", "gauge", "timing"):
        assert callable(getattr(stats, name))


def test_every_module_the_process_runtimes_zygote_imports_is_in_this_airflow():
    """The local ECS's zygote imports these before it forks tasks (airflow_ecs/local/forkserver.py): a module
    this Airflow lacks would make each zygote die at its start, and every task would start cold, unseen."""
    import importlib

    from airflow_ecs.local.forkserver import PRELOAD, WORKER_MODULE

    assert PRELOAD[0] == WORKER_MODULE
    for module in PRELOAD:
        importlib.import_module(module)
