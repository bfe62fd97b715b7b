"""terraform/ with the real hashicorp/aws provider: ``terraform validate`` of every configuration, and
``terraform test`` (terraform/tests/*.tftest.hcl: plans of the root and every example with the variable
combinations users write, and what each plan must hold) against moto's server. The apply is the e2e suite's.

Skipped, with one line saying why, where no provider can be had (see tests/terraform_provider.py).
"""

from __future__ import annotations

import json
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

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
def validated(workspace, upgrade_applied) -> dict:
    # upgrade_applied: begun before these runs, so that its apply waits while they work (see it below).
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


# --- one events queue per scheduler: an existing single-queue state is moved, never replaced ---

EVENTS_MODULE = "modules/events"
# The three resources that had no count before queue_count, and so were addressed without an index.
COUNTED = ("aws_sqs_queue.events", "aws_cloudwatch_event_target.queue", "aws_sqs_queue_policy.events")


def planned_changes(workspace, env, state, *variables: str) -> list[dict]:
    plan = state.with_suffix(".plan")
    args = ("plan", "-input=false", "-no-color", f"-state={state}", f"-out={plan}", *variables)
    workspace.run(EVENTS_MODULE, *args, env=env).check()
    shown = workspace.run(EVENTS_MODULE, "show", "-json", "-no-color", str(plan), env=env).check()
    return json.loads(shown.stdout).get("resource_changes", [])


def actions_of(changes: list[dict]) -> dict[str, list[str]]:
    return {c["address"]: c["change"]["actions"] for c in changes if c["change"]["actions"] != ["no-op"]}


UPGRADE_VARIABLES = (
    "-var=name=upgrade",
    "-var=cluster_arn=arn:aws:ecs:us-east-1:123456789012:cluster/upgrade",
    '-var=task_definition_families=["upgrade-worker"]',
)


@pytest.fixture(scope="module")
def upgrade_applied(workspace, moto, tmp_path_factory):
    """modules/events applied (through the gap layer) for the upgrade test below, begun in the background when
    the module's first Terraform runs start: the apply is mostly the provider waiting - each SQS resource polls
    the queue's attributes until six answers in a row, 5 s apart, agree (25 s, on AWS as here), and three are in
    a chain (dead-letter queue, queue, policies) - so it waits while validate and terraform test work, instead
    of holding this test process idle for over a minute. Yields (gap layer URL, state file, the apply's future)."""
    from airflow_ecs.local.terraform_gaps import GapLayer

    state = tmp_path_factory.mktemp("upgrade") / "events.tfstate"
    with GapLayer(moto) as layer, ThreadPoolExecutor(max_workers=1) as pool:
        apply = ("apply", "-auto-approve", "-input=false", "-no-color", f"-state={state}", *UPGRADE_VARIABLES)
        done = pool.submit(workspace.run, EVENTS_MODULE, *apply, env=moto_env(layer.url), timeout=600)
        yield layer.url, state, done


def test_a_single_queue_state_is_moved_to_the_counted_queues_and_more_queues_only_add(workspace, upgrade_applied):
    """The module before queue_count, as its state looked: apply it, then move the counted resources back to
    their old addresses (no index), which is the state an upgrade starts from. Planning it with the moved
    blocks changes nothing; three queues add two queues, two targets and two policies and destroy nothing."""
    url, state, applying = upgrade_applied
    env, variables = moto_env(url), UPGRADE_VARIABLES
    applying.result().check()
    # The applied module plans no change (the gap layer answers the redrive policy as it was given).
    assert actions_of(planned_changes(workspace, env, state, *variables)) == {}
    for address in (*COUNTED, "data.aws_iam_policy_document.queue"):
        workspace.run(EVENTS_MODULE, "state", "mv", f"-state={state}", f"{address}[0]", address, env=env).check()

    changes = planned_changes(workspace, env, state, *variables)
    moved = {c["address"]: c.get("previous_address") for c in changes if c.get("previous_address")}
    # The resources by the moved blocks (the data source, read again at each plan, needs none).
    assert {a: p for a, p in moved.items() if not a.startswith("data.")} == {f"{a}[0]": a for a in COUNTED}
    assert actions_of(changes) == {}, "an upgrade to queue_count = 1 must change nothing"

    changes = planned_changes(workspace, env, state, *variables, "-var=queue_count=3")
    acted = actions_of(changes)
    assert not [a for a, actions in acted.items() if "delete" in actions], acted
    created = sorted(a for a, actions in acted.items() if actions == ["create"])
    assert created == sorted(f"{address}[{index}]" for address in COUNTED for index in (1, 2)), acted
    names = {
        c["change"]["after"]["name"]
        for c in changes
        if c["type"] == "aws_sqs_queue" and c["change"]["actions"] == ["create"]
    }
    assert names == {"upgrade-task-events-2", "upgrade-task-events-3"}
    # The one dead-letter queue now takes from all three (its redrive allow policy lists them).
    changed = {a for a in acted if a not in created and not a.startswith("data.")}  # data: read, not made
    # The dead-letter queue's allow list gains the new queues. The first queue's policy is rewritten in
    # place: Terraform reads its document at apply because the queue resource (all its instances) has
    # pending creates, and the document it reads is the one already there.
    assert changed == {"aws_sqs_queue_redrive_allow_policy.dead_letter", "aws_sqs_queue_policy.events[0]"}, acted
    assert acted["aws_sqs_queue_policy.events[0]"] == ["update"], acted
