"""How the local ECS applies terraform/ (airflow_ecs.local.terraform_apply): the decisions, without Terraform.
The apply itself runs in tests/e2e/test_airflow_e2e.py."""

from __future__ import annotations

from pathlib import Path

from airflow_ecs.deploy.terraform_providers import ProviderSource
from airflow_ecs.local.terraform_apply import applied_count, local_variables, why_not


def test_the_local_tfvars_are_the_module_defaults_but_the_image_and_where_airflow_lives():
    variables = local_variables(
        region="us-east-1", execution_api_server_url=None, environment={"AIRFLOW_HOME": "/tmp/home"}
    )
    assert variables == {
        "region": "us-east-1",
        "name": "airflow-ecs-local",
        "execution_api_server_url": "http://127.0.0.1:8080/execution/",
        "environment": {"AIRFLOW_HOME": "/tmp/home"},
        "image": "local/airflow-worker:latest",
        "create_ecr_repository": False,
        "tags": {"airflow-ecs:deployment": "local"},
    }


def test_a_local_deployment_for_two_schedulers_asks_for_two_events_queues():
    variables = local_variables(region="us-east-1", execution_api_server_url=None, environment={}, schedulers=2)
    assert variables["events_queue_count"] == 2


def test_every_local_tfvar_is_a_root_module_variable():
    """An undeclared one would only be a warning at plan: a typo must not pass silently."""
    import re

    declared = set(
        re.findall(
            r'^variable "([^"]+)"', (Path(__file__).parent.parent / "terraform" / "variables.tf").read_text(), re.M
        )
    )
    variables = local_variables(
        region="us-east-1", execution_api_server_url="u", environment={}, teams={"a": {}}, schedulers=3
    )
    assert set(variables) <= declared


def test_a_local_team_is_terraforms_team_with_its_environment_and_the_roots_other_fields():
    variables = local_variables(
        region="us-east-1", execution_api_server_url=None, environment={}, teams={"team_a": {"TEAM_MARK": "a"}}
    )
    assert variables["teams"] == {"team_a": {"environment": {"TEAM_MARK": "a"}}}
    assert "teams" not in local_variables(region="us-east-1", execution_api_server_url=None, environment={})


def test_the_resources_an_apply_created_are_read_from_its_summary():
    assert applied_count("...\nApply complete! Resources: 38 added, 0 changed, 0 destroyed.\n") == 38
    assert applied_count("no summary") == 0


def test_why_the_modules_cannot_be_applied_is_one_line(tmp_path, monkeypatch):
    none = ProviderSource("none", "no mirror and no registry")
    mirror = ProviderSource("mirror", "/opt/tf-plugins", "cli config")
    (tmp_path / "main.tf").write_text("")
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert why_not(mirror, tmp_path) == "no terraform on PATH"
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/terraform")
    assert why_not(mirror, tmp_path) is None
    assert why_not(none, tmp_path) == none.describe() and "\n" not in none.describe()
    assert why_not(mirror, tmp_path / "wheel") == (
        f"no Terraform modules at {tmp_path / 'wheel'} (they come with a checkout of the repository)"
    )
