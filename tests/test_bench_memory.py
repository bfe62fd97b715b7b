"""Who the benchmark's memory per tracked task counts (benchmarks/run.py): the executor's allocations, never the
driver's own, including what the driver allocates through a library (boto3's default session: 780 bytes a task
at 10,000 were the driver's until round 4 of docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]
SITE = "/venv/lib/python3.11/site-packages"


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stat(size: int, *frames: str) -> SimpleNamespace:
    """A tracemalloc difference of ``size`` bytes allocated under ``frames``, outermost first."""
    return SimpleNamespace(
        traceback=tracemalloc.Traceback(tuple((name, 1) for name in reversed(frames))), size_diff=size, count_diff=1
    )


DRIVER = f"{REPO}/benchmarks/run.py"
TRACKER = f"{REPO}/airflow_ecs/core/tracking.py"
ECS_API = f"{REPO}/airflow_ecs/aws/ecs_api.py"
AIRFLOW = f"{SITE}/airflow/executors/base_executor.py"
BOTO3 = f"{SITE}/boto3/__init__.py"
LOADERS = f"{SITE}/botocore/loaders.py"
JSON = "/usr/lib/python3.11/json/decoder.py"


def test_the_driver_s_allocations_through_a_library_are_the_driver_s(run):
    groups = run.traced_by_package(
        [
            stat(7_400_000, DRIVER, BOTO3, LOADERS, JSON),  # the driver's first boto3 client: boto3's default session
            stat(100, DRIVER),  # its own records
            stat(2_000, DRIVER, ECS_API, JSON),  # the executor's DescribeTasks answer, called from the driver
            stat(300, DRIVER, AIRFLOW, JSON),  # Airflow's base executor, called from the driver
            stat(50, DRIVER, TRACKER),
        ]
    )
    assert groups == {"benchmark driver": 7_400_100, "other (stdlib, pydantic, ...)": 2_300, "airflow_ecs": 50}


def test_with_one_frame_a_library_s_allocation_counts_as_the_executor_s(run):
    """tracemalloc's default keeps the innermost frame only: who called the library cannot be told, and it
    counts against the executor (an overestimate of ours, never an underestimate)."""
    groups = run.traced_by_package([stat(7_400_000, JSON), stat(100, DRIVER), stat(40, LOADERS), stat(9, AIRFLOW)])
    assert groups == {
        "airflow": 9,
        "benchmark driver": 100,
        "botocore": 40,
        "other (stdlib, pydantic, ...)": 7_400_000,
    }


def test_the_largest_allocations_per_task_name_the_innermost_frame_of_ours(run):
    where = run.traced_by_our_frame(
        [stat(7_000, DRIVER, BOTO3, LOADERS, JSON), stat(3_000, DRIVER, ECS_API, JSON), stat(500, JSON)], tracked=10
    )
    assert where == {
        "benchmarks/run.py:1 <- decoder.py:1": {"bytes": 700, "blocks": 0.1},
        "aws/ecs_api.py:1 <- decoder.py:1": {"bytes": 300, "blocks": 0.1},
        "(none of ours) <- decoder.py:1": {"bytes": 50, "blocks": 0.1},
    }
