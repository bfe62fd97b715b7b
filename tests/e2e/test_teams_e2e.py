"""Multi-team Airflow (AIP-67) end to end: one real scheduler, a global executor and one EcsFargateExecutor per
team, each team's DAGs in its own bundle. Each team's task runs on the team's task definition, tagged with the
team, with the team's environment, writing to the team's log group: its executor read its own section."""

from __future__ import annotations

import functools
import json
import time

import pytest

from airflow_ecs.glue.airflow_compat import AIRFLOW_RELEASE
from devtools.local_deployment import local_deployment

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(AIRFLOW_RELEASE < (3, 3), reason="multi-team executors are Airflow 3.3's"),
]

TEAMS = ("team_a", "team_b")
DAG = """
import datetime
import os

from airflow.sdk import dag, task


@dag(dag_id="{team}_echo", schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False)
def echo_dag():
    @task
    def echo():
        print("team mark:", os.environ.get("TEAM_MARK", "none"))

    echo()


echo_dag()
"""


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"{what} within {timeout:g}s")


def test_two_teams_on_one_scheduler_each_run_with_their_teams_settings(tmp_path):
    bundles = []
    for team in TEAMS:
        folder = tmp_path / f"dags_{team}"
        folder.mkdir()
        (folder / f"{team}_echo.py").write_text(DAG.format(team=team))
        bundles.append(
            {
                "name": f"{team}_dags",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(folder), "refresh_interval": 0},
                "team_name": team,
            }
        )
    bundle_list = json.dumps(bundles)
    (tmp_path / "global_dags").mkdir()
    with local_deployment(
        tmp_path,
        tmp_path / "global_dags",
        # The task runner finds its DAG through the same bundle list the dag-processor parsed it from.
        teams={
            team: {"TEAM_MARK": f"mark-of-{team}", "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": bundle_list}
            for team in TEAMS
        },
        env={"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": bundle_list},
    ) as deployed:
        stack, local = deployed.stack, deployed.local
        assert deployed.env["AIRFLOW__CORE__MULTI_TEAM"] == "True"  # rendered, as `airflow-ecs render` writes it
        for team in TEAMS:
            stack.wait_for_dag(f"{team}_echo")
            stack.trigger(f"{team}_echo", "run")
        states = {team: stack.wait_for_run(f"{team}_echo", "run", timeout=180) for team in TEAMS}
        ecs, logs = local.client("ecs"), local.client("logs")

        def log_text(team: str) -> str:
            group = local.outputs["teams"]["value"][team]["log_group_name"]
            return " ".join(
                event["message"]
                for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]
                for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
            )

        assert states == {"team_a": "success", "team_b": "success"}, log_text("team_a")[-3000:]
        # The ECS task of each try, by the ARN Airflow stored for it.
        arns = [row.external_executor_id for team in TEAMS for row in stack.task_rows(f"{team}_echo", "run")]
        tasks = ecs.describe_tasks(cluster=local.outputs["cluster_name"]["value"], tasks=arns, include=["TAGS"])[
            "tasks"
        ]
        by_team = {}
        for ecs_task in tasks:
            tags = {tag["key"]: tag["value"] for tag in ecs_task.get("tags", [])}
            by_team.setdefault(tags.get("airflow:team"), []).append(ecs_task)
        assert sorted(by_team) == ["team_a", "team_b"]  # each launched by its team's executor
        for team in TEAMS:
            [ecs_task] = by_team[team]
            family = ecs_task["taskDefinitionArn"].split("/")[-1].split(":")[0]
            assert family == f"airflow-ecs-{team.replace('_', '-')}-worker"
            # The task's output, in the team's own log group: the team's environment reached its container.
            assert f"team mark: mark-of-{team}" in wait_for(functools.partial(log_text, team), 10, f"no log of {team}")
        # Each team's events reached its own queue only, and its executor deleted them there: nothing is left in
        # any queue (an event of a task its executor does not own would be handed back, and stay).
        sqs = local.client("sqs")
        queues = [
            local.outputs["events_queue_url"]["value"],
            *(entry["events_queue_url"] for entry in local.outputs["teams"]["value"].values()),
        ]
        drained = {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}

        def queues_left() -> dict:
            return {
                url.rsplit("/", 1)[-1]: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(drained))[
                    "Attributes"
                ]
                for url in queues
            }

        # The last events may still be on their way (received, not yet deleted) when the run ends.
        deadline = time.monotonic() + 30
        left = queues_left()
        while any(counts != drained for counts in left.values()) and time.monotonic() < deadline:
            time.sleep(1)
            left = queues_left()
        assert all(counts == drained for counts in left.values()), left
        # Each team's executor ran in the scheduler, by its team's name.
        scheduler_log = (stack.home / "scheduler.log").read_text(errors="replace")
        assert "team_a" in scheduler_log and "team_b" in scheduler_log
