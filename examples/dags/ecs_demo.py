"""The DAG `make demo` runs: each kind of task the ECS executor must get right, one ECS task per try."""

from __future__ import annotations

import datetime

from airflow.sdk import dag, get_current_context, task


@dag(schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False, tags=["airflow-ecs-demo"])
def ecs_demo():
    @task
    def hello():
        print("hello from an ECS task")

    @task
    def fan_out(number: int) -> int:
        return number * number

    @task(executor_config={"cpu": 512, "memory": 1024})
    def sized():
        print("running with cpu=512 memory=1024")

    @task
    def fails():
        raise RuntimeError("this task fails on purpose")

    @task(retries=1, retry_delay=datetime.timedelta(seconds=1))
    def flaky():
        try_number = get_current_context()["ti"].try_number
        if try_number == 1:
            raise RuntimeError("fails on the first try, succeeds on the retry")
        print(f"succeeded on try {try_number}")

    hello()
    fan_out.expand(number=list(range(20)))
    sized()
    fails()
    flaky()


ecs_demo()

# What the demo expects of each task (the final state of its last try), read by devtools.demo.
EXPECTED_STATES = {"hello": "success", "fan_out": "success", "sized": "success", "fails": "failed", "flaky": "success"}
