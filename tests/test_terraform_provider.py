"""terraform/ with the real hashicorp/aws provider: ``terraform validate`` of every configuration, and
``terraform test`` (terraform/tests/*.tftest.hcl: plans of the root and every example with the variable
combinations users write, and what each plan must hold) against moto's server.

Skipped, with one line saying why, where no provider can be had (see tests/terraform_provider.py).
"""

from __future__ import annotations

import json
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


# --- terraform apply of the root module into the local ECS, then render ---


def test_apply_builds_the_local_ecs_and_render_reads_it(workspace, moto, tmp_path, tftest):
    """The modules as `make apply` applies them, into moto (with our gap layer in front for what moto does not
    keep), then the outputs through the same generator as on AWS. Runs after the plans (``tftest``)."""
    import boto3

    from airflow_ecs.deploy.generator import render_files
    from airflow_ecs.deploy.terraform_outputs import parse_outputs
    from airflow_ecs.local.terraform_gaps import GapLayer

    layer = GapLayer(moto).start()
    try:
        var_file = tmp_path / "local.tfvars.json"
        var_file.write_text(
            json.dumps(
                {
                    "region": "us-east-1",
                    "name": "airflow-local",
                    "execution_api_server_url": "http://127.0.0.1:8080/execution/",
                    "create_ecr_repository": False,
                    "image": "local/airflow-worker:latest",
                    "tags": {"env": "local"},
                    "teams": {"team_a": {"environment": {"TEAM_MARK": "a"}}},
                }
            )
        )
        result = workspace.run(
            "",
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            f"-var-file={var_file}",
            env=moto_env(layer.url),
            timeout=900,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        assert not warnings(result), warnings(result)
        outputs = json.loads(workspace.run("", "output", "-json", env=moto_env(layer.url)).check().stdout)
    finally:
        layer.stop()
    files = render_files(parse_outputs(outputs), str(tmp_path / "run_task_template.json.j2"))
    assert "cluster = " in files["airflow.cfg"]
    # The team's section, from the team's applied resources.
    team = outputs["teams"]["value"]["team_a"]
    assert "[team_a=ecs_fargate]" in files["airflow.cfg"]
    assert (
        f"AIRFLOW__TEAM_A___ECS_FARGATE__TASK_DEFINITION={team['task_definition_family']}" in files["airflow_ecs.env"]
    )
    ecs = boto3.client(
        "ecs", region_name="us-east-1", endpoint_url=moto, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    (cluster,) = ecs.describe_clusters(clusters=[outputs["cluster_arn"]["value"]])["clusters"]
    assert cluster["status"] == "ACTIVE" and cluster["clusterName"] == "airflow-local"
    definition = ecs.describe_task_definition(taskDefinition=outputs["task_definition_family"]["value"])
    assert definition["taskDefinition"]["containerDefinitions"][0]["name"] == outputs["container_name"]["value"]
    sqs = boto3.client(
        "sqs", region_name="us-east-1", endpoint_url=moto, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    assert sqs.get_queue_attributes(QueueUrl=outputs["events_queue_url"]["value"], AttributeNames=["QueueArn"])
    # The team's task definition: its own family, roles and log group, its environment, in multi-team mode.
    team_definition = ecs.describe_task_definition(taskDefinition=team["task_definition_family"])["taskDefinition"]
    (container,) = team_definition["containerDefinitions"]
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment["TEAM_MARK"] == "a" and environment["AIRFLOW__CORE__MULTI_TEAM"] == "True"
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/aws/ecs/airflow-local/team_a/worker"
    assert team_definition["taskRoleArn"] == team["task_role_arn"] != outputs["task_role_arn"]["value"]
    assert sqs.get_queue_attributes(QueueUrl=team["events_queue_url"], AttributeNames=["QueueArn"])
