"""How the local ECS applies terraform/ (airflow_ecs.local.terraform_apply): the decisions, without Terraform,
and how each Terraform run's exit is judged, with a stand-in `terraform`. The apply itself runs in
tests/e2e/test_airflow_e2e.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_ecs.deploy.terraform_providers import ProviderSource
from airflow_ecs.local.terraform_apply import (
    TerraformApplyError,
    TerraformWorkspace,
    applied_count,
    local_variables,
    why_not,
)


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


# --- TerraformWorkspace's Terraform runs, against a stand-in `terraform` on PATH (what it printed and how it
# exited are the test's; the real one runs in tests/e2e/test_airflow_e2e.py) ---

FAKE_TERRAFORM = """#!/bin/sh
printf '%s\\n' "$PWD" "$@" > "$FAKE_TF_CALLS"
printf '%s' "$FAKE_TF_STDOUT"
printf '%s' "$FAKE_TF_STDERR" >&2
[ -n "$FAKE_TF_SLEEP" ] && exec sleep "$FAKE_TF_SLEEP"
exit "$FAKE_TF_EXIT"
"""


@pytest.fixture
def fake_terraform(tmp_path, monkeypatch):
    """A `terraform` that prints FAKE_TF_STDOUT / FAKE_TF_STDERR and exits FAKE_TF_EXIT; calls() is its working
    directory and arguments. Returns a function that sets what the next run prints and how it exits."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "terraform").write_text(FAKE_TERRAFORM)
    (bin_dir / "terraform").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TF_CALLS", str(tmp_path / "calls"))

    def answer(exit_code: int = 0, stdout: str = "", stderr: str = "", sleep: str = "") -> dict[str, str]:
        values = {"FAKE_TF_EXIT": str(exit_code), "FAKE_TF_STDOUT": stdout, "FAKE_TF_STDERR": stderr}
        values["FAKE_TF_SLEEP"] = sleep
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        return dict(os.environ)

    answer.calls = lambda: (tmp_path / "calls").read_text().splitlines()  # type: ignore[attr-defined]
    return answer


@pytest.fixture
def workspace(tmp_path):
    work = TerraformWorkspace(tmp_path / "work", source=ProviderSource("none", "no provider: not needed here"))
    work.root.mkdir(parents=True)
    return work


def test_a_step_that_exits_0_gives_terraforms_stdout(fake_terraform, workspace):
    env = fake_terraform(0, stdout="Apply complete! Resources: 3 added, 0 changed, 0 destroyed.\n")
    assert workspace.run("apply", "apply", "-no-color", "local.tfplan", env=env) == (
        "Apply complete! Resources: 3 added, 0 changed, 0 destroyed.\n"
    )
    assert fake_terraform.calls() == [str(workspace.root), "apply", "-no-color", "local.tfplan"]


def test_a_step_that_fails_is_one_line_with_its_exit_and_terraforms_first_error(fake_terraform, workspace):
    env = fake_terraform(1, stderr="\nError: Invalid value\n\n  on main.tf line 3:\n\nThe value is wrong.\n")
    with pytest.raises(TerraformApplyError) as raised:
        workspace.run("plan", "plan", env=env)
    assert str(raised.value) == "terraform plan failed (exit 1): Invalid value: The value is wrong. (main.tf line 3)"


def test_a_step_that_warns_fails_unless_its_warnings_are_expected(fake_terraform, workspace):
    env = fake_terraform(0, stdout="ok\n", stderr="\nWarning: Value for undeclared variable\n\nA typo?\n")
    with pytest.raises(TerraformApplyError) as raised:
        workspace.run("plan", "plan", env=env)
    assert str(raised.value) == "terraform plan warned: Value for undeclared variable: A typo?"
    assert workspace.run("init", "init", env=env, warn=False) == "ok\n"


def test_a_step_that_does_not_answer_in_time_is_one_line(fake_terraform, workspace):
    env = fake_terraform(0, sleep="30")
    with pytest.raises(TerraformApplyError) as raised:
        workspace.run("init", "init", env=env, timeout=1)
    assert str(raised.value) == "terraform init: no answer within 1s"


PLAN_WITH_CHANGES = """\
Terraform will perform the following actions:

  # aws_sqs_queue.events will be updated in-place
  ~ resource "aws_sqs_queue" "events" {
      ~ policy = jsonencode(
        }

Plan: 0 to add, 1 to change, 0 to destroy.
"""


def test_changes_is_empty_when_the_plan_holds_none(fake_terraform, workspace):
    fake_terraform(0, stdout="No changes. Your infrastructure matches the configuration.\n")
    assert workspace.changes("http://127.0.0.1:5000", "us-east-1") == ""
    assert fake_terraform.calls() == [
        str(workspace.root),
        "plan",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
        f"-var-file={workspace.directory / 'local.tfvars.json'}",
    ]


def test_changes_are_the_plans_resource_lines_when_it_exits_2(fake_terraform, workspace):
    fake_terraform(2, stdout=PLAN_WITH_CHANGES, stderr="\nWarning: not a reason to fail here\n")
    assert workspace.changes("http://127.0.0.1:5000", "us-east-1") == (
        '  # aws_sqs_queue.events will be updated in-place\n  ~ resource "aws_sqs_queue" "events" {\n'
        "      ~ policy = jsonencode("
    )


def test_changes_of_a_plan_that_fails_is_one_line(fake_terraform, workspace):
    fake_terraform(1, stderr="Error: No valid credential sources found\n")
    with pytest.raises(TerraformApplyError) as raised:
        workspace.changes("http://127.0.0.1:5000", "us-east-1")
    assert str(raised.value) == "terraform plan failed (exit 1): No valid credential sources found"


def test_changes_of_a_plan_that_does_not_answer_in_time_is_one_line(fake_terraform, workspace, monkeypatch):
    fake_terraform(0, sleep="30")
    real = TerraformWorkspace.terraform
    # changes gives the plan 600 s; the same one line, sooner.
    monkeypatch.setattr(TerraformWorkspace, "terraform", lambda self, *a, **k: real(self, *a, **{**k, "timeout": 1}))
    with pytest.raises(TerraformApplyError) as raised:
        workspace.changes("http://127.0.0.1:5000", "us-east-1")
    assert str(raised.value) == "terraform plan: no answer within 1s"
