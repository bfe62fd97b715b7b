"""``airflow-ecs status`` and ``orphans`` when ECS cannot list the cluster's tasks: one line each, exit 1."""

from __future__ import annotations

import pytest

from airflow_ecs.cli import main


@pytest.mark.parametrize("command", ["status", "orphans"])
def test_a_cluster_whose_tasks_cannot_be_listed_is_one_line_and_exit_1(ecs_env, capsys, command):
    ecs_env.configure(cluster="no-such-cluster")
    capsys.readouterr()
    assert main([command, "--yes"] if command == "orphans" else [command]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"airflow-ecs {command}: cannot list the tasks of cluster no-such-cluster: "
        "ClusterNotFoundException: Cluster not found.\n"
    )
