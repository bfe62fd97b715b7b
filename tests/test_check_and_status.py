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
    assert by_name["logs"]["status"] == "ok" and "/aws/ecs/airflow-test/worker" in by_name["logs"]["detail"]
    assert by_name["network"]["status"] == "ok" and "2 subnets" in by_name["network"]["detail"]
    assert by_name["events queue"]["status"] == "skip"  # polling: nothing to check
    assert by_name["execution API"]["status"] == "ok"
    # The fixture's task definition names the module's two roles; moto cannot simulate IAM, so the check says
    # it could not and leaves it to RunTask (the verdicts: test_pass_role_* below).
    assert by_name["iam:PassRole"]["status"] == "skip"
    assert by_name["iam:PassRole"]["detail"].startswith("could not simulate")


def test_check_names_each_broken_part_and_exits_1(ecs_env, capsys):
    ecs_env.configure(
        subnets="subnet-00000000000000000",
        container_name="base",
        events_queue_url=ecs_env.url + "/123456789012/no-such-queue",
        execution_api_server_url="http://127.0.0.1:9/execution/",
    )
    code, checks = run_json(capsys, "check")
    failed = {check["name"]: check["detail"] for check in checks if check["status"] == "fail"}
    assert code == 1
    assert set(failed) == {"task definition", "network", "events queue", "execution API"}, failed
    assert "has no container 'base'" in failed["task definition"]
    assert "subnet-00000000000000000" in failed["network"]


def test_check_with_a_bad_config_file_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "airflow.cfg").write_text("[ecs_fargate]\nregion = us-east-1\ncluster = c\n")
    assert main(["check", "--config", str(tmp_path / "airflow.cfg")]) == 2
    assert capsys.readouterr().err.strip() == (
        "airflow-ecs check: [ecs_fargate] container_name = (empty): required; e.g. airflow-worker"
    )


def test_status_lists_this_deployments_tasks_with_their_airflow_keys(ecs_env, capsys, monkeypatch):
    executor = started()
    _running_key, running_arn = launch_one(executor, task_id="still_running")
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
    assert oom["task_arn"] == failed_arn
    assert [row["task_id"] for row in run_json(capsys, "status", "--state", "running")[1]] == ["still_running"]
    assert run_json(capsys, "status", "--dag", "other")[1] == []
    assert len(run_json(capsys, "status", "--since", "1h")[1]) == 2
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["status"]) == 0  # the rich table renders too, as wide as the terminal
    out = capsys.readouterr().out
    assert "ran_out_of_memory" in out and max(len(line) for line in out.splitlines()) <= 120
    executor.terminate()


def test_status_filters_are_pure():
    import datetime

    from airflow_ecs.cli.task_status import TaskRow, parse_since, select

    now = datetime.datetime(2026, 1, 2, 12, 0, tzinfo=datetime.timezone.utc)

    def row(dag, status, created):
        return TaskRow(dag, "t", "r", -1, 1, "id", status, None, "", "", created_at=created)

    rows = [
        row("etl", "RUNNING", "2026-01-02T11:50:00+00:00"),
        row("etl", "STOPPED", "2026-01-02T09:00:00+00:00"),
        row("ml", "RUNNING", "2026-01-02T11:59:00+00:00"),
        row("ml", "PENDING", ""),
    ]
    assert parse_since("30m", now) == datetime.datetime(2026, 1, 2, 11, 30, tzinfo=datetime.timezone.utc)
    assert parse_since("2026-01-02T10:00", now) == datetime.datetime(2026, 1, 2, 10, tzinfo=datetime.timezone.utc)
    assert select(rows, dag_id="etl") == rows[:2]
    assert select(rows, state="running") == [rows[0], rows[2]]
    assert select(rows, since=parse_since("1h", now)) == [rows[0], rows[2], rows[3]]  # no time: kept
    assert select(rows, dag_id="ml", state="RUNNING", since=parse_since("1d", now)) == [rows[2]]
    assert select(rows) == rows


def test_status_rows_carry_the_arn_and_times_in_utc():
    import datetime

    from airflow_ecs.cli.task_status import row_of

    arn = "arn:aws:ecs:us-east-1:123456789012:task/c/abc"
    tokyo = datetime.timezone(datetime.timedelta(hours=9))
    task = {
        "taskArn": arn,
        "lastStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "createdAt": datetime.datetime(2026, 1, 2, 21, 0, tzinfo=tokyo),
        "startedAt": 1767355300.5,
        "containers": [{"name": "w", "exitCode": 0}],
        "tags": [{"key": "airflow:dag_id", "value": "etl"}, {"key": "airflow:task_id", "value": "load"}],
    }
    row = row_of(task, "w")
    assert (row.task_arn, row.created_at, row.started_at, row.stopped_at) == (
        arn,
        "2026-01-02T12:00:00+00:00",
        "2026-01-02T12:01:40.500000+00:00",
        "",
    )


def test_status_with_a_bad_since_is_one_line(ecs_env, capsys):
    assert main(["status", "--since", "yesterday"]) == 2
    assert capsys.readouterr().err == (
        "airflow-ecs status: --since 'yesterday': expected a duration such as 30m, 2h "
        "or 1d, or a time such as 2026-01-01T12:00\n"
    )


def test_the_commands_are_under_airflows_own_cli(ecs_env, tmp_path):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "airflow_ecs.executor.EcsFargateExecutor",
    }
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "ecs", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang: the CLI starts in seconds, minutes on a loaded machine
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == [], result.stdout
    assert "missing 'cli' section" not in result.stderr


# --- reading the container definition: pure, no AWS ---


def _definition(**container: object) -> dict:
    return {"containerDefinitions": [{"name": "sidecar"}, {"name": "worker", **container}]}


AWSLOGS = {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/airflow", "awslogs-stream-prefix": "ecs"}}


def test_the_container_is_read_by_name_for_logs_stream_and_api_url():
    from airflow_ecs.aws.health import OK, SKIP, WARN, check_logs, execution_api_url
    from airflow_ecs.core.config import load_config
    from airflow_ecs.core.task_logs import awslogs_stream

    config = load_config(
        {"region": "us-east-1", "cluster": "c", "task_definition": "td", "container_name": "worker"}.get
    )
    assert check_logs(_definition(logConfiguration=AWSLOGS), config).status == OK
    assert check_logs(_definition(logConfiguration={"logDriver": "splunk"}), config).status == WARN
    assert (
        check_logs({"containerDefinitions": [{"name": "sidecar", "logConfiguration": AWSLOGS}]}, config).status == SKIP
    )
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
        "ActionNames": ["iam:PassRole"],
        "ResourceArns": [TASK_ROLE, EXECUTION_ROLE],
        "ContextEntries": [
            {
                "ContextKeyName": "iam:PassedToService",
                "ContextKeyType": "string",
                "ContextKeyValues": ["ecs-tasks.amazonaws.com"],
            }
        ],
    }
    if error:
        stubber.add_client_error("simulate_principal_policy", error, "not allowed", 403, expected_params=expected)
    else:
        stubber.add_response(
            "simulate_principal_policy",
            {
                "EvaluationResults": [
                    {"EvalActionName": "iam:PassRole", "EvalResourceName": arn, "EvalDecision": decision}
                    for arn, decision in (decisions or {}).items()
                ]
            },
            expected,
        )
    stubber.activate()
    return iam, stubber


def test_pass_role_allowed_for_both_roles_is_ok():
    from airflow_ecs.aws.health import check_pass_role

    iam, stubber = stubbed_iam({TASK_ROLE: "allowed", EXECUTION_ROLE: "allowed"})
    check = check_pass_role(iam, CALLER, ROLES)
    stubber.assert_no_pending_responses()
    assert (check.status, check.detail) == ("ok", "may pass 2 roles to ecs-tasks.amazonaws.com")


def test_pass_role_denied_fails_naming_the_role_and_the_policy_to_attach():
    from airflow_ecs.aws.health import check_pass_role

    iam, _ = stubbed_iam({TASK_ROLE: "allowed", EXECUTION_ROLE: "implicitDeny"})
    check = check_pass_role(iam, CALLER, ROLES)
    assert check.status == "fail"
    assert EXECUTION_ROLE in check.detail and TASK_ROLE not in check.detail
    assert "scheduler_policy_arn" in check.detail


def test_pass_role_that_cannot_be_simulated_is_skipped_not_failed():
    from airflow_ecs.aws.health import check_pass_role

    iam, _ = stubbed_iam(error="AccessDenied")
    check = check_pass_role(iam, CALLER, ROLES)
    assert check.status == "skip" and "AccessDenied" in check.detail and "RunTask will tell" in check.detail


# --- one verdict: `check` refuses what the scheduler refuses, with the same line ---


def scheduler_line() -> str:
    import pytest

    from airflow_ecs.executor import EcsFargateExecutor, ExecutorStartError

    with pytest.raises(ExecutorStartError) as caught:
        EcsFargateExecutor().start()
    return str(caught.value.cause)


def _template(tmp_path, body: str) -> str:
    path = tmp_path / "run_task_template.json.j2"
    path.write_text(
        '{\n  "cluster": {{ conf.cluster | tojson }},\n  "taskDefinition": {{ conf.task_definition | '
        'tojson }},\n  "launchType": "FARGATE",\n  "overrides": {"containerOverrides": [{"name": '
        '{{ conf.container_name | tojson }}, "command": {{ command | tojson }}}]}' + body + "\n}\n"
    )
    return str(path)


BAD_STARTS = {
    "unknown key": (
        dict(subnet="subnet-0a1b2c3d"),
        "[ecs_fargate] subnet = (value not shown): not a key of [ecs_fargate]; did you mean subnets?",
    ),
    "template does not render": (
        dict(run_task_template=',\n  "cpu": {{ conf.no_such_key | tojson }}'),
        (
            'run_task_template TEMPLATE:6: "cpu": {{ conf.no_such_key | tojson }}: '
            "'dict object' has no attribute 'no_such_key'"
        ),
    ),
    "tags in the template as an object": (
        dict(run_task_template=',\n  "tags": {"team": "data"}'),
        (
            'run_task_template TEMPLATE:6: "tags": {"team": "data"}: "tags" must be a list of {"key": ..., '
            '"value": ...} objects, as boto3 takes them, e.g. "tags": [{"key": "team", "value": "data"}]'
        ),
    ),
    "count in the template": (
        dict(run_task_template=',\n  "count": 2'),
        (
            'RunTask count is 2 (template TEMPLATE:6: "count": 2): it must be 1 (or absent), one '
            "ECS task per Airflow task try"
        ),
    ),
    "profile with a size Fargate lacks": (
        dict(profiles='{"odd": {"queues": ["odd"], "cpu": 300, "memory": 512}}'),
        "[ecs_fargate] profiles = 'odd': executor_config['cpu/memory'] = (300, 512): ",
    ),
    "subnets separated by spaces": (
        dict(subnets="subnet-0a1b2c3d subnet-4e5f6a7b"),
        (
            "[ecs_fargate] subnets = 'subnet-0a1b2c3d subnet-4e5f6a7b': ids are separated by "
            "commas, not spaces, e.g. subnet-0a1b2c3d,subnet-4e5f6a7b"
        ),
    ),
    "strategy that is no strategy": (
        dict(capacity_provider_strategy="lol what", launch_type=""),
        ("[ecs_fargate] capacity_provider_strategy = 'lol what': capacity provider 'lol what' is not a name"),
    ),
    "pending_timeout 0": (
        dict(pending_timeout="0"),
        ("[ecs_fargate] pending_timeout = '0': expected more than 0, e.g. 600"),
    ),
    "poll_interval 0": (dict(poll_interval="0"), "[ecs_fargate] poll_interval = '0': expected more than 0, e.g. 5"),
}


import pytest  # noqa: E402 - the tests above need no marks


@pytest.mark.parametrize("case", list(BAD_STARTS))
def test_check_refuses_what_the_scheduler_refuses_with_the_same_line(case, ecs_env, capsys, tmp_path):
    settings, line = BAD_STARTS[case]
    if "run_task_template" in settings:
        settings = {**settings, "run_task_template": _template(tmp_path, settings["run_task_template"])}
        line = "run_task_template does not render a valid RunTask request: " + line.replace(
            "TEMPLATE", settings["run_task_template"]
        )
    ecs_env.configure(**settings)

    said = scheduler_line()
    capsys.readouterr()
    assert main(["check"]) == 2

    assert said.startswith(line)
    assert capsys.readouterr().err == f"airflow-ecs check: {said}\n"


def test_check_config_file_takes_the_environment_over_it_as_airflow_does(ecs_env, capsys, tmp_path, monkeypatch):
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text(
        "[ecs_fargate]\nregion = us-east-1\ncluster = airflow-test\ncontainer_name = airflow-worker\n"
        "task_definition = airflow-worker\n"
    )
    monkeypatch.setenv("AIRFLOW__ECS_FARGATE__SECURITY_GROUP", "sg-0123")  # a typo, through the environment
    assert main(["check", "--config", str(cfg)]) == 2
    assert capsys.readouterr().err == (
        "airflow-ecs check: [ecs_fargate] security_group = (value not shown): not a "
        "key of [ecs_fargate]; did you mean security_groups?\n"
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "[ecs_fargate]\nregion = us-east-1\nregion = eu-west-1\n",
            (
                "not a readable airflow.cfg: While reading from 'CFG' [line 3]: "
                "option 'region' in section 'ecs_fargate' "
                "already exists"
            ),
        ),
        (
            "[ecs_fargate]\nregion = us-east-1\n[ecs_fargate]\n",
            "not a readable airflow.cfg: While reading from 'CFG' [line 3]: section 'ecs_fargate' already exists",
        ),
        (
            "region = us-east-1\n",
            (
                "not a readable airflow.cfg: File contains no section headers. file: 'CFG', line: 1 "
                "'region = us-east-1\\n'"
            ),
        ),
        (
            "[ecs_fargate]\nregion\n",
            ("not a readable airflow.cfg: Source contains parsing errors: 'CFG' [line 2]: 'region\\n'"),
        ),
    ],
)
def test_check_of_a_broken_config_file_is_one_line(text, says, capsys, tmp_path):
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text(text)
    for command in ("check", "status"):
        assert main([command, "--config", str(cfg)]) == 2
        assert (
            capsys.readouterr().err == f"airflow-ecs {command}: [ecs_fargate] --config = '{cfg}': "
            f"{says.replace('CFG', str(cfg))}\n"
        )


def test_an_unknown_aws_profile_is_one_line_for_check_and_scheduler(ecs_env, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    (tmp_path / "config").write_text("[profile airflow]\nregion = us-east-1\n")
    ecs_env.configure(aws_profile="nope")
    line = (
        "[ecs_fargate] aws_profile = 'nope': no such profile in the AWS config files (~/.aws/config, "
        "~/.aws/credentials); name one of their profiles, or leave it empty for boto3's chain"
    )
    assert scheduler_line() == line
    capsys.readouterr()
    assert main(["check"]) == 2
    assert capsys.readouterr().err == f"airflow-ecs check: {line}\n"


def test_a_strategy_naming_a_provider_the_cluster_lacks_fails_check_and_start(ecs_env, capsys):
    ecs_env.configure(capacity_provider_strategy="FARGATE_SPOT:1,my-asg:1", launch_type="")
    line = (
        "cluster 'airflow-test' has no capacity provider 'my-asg' (attached: FARGATE, FARGATE_SPOT); attach it "
        "to the cluster or fix [ecs_fargate] capacity_provider_strategy"
    )
    assert scheduler_line() == f"ECS executor health check: {line}"
    code, checks = run_json(capsys, "check")
    assert code == 1
    assert {"name": "cluster", "status": "fail", "detail": line} in [
        {key: check[key] for key in ("name", "status", "detail")} for check in checks
    ]


def test_check_finds_a_profiles_subnet_that_does_not_exist(ecs_env, capsys):
    ecs_env.configure(profiles='{"heavy": {"queues": ["heavy"], "subnets": ["subnet-00000000000000000"]}}')
    code, checks = run_json(capsys, "check")
    network = [check for check in checks if check["name"] == "network"]
    assert code == 1
    assert [check["status"] for check in network] == ["ok", "fail"]
    assert "subnet-00000000000000000" in network[1]["detail"]


def test_airflow_ecs_check_under_airflows_cli_flags_an_unknown_key(ecs_env, tmp_path):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "airflow_ecs.executor.EcsFargateExecutor",
        "AIRFLOW__ECS_FARGATE__SUBNET": "subnet-0a1b2c3d",
    }
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "ecs", "check"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "airflow-ecs check: [ecs_fargate] subnet = (value not shown): not a key of [ecs_fargate]; did you mean subnets?"
    )


def test_check_finds_a_missing_ecr_image_and_a_present_one(ecs_env, capsys):
    from devtools import aws_fixtures as aws

    ecs, ecr = aws.client(ecs_env.url, "ecs"), aws.client(ecs_env.url, "ecr")
    repository = ecr.create_repository(repositoryName="airflow-worker")["repository"]
    image = f"{repository['repositoryUri']}:v1"
    ecs.register_task_definition(
        family="from-ecr",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "airflow-worker", "image": image, "memory": 512}],
    )
    ecs_env.configure(task_definition="from-ecr")

    code, checks = run_json(capsys, "check")
    image_check = next(
        {key: check[key] for key in ("name", "status", "detail")} for check in checks if check["name"] == "image"
    )
    assert code == 1
    assert image_check == {
        "name": "image",
        "status": "fail",
        "detail": (
            f"{image} is not in ECR (ImageNotFoundException): every task would stop with CannotPullContainerError; "
            "push it (make image) or fix the task definition"
        ),
    }

    ecr.put_image(
        repositoryName="airflow-worker",
        imageTag="v1",
        imageManifest=json.dumps(
            {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
        ),
    )
    code, checks = run_json(capsys, "check")
    assert next(
        {key: check[key] for key in ("name", "status", "detail")} for check in checks if check["name"] == "image"
    ) == {"name": "image", "status": "ok", "detail": f"{image} is in ECR"}


def test_ecr_image_uris_are_read():
    from airflow_ecs.aws.health import ecr_image

    assert ecr_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/worker:3.3") == {
        "account": "123456789012",
        "region": "eu-west-1",
        "repository": "team/worker",
        "tag": "3.3",
    }
    assert ecr_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/worker") == {
        "account": "123456789012",
        "region": "eu-west-1",
        "repository": "worker",
        "tag": "latest",
    }
    assert ecr_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/w@sha256:ab12")["digest"] == "sha256:ab12"
    assert ecr_image("apache/airflow:3.3.2") is None
    assert ecr_image("") is None


def test_the_check_table_fits_the_terminal_and_shows_brackets(capsys, monkeypatch):
    from airflow_ecs.aws.health import FAIL, OK, Check
    from airflow_ecs.cli.check import print_table

    monkeypatch.setenv("COLUMNS", "100")
    detail = "[ecs_fargate] cluster 'x' not found in us-east-1; check [ecs_fargate] cluster and region " * 3
    print_table(
        [(None, [Check("cluster", FAIL, detail), Check("credentials", OK, "[bold]calling as arn:aws:iam::1:user/u")])],
        "airflow-ecs check: cluster x in us-east-1",
    )
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    flat = "".join(line.strip("│ ").rstrip() for line in out.splitlines())
    assert "[ecs_fargate]" in out and "[bold]calling" in out
    assert flat


# --- multi-team: each team's section is checked too, and every line names its team ---


def test_the_teams_to_check_come_from_sections_variables_and_the_executor_list():
    from airflow_ecs.glue.startup import team_names

    sections = ["core", "ecs_fargate", "team_a=ecs_fargate", "team_b=core", "=ecs_fargate"]
    environ = {
        "AIRFLOW__ECS_FARGATE__CLUSTER": "the deployment's",
        "AIRFLOW__TEAM_A___ECS_FARGATE__REGION": "eu-west-1",  # the same team as the section
        "AIRFLOW__TEAM_C___ECS_FARGATE__CLUSTER": "c",
        "AIRFLOW__TEAM_B___CORE__EXECUTION_API_SERVER_URL": "not our section",
    }
    executor = (
        "airflow_ecs.executor.EcsFargateExecutor;Team_D=ecs:airflow_ecs.executor.EcsFargateExecutor;"
        "team_e=LocalExecutor;team_f=LocalExecutor,airflow_ecs.executor.EcsFargateExecutor"
    )
    assert team_names(sections, environ, executor) == ["team_a", "team_c", "Team_D", "team_f"]
    assert team_names(["core", "ecs_fargate"], {"AIRFLOW__ECS_FARGATE__CLUSTER": "c"}, "LocalExecutor") == []


def team_config(tmp_path, ecs_env, **team_values: str) -> str:
    """An airflow.cfg with [team_a=ecs_fargate]: the deployment's values (the fixture's environment) changed by
    ``team_values``; the deployment's own section comes from the environment over an empty one."""
    from devtools import aws_fixtures as aws

    values = {
        key.removeprefix("AIRFLOW__ECS_FARGATE__").lower(): value
        for key, value in aws.env_for(ecs_env.url, ecs_env.resources).items()
    }
    values.update({"execution_api_server_url": ecs_env.url + "/", **team_values})
    lines = ["[ecs_fargate]", "", "[team_a=ecs_fargate]", *(f"{k} = {v}" for k, v in values.items() if v != "")]
    path = tmp_path / "airflow.cfg"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_check_checks_each_teams_section_and_names_the_team_in_each_line(ecs_env, capsys, tmp_path):
    ecs_env.configure(execution_api_server_url=ecs_env.url + "/")
    path = team_config(tmp_path, ecs_env, subnets="subnet-00000000000000000")
    code, checks = run_json(capsys, "check", "--config", path)
    assert code == 1
    failed = [(check["team"], check["name"]) for check in checks if check["status"] == "fail"]
    assert failed == [("team_a", "network")]
    assert {check["team"] for check in checks} == {None, "team_a"}
    team_checks = [check for check in checks if check["team"] == "team_a"]
    assert {check["name"] for check in team_checks} >= {"cluster", "task definition", "network", "execution API"}
    assert "subnet-00000000000000000" in next(c["detail"] for c in team_checks if c["name"] == "network")

    capsys.readouterr()
    assert main(["check", "--config", path]) == 1
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    named = [row.split("│")[1].strip() for row in rows if row.split("│")[2].strip()]  # a row's first line
    assert set(named) == {"(deployment)", "team_a"} and len(named) == len(checks)


def test_a_teams_section_the_scheduler_would_refuse_is_one_line_naming_it(ecs_env, capsys, tmp_path):
    path = team_config(tmp_path, ecs_env, container_name="")
    assert main(["check", "--config", path]) == 2
    assert capsys.readouterr().err.strip() == (
        "airflow-ecs check: [team_a=ecs_fargate] container_name = (empty): required; e.g. airflow-worker"
    )


def test_check_reads_a_teams_variables_from_airflows_own_config(ecs_env, capsys, monkeypatch):
    import pytest

    from airflow_ecs.glue.airflow_compat import AIRFLOW_RELEASE
    from devtools import aws_fixtures as aws

    if AIRFLOW_RELEASE < (3, 3):
        pytest.skip("team-scoped configuration is Airflow 3.3's")
    ecs_env.configure(execution_api_server_url=ecs_env.url + "/")
    monkeypatch.setenv("AIRFLOW__CORE__MULTI_TEAM", "True")
    team = {**aws.env_for(ecs_env.url, ecs_env.resources), "AIRFLOW__ECS_FARGATE__CLUSTER": "no-such-cluster"}
    for key, value in team.items():
        monkeypatch.setenv(key.replace("AIRFLOW__", "AIRFLOW__TEAM_B___", 1), value)
    code, checks = run_json(capsys, "check")
    assert code == 1
    assert [(c["team"], c["name"]) for c in checks if c["status"] == "fail"] == [("team_b", "cluster")]


def test_a_teams_check_reaches_the_teams_own_execution_api_as_its_executor_would(
    ecs_env, capsys, tmp_path, monkeypatch
):
    """A team's section without execution_api_server_url: its executor gives its containers the team's
    [core] execution_api_server_url, so that is the URL the team's check must try."""
    ecs_env.configure(execution_api_server_url=ecs_env.url + "/")
    path = team_config(tmp_path, ecs_env, execution_api_server_url="")
    monkeypatch.setenv("AIRFLOW__TEAM_A___CORE__EXECUTION_API_SERVER_URL", "http://127.0.0.1:9/execution/")
    code, checks = run_json(capsys, "check", "--config", path)
    failed = [(c["team"], c["name"], c["detail"]) for c in checks if c["status"] == "fail"]
    assert code == 1
    assert [(team, name) for team, name, _ in failed] == [("team_a", "execution API")]
    assert "127.0.0.1:9" in failed[0][2]
