"""`airflow-ecs check` and `airflow-ecs status` (and the same under `airflow ecs`) against moto's server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from airflow_ecs.cli import main
from tests.executor_harness import heartbeat_until, launch_one, moto_task, started, stop_in_moto


def run_json(capsys, *argv: str) -> tuple[int, list[dict]]:
    capsys.readouterr()  # what came before (the executor's own log lines)
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_check_passes_a_sound_deployment_and_says_what_it_could_not_check(ecs_env, capsys):
    ecs_env.configure(execution_api_server_url=ecs_env.url + "/")  # something that answers HTTP
    code, checks = run_json(capsys, "check")
    by_name = {check["name"]: check for check in checks}
    assert code == 0, checks
    assert by_name["credentials"]["status"] == "ok" and "123456789012" in by_name["credentials"]["detail"]
    assert by_name["cluster"]["status"] == "ok" and "FARGATE_SPOT" in by_name["cluster"]["detail"]
    assert by_name["task definition"]["status"] == "ok"
    assert by_name["logs"]["status"] == "ok" and "/airflow-ecs/worker" in by_name["logs"]["detail"]
    assert by_name["network"]["status"] == "ok" and "2 subnets" in by_name["network"]["detail"]
    assert by_name["events queue"]["status"] == "skip"  # polling: nothing to check
    assert by_name["execution API"]["status"] == "ok"
    # The fixture's task definition names no roles: nothing to pass (the verdicts: test_pass_role_* below).
    assert (by_name["iam:PassRole"]["status"], by_name["iam:PassRole"]["detail"]) == (
        "skip", "no caller identity or no roles in the task definition")


def test_check_names_each_broken_part_and_exits_1(ecs_env, capsys):
    ecs_env.configure(subnets="subnet-00000000000000000", container_name="base",
                      events_queue_url=ecs_env.url + "/123456789012/no-such-queue",
                      execution_api_server_url="http://127.0.0.1:9/execution/")
    code, checks = run_json(capsys, "check")
    failed = {check["name"]: check["detail"] for check in checks if check["status"] == "fail"}
    assert code == 1
    assert set(failed) == {"task definition", "network", "events queue", "execution API"}, failed
    assert "has no container 'base'" in failed["task definition"]
    assert "subnet-00000000000000000" in failed["network"]


def test_check_with_a_bad_config_file_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "airflow.cfg").write_text("[ecs_fargate]\nregion = us-east-1\ncluster = c\n")
    assert main(["check", "--config", str(tmp_path / "airflow.cfg")]) == 2
    assert capsys.readouterr().err.strip() == ("airflow-ecs check: [ecs_fargate] container_name = (empty): required; "
                                               "e.g. airflow-worker")


def test_status_lists_this_deployments_tasks_with_their_airflow_keys(ecs_env, capsys):
    executor = started()
    running_key, running_arn = launch_one(executor, task_id="still_running")
    failed_key, failed_arn = launch_one(executor, task_id="ran_out_of_memory")
    moto_task(running_arn).status = "RUNNING"
    stop_in_moto(failed_arn, exit_code=137, container_reason="OutOfMemoryError: Container killed due to memory usage")
    heartbeat_until(executor, lambda: failed_key in executor.event_buffer)
    code, rows = run_json(capsys, "status")
    assert code == 0
    by_task = {row["task_id"]: row for row in rows}
    assert set(by_task) == {"still_running", "ran_out_of_memory"}
    assert by_task["still_running"]["last_status"] == "RUNNING" and by_task["still_running"]["dag_id"] == "demo"
    assert by_task["still_running"]["ecs_task_id"] == running_arn.rsplit("/", 1)[-1]
    oom = by_task["ran_out_of_memory"]
    assert oom["last_status"] == "STOPPED" and oom["exit_code"] == 137 and "more memory" in oom["reason"]
    assert main(["status"]) == 0  # the rich table renders too
    assert "ran_out_of_memory" in capsys.readouterr().out
    executor.terminate()


def test_the_commands_are_under_airflows_own_cli(ecs_env, tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__EXECUTOR": "airflow_ecs.executor.EcsFargateExecutor"}
    result = subprocess.run([sys.executable, "-m", "airflow", "ecs", "status", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == [], result.stdout
    assert "missing 'cli' section" not in result.stderr


# --- reading the container definition: pure, no AWS ---

def _definition(**container: object) -> dict:
    return {"containerDefinitions": [{"name": "sidecar"}, {"name": "worker", **container}]}


AWSLOGS = {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/airflow", "awslogs-stream-prefix": "ecs"}}


def test_the_container_is_read_by_name_for_logs_stream_and_api_url():
    from airflow_ecs.config import load_config
    from airflow_ecs.deployment_check import OK, SKIP, WARN, check_logs, execution_api_url
    from airflow_ecs.task_logs import awslogs_stream

    config = load_config({"region": "us-east-1", "cluster": "c", "task_definition": "td",
                          "container_name": "worker"}.get)
    assert check_logs(_definition(logConfiguration=AWSLOGS), config).status == OK
    assert check_logs(_definition(logConfiguration={"logDriver": "splunk"}), config).status == WARN
    assert check_logs({"containerDefinitions": [{"name": "sidecar", "logConfiguration": AWSLOGS}]},
                      config).status == SKIP
    assert check_logs({}, config).status == SKIP
    arn = "arn:aws:ecs:us-east-1:123456789012:task/c/abc123"
    assert awslogs_stream(_definition(logConfiguration=AWSLOGS), "worker", arn) == ("/ecs/airflow", "ecs/worker/abc123")
    assert awslogs_stream(_definition(logConfiguration=AWSLOGS), "other", arn) is None
    assert awslogs_stream(_definition(logConfiguration={"logDriver": "splunk"}), "worker", arn) is None
    environment = [{"name": "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "value": "http://api:8080/execution/"}]
    assert execution_api_url(config, _definition(environment=environment)) == "http://api:8080/execution/"
    assert execution_api_url(config, {"containerDefinitions": [{"name": "sidecar", "environment": environment}]}) == ""


# --- iam:PassRole: moto has no SimulatePrincipalPolicy, so botocore's Stubber answers (and validates the request) ---

CALLER = "arn:aws:sts::123456789012:assumed-role/airflow-scheduler/i-0abc"
TASK_ROLE = "arn:aws:iam::123456789012:role/airflow-task"
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/airflow-execution"
ROLES = {"taskRoleArn": TASK_ROLE, "executionRoleArn": EXECUTION_ROLE}


def stubbed_iam(decisions: dict[str, str] | None = None, error: str | None = None):
    import boto3
    from botocore.stub import Stubber

    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    stubber = Stubber(iam)
    expected = {
        "PolicySourceArn": "arn:aws:iam::123456789012:role/airflow-scheduler",  # the role behind the session
        "ActionNames": ["iam:PassRole"], "ResourceArns": [TASK_ROLE, EXECUTION_ROLE],
        "ContextEntries": [{"ContextKeyName": "iam:PassedToService", "ContextKeyType": "string",
                            "ContextKeyValues": ["ecs-tasks.amazonaws.com"]}],
    }
    if error:
        stubber.add_client_error("simulate_principal_policy", error, "not allowed", 403, expected_params=expected)
    else:
        stubber.add_response("simulate_principal_policy", {"EvaluationResults": [
            {"EvalActionName": "iam:PassRole", "EvalResourceName": arn, "EvalDecision": decision}
            for arn, decision in (decisions or {}).items()]}, expected)
    stubber.activate()
    return iam, stubber


def test_pass_role_allowed_for_both_roles_is_ok():
    from airflow_ecs.deployment_check import check_pass_role

    iam, stubber = stubbed_iam({TASK_ROLE: "allowed", EXECUTION_ROLE: "allowed"})
    check = check_pass_role(iam, CALLER, ROLES)
    stubber.assert_no_pending_responses()
    assert (check.status, check.detail) == ("ok", "may pass 2 roles to ecs-tasks.amazonaws.com")


def test_pass_role_denied_fails_naming_the_role_and_the_policy_to_attach():
    from airflow_ecs.deployment_check import check_pass_role

    iam, _ = stubbed_iam({TASK_ROLE: "allowed", EXECUTION_ROLE: "implicitDeny"})
    check = check_pass_role(iam, CALLER, ROLES)
    assert check.status == "fail"
    assert EXECUTION_ROLE in check.detail and TASK_ROLE not in check.detail
    assert "scheduler_policy_arn" in check.detail


def test_pass_role_that_cannot_be_simulated_is_skipped_not_failed():
    from airflow_ecs.deployment_check import check_pass_role

    iam, _ = stubbed_iam(error="AccessDenied")
    check = check_pass_role(iam, CALLER, ROLES)
    assert check.status == "skip" and "AccessDenied" in check.detail and "RunTask will tell" in check.detail
