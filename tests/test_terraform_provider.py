"""terraform/ with the real hashicorp/aws provider: ``terraform validate`` of every configuration, and
``terraform test`` (terraform/tests/*.tftest.hcl: plans of the root and every example with the variable
combinations users write, and what each plan must hold) against moto's server. The apply is the e2e suite's.

Skipped, with one line saying why, where no provider can be had (see tests/terraform_provider.py).
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from tests.terraform_provider import TF_DIR, Workspace, configurations, moto_env, parallel, provider_source, warnings


@pytest.fixture(scope="module")
def source():
    found = provider_source()
    if not found.available:
        pytest.skip(found.describe())
    return found


@pytest.fixture(scope="module")
def moto(source):
    """One moto server for the module: plans only read from it, so they can run side by side."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    yield url
    server.stop()


@pytest.fixture(scope="module")
def workspace(source, tmp_path_factory) -> Workspace:
    space = Workspace.create(tmp_path_factory.mktemp("tf-provider"), source)
    space.init_all(configurations())
    return space


def test_provider_source_is_said_in_one_line(source):
    line = source.describe()
    assert "\n" not in line and "AWS provider" in line


# --- validate: every configuration, three at a time ---


@pytest.fixture(scope="module")
def validated(workspace) -> dict:
    runs = parallel(lambda c: workspace.run(c, "validate", "-no-color"), configurations())
    return dict(zip(configurations(), runs, strict=True))


@pytest.mark.parametrize("configuration", configurations(), ids=lambda c: c or "root")
def test_validate(validated, configuration):
    result = validated[configuration]
    assert result.returncode == 0, result.stderr
    assert not warnings(result), warnings(result)


# --- terraform test: the *.tftest.hcl files, one process (one provider schema load) for all runs ---

TFTEST_FILES = sorted((TF_DIR / "tests").glob("*.tftest.hcl"))
RUNS = [(path.name, name) for path in TFTEST_FILES for name in re.findall(r'^run "([^"]+)"', path.read_text(), re.M)]


@pytest.fixture(scope="module")
def tftest(workspace, moto) -> dict[tuple[str, str], str]:
    """Each run's status (pass / fail / skip / error), and the whole output for the messages."""
    result = workspace.run("", "test", "-no-color", env=moto_env(moto), timeout=900)
    statuses = {}
    current = None
    for line in result.stdout.splitlines():
        file_match = re.match(r"^(tests/)?(\S+\.tftest\.hcl)\.\.\. ", line)
        if file_match:
            current = file_match.group(2)
        run_match = re.match(r'^\s+run "([^"]+)"\.\.\. (\w+)', line)
        if run_match and current:
            statuses[(current, run_match.group(1))] = run_match.group(2)
    return {"statuses": statuses, "output": result.stdout + result.stderr}


def test_tftest_files_exist():
    assert RUNS, "terraform/tests/*.tftest.hcl hold no run blocks"


@pytest.mark.parametrize(("file", "run"), RUNS, ids=[f"{f}::{r}" for f, r in RUNS])
def test_tftest_run(tftest, file, run):
    status = tftest["statuses"].get((file, run))
    assert status == "pass", f"terraform test {file} run {run!r}: {status}\n{tftest['output'][-6000:]}"


# terraform apply of the root module (with a team) into the local ECS, then render: tests/e2e/test_airflow_e2e.py,
# whose deployment stands on that apply (one apply per make test, not two).


# --- a task definition with task-level memory only, through the gap layer: runnable in moto, no drift ---

TASK_LEVEL_MEMORY_ONLY = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.100, < 6.0" }
  }
}

provider "aws" {
  region = "us-east-1"
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "gap-memory-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  container_definitions    = jsonencode([{ name = "worker", image = "local/worker:1", essential = true }])
}
"""


def test_a_container_without_memory_is_applied_runnable_and_plans_no_change(source, moto, tmp_path):
    """As terraform/modules/worker registers its container (the task's memory only): moto gets the task's memory
    as the container's reservation, which its RunTask needs (terraform_gaps.py), and the provider reads back
    exactly what it wrote, so a plan after the apply changes nothing. One resource: the whole root module is
    applied once per make test, by the e2e suite."""
    import boto3

    from airflow_ecs.local.terraform_gaps import GapLayer

    space = Workspace.create(tmp_path, source)
    (space.root / "gap_memory").mkdir()
    (space.root / "gap_memory" / "main.tf").write_text(TASK_LEVEL_MEMORY_ONLY)
    with GapLayer(moto) as layer:
        env = moto_env(layer.url)
        space.run("gap_memory", "init", "-backend=false", "-input=false", "-no-color").check()
        space.run("gap_memory", "apply", "-auto-approve", "-input=false", "-no-color", env=env).check()
        plan = space.run("gap_memory", "plan", "-detailed-exitcode", "-input=false", "-no-color", env=env)
    assert plan.returncode == 0, f"a plan after the apply wants changes:\n{plan.stdout[-4000:]}"
    assert "No changes." in plan.stdout
    ecs = boto3.client(
        "ecs", region_name="us-east-1", endpoint_url=moto, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    (container,) = ecs.describe_task_definition(taskDefinition="gap-memory-worker")["taskDefinition"][
        "containerDefinitions"
    ]
    assert container["memoryReservation"] == 512 and "memory" not in container  # what moto's RunTask places by
