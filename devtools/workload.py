"""An Airflow ExecuteTask workload as the scheduler hands one to the executor: for the tests and the benchmarks."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

from airflow_ecs.glue.airflow_compat import BundleInfo, ExecuteTask, TaskInstanceDTO


def make_workload(
    task_id: str = "hello", executor_config: Any = None, try_number: int = 1, queue: str = "default"
) -> ExecuteTask:
    ti = TaskInstanceDTO(
        id=uuid.uuid4(),
        dag_id="demo",
        task_id=task_id,
        run_id="manual__1",
        try_number=try_number,
        map_index=-1,
        pool_slots=1,
        queue=queue,
        priority_weight=1,
        dag_version_id=uuid.uuid4(),
        executor_config=executor_config,
    )
    return ExecuteTask(
        ti=ti,
        dag_rel_path=PurePosixPath("demo.py"),
        token="workload-token",
        bundle_info=BundleInfo(name="dags-folder", version=None),
        log_path="demo.log",
    )
