"""The whole path through a real Airflow 3, tracking tasks by the events queue, on the local ECS as `make apply`
builds AWS: terraform/ applied into it by the real AWS provider, once for the module; `terraform output -json`
-> the generator's files -> the executor's only [ecs_fargate] settings. Where Terraform or the provider cannot
be had, provision.py builds it and the tests that check the applied modules skip, saying why.

The tests both tracking modes run are in deployment_cases.py; the polling mode's file is
test_airflow_e2e_polling.py."""

from __future__ import annotations

import json

import pytest

from devtools.airflow_stack import AirflowStack
from devtools.local_deployment import execution_api_url

# isort: off
# In the order they run: pytest collects them as imported, and the later ones read what the earlier ones left.
from tests.e2e.deployment_cases import (  # noqa: F401 - the tests, collected and run in this file
    DAGS,
    TEAM,
    test_outcomes_success_failure_crash_and_out_of_memory,
    test_spot_interruption_restart_adoption_and_live_log,
    test_clearing_a_running_task_stops_its_ecs_task_and_runs_the_next_try,
    test_reschedule_deferral_and_mapping_end_as_on_local_executor,
    test_a_connection_test_runs_where_the_tasks_run_or_is_refused_in_one_line,
    test_deadline_callbacks_run_on_ecs_and_their_results_reach_airflow,
    test_the_executor_tracked_tasks_the_configured_way,
    test_no_log_holds_a_workload_token_or_a_credential,
)
# isort: on

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tracking():
    return "events"


@pytest.fixture(scope="module")
def provision():
    return "auto"


def test_a_bad_setting_stops_a_real_scheduler_with_one_line(tmp_path):
    stack = AirflowStack(home=tmp_path / "airflow", dags_folder=DAGS)
    stack.extra_env = {
        "AIRFLOW__ECS_FARGATE__REGION": "us-east-1",
        "AIRFLOW__ECS_FARGATE__CLUSTER": "airflow",
        "AIRFLOW__ECS_FARGATE__CONTAINER_NAME": "airflow-worker",
        "AIRFLOW__ECS_FARGATE__TASK_DEFINITION": "airflow-worker",
        "AIRFLOW__ECS_FARGATE__LAUNCH_RATE": "fast",
    }
    stack.home.mkdir(parents=True)
    stack.airflow("db", "migrate")
    stack.start_component("scheduler")
    try:
        code = stack.processes["scheduler"].wait(timeout=120)
    finally:
        stack.stop()
    log = (stack.home / "scheduler.log").read_text(errors="replace")
    line = "ECS executor cannot start: [ecs_fargate] launch_rate = 'fast': expected a number, e.g. 20"
    assert code != 0  # whatever supervises the scheduler must see that it could not start
    assert f"[error    ] {line}" in log
    # Airflow adds its traceback; the line it ends with is the same one line, nothing from deep inside.
    assert log.rstrip().splitlines()[-1].endswith(line), log[-3000:]


# --- what the deployment above stands on: terraform/ applied, and the Python provisioner's likeness ---


def _terraform_applied(applied) -> None:
    if applied.local.provisioned_by != "terraform":
        pytest.skip(f"the local ECS was provisioned by provision.py: {applied.local.provision_note}")


def test_the_deployment_is_what_terraform_applied_and_render_read(applied):
    """The modules as `make apply` applies them (all 38 resources of the default deployment), their outputs
    through the generator, and the cluster, task definition and events queue read back from the local ECS.
    The Airflows above got [ecs_fargate] only from those rendered files (plus the local endpoint and keys)."""
    _terraform_applied(applied)
    from airflow_ecs.deploy.generator import render_files
    from airflow_ecs.deploy.terraform_outputs import parse_outputs
    from airflow_ecs.local.terraform_apply import TerraformWorkspace

    local, outputs = applied.local, applied.local.outputs
    files = render_files(parse_outputs(outputs), str(applied.work / "run_task_template.json.j2"))
    assert "cluster = airflow-ecs-local" in files["airflow.cfg"]
    (cluster,) = local.client("ecs").describe_clusters(clusters=[outputs["cluster_arn"]["value"]])["clusters"]
    assert cluster["status"] == "ACTIVE" and cluster["clusterName"] == "airflow-ecs-local"
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    definition = local.client("ecs").describe_task_definition(taskDefinition="airflow-ecs-local-worker")[
        "taskDefinition"
    ]
    (container,) = definition["containerDefinitions"]
    assert container["name"] == outputs["container_name"]["value"] == "airflow-worker"
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == execution_api_url(applied.api_port)
    assert "memory" not in container  # task-level memory only, as Fargate allows (moto's gap: terraform_gaps.py)
    sqs = local.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["events_queue_url"]["value"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 50
    # What moto drops and the provider waited for, kept by the layer in front of it.
    (kept,) = [v for k, v in local.gaps.kept.items() if k.endswith("/airflow-ecs-local-task-events-dlq")]
    assert json.loads(kept["RedriveAllowPolicy"])["redrivePermission"] == "byQueue"
    # A plan now changes nothing: what moto and the gap layer answer is what was applied (no drift).
    assert TerraformWorkspace(local.terraform_work).changes(local.gaps.url, local.region) == ""
    # The team's resources: its own family, roles, log group and events queue, in multi-team mode; its
    # section rendered from them.
    team = outputs["teams"]["value"][TEAM]
    assert f"[{TEAM}=ecs_fargate]" in files["airflow.cfg"]
    family = team["task_definition_family"]
    assert f"AIRFLOW__TEAM_A___ECS_FARGATE__TASK_DEFINITION={family}" in files["airflow_ecs.env"]
    team_definition = local.client("ecs").describe_task_definition(taskDefinition=family)["taskDefinition"]
    (team_container,) = team_definition["containerDefinitions"]
    team_environment = {item["name"]: item["value"] for item in team_container["environment"]}
    assert team_environment["TEAM_MARK"] == "a" and team_environment["AIRFLOW__CORE__MULTI_TEAM"] == "True"
    assert team_container["logConfiguration"]["options"]["awslogs-group"] == f"/aws/ecs/airflow-ecs-local/{TEAM}/worker"
    assert team_definition["taskRoleArn"] == team["task_role_arn"] != outputs["task_role_arn"]["value"]
    assert sqs.get_queue_attributes(QueueUrl=team["events_queue_url"], AttributeNames=["QueueArn"])


def _shape(local, outputs: dict, name: str) -> dict:
    """What the executor reads from a deployment, with its name taken out."""
    ecs, sqs, events = local.client("ecs"), local.client("sqs"), local.client("events")
    (cluster,) = ecs.describe_clusters(clusters=[outputs["cluster_name"]["value"]], include=["SETTINGS"])["clusters"]
    definition = ecs.describe_task_definition(taskDefinition=outputs["task_definition_family"]["value"])[
        "taskDefinition"
    ]
    (container,) = definition["containerDefinitions"]
    queue = sqs.get_queue_attributes(QueueUrl=outputs["events_queue_url"]["value"], AttributeNames=["All"])[
        "Attributes"
    ]
    rule = events.describe_rule(Name=f"{name}-task-state")
    (target,) = events.list_targets_by_rule(Rule=f"{name}-task-state")["Targets"]
    subnets = local.client("ec2").describe_subnets(SubnetIds=outputs["subnet_ids"]["value"])["Subnets"]
    shape = {
        "outputs": {key: (type(value["value"]).__name__, value["value"] is None) for key, value in outputs.items()},
        "cluster": {
            "status": cluster["status"],
            "capacityProviders": sorted(cluster["capacityProviders"]),
            "defaultCapacityProviderStrategy": cluster["defaultCapacityProviderStrategy"],
            "settings": cluster["settings"],
        },
        "task_definition": {
            key: definition.get(key)
            for key in ("requiresCompatibilities", "networkMode", "cpu", "memory", "runtimePlatform", "status")
        },
        "roles": (bool(definition.get("executionRoleArn")), bool(definition.get("taskRoleArn"))),
        "container": {
            key: container.get(key)
            for key in (
                "name",
                "image",
                "essential",
                "memory",
                "readonlyRootFilesystem",
                "linuxParameters",
                "logConfiguration",
                "environment",
                "secrets",
            )
        },
        "queue": {
            key: queue.get(key)
            for key in (
                "VisibilityTimeout",
                "ReceiveMessageWaitTimeSeconds",
                "MessageRetentionPeriod",
                "SqsManagedSseEnabled",
            )
        },
        "redrive": json.loads(queue["RedrivePolicy"])["maxReceiveCount"],
        "rule": json.loads(rule["EventPattern"]),
        "rule_state": rule["State"],
        "target": target["Arn"] == outputs["events_queue_arn"]["value"],
        "subnets": (len(subnets), len({s["AvailabilityZone"] for s in subnets})),
    }
    return json.loads(json.dumps(shape).replace(name, "<name>"))


def test_the_python_provisioner_builds_what_terraform_applied(applied):
    """provision.py (the in-process moto tests and the benchmarks stand on it) against the applied modules,
    on one local ECS: the same cluster, task definition, queue and rule shapes, and the same outputs."""
    _terraform_applied(applied)
    from airflow_ecs.local.provision import provision

    local = applied.local
    definition = local.client("ecs").describe_task_definition(taskDefinition="airflow-ecs-local-worker")[
        "taskDefinition"
    ]
    environment = {item["name"]: item["value"] for item in definition["containerDefinitions"][0]["environment"]}
    url = environment.pop("AIRFLOW__CORE__EXECUTION_API_SERVER_URL")
    python_outputs = provision(
        local.client,
        local.region,
        name="airflow-ecs-python",
        execution_api_server_url=url,
        task_environment=environment,
    )
    assert _shape(local, python_outputs, "airflow-ecs-python") == _shape(local, local.outputs, "airflow-ecs-local")
