"""The executor against moto's real ECS server over HTTP (the harness is tests/executor_harness.py)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from airflow.utils.state import TaskInstanceState

from airflow_ecs.executor import EcsFargateExecutor, ExecutorStartError, build_ahead
from devtools import aws_fixtures as aws
from tests.executor_harness import (
    error_response,
    fast_backoff,
    heartbeat_until,
    json_response,
    launch_one,
    make_workload,
    moto_task,
    queue_all,
    queued_arns,
    started,
    stop_in_moto,
)

# --- start() ---


def test_start_names_the_missing_key(ecs_env, monkeypatch):
    monkeypatch.delenv("AIRFLOW__ECS_FARGATE__CLUSTER")
    with pytest.raises(ExecutorStartError, match=r"\[ecs_fargate\] cluster = \(empty\): required"):
        started()


def test_start_refuses_an_unknown_key_and_suggests_the_known_one(ecs_env, monkeypatch):
    monkeypatch.setenv("AIRFLOW__ECS_FARGATE__SUBNET", "subnet-0a1b2c3d")  # a typo of subnets
    with pytest.raises(
        ExecutorStartError,
        match=r"\[ecs_fargate\] subnet = \(value not shown\): not a key .*did "
        r"you mean subnets\?",
    ) as caught:
        EcsFargateExecutor().start()
    assert "\n" not in str(caught.value)


def test_an_unknown_key_holding_a_credential_is_refused_without_its_value(ecs_env, monkeypatch, capfd):
    monkeypatch.setenv("AIRFLOW__ECS_FARGATE__AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-not-to-be-logged")
    with pytest.raises(ExecutorStartError, match=r"aws_secret_access_key = \(value not shown\): not a key"):
        EcsFargateExecutor().start()
    # Airflow's structlog writes the executor's log to stdout (caplog never sees it): read what was printed.
    logged = capfd.readouterr().out
    assert "aws_secret_access_key = (value not shown)" in logged and "not-to-be-logged" not in logged


def test_end_and_terminate_after_a_failed_start_do_nothing_and_raise_nothing(ecs_env):
    ecs_env.configure(cluster="no-such-cluster")
    executor = EcsFargateExecutor()
    with pytest.raises(ExecutorStartError):
        executor.start()
    calls = dict(executor.aws_calls)
    executor.end()  # the scheduler calls it in its finally: block
    executor.terminate()
    # Nothing was started, so nothing is stopped or reported: no AWS call, no state for Airflow.
    assert executor.aws_calls == calls and not executor.event_buffer
    assert not [t for t in threading.enumerate() if t.name.startswith(("ecs-", "airflow-ecs"))]


def test_start_refuses_a_template_that_renders_an_invalid_request(ecs_env, tmp_path):
    template = tmp_path / "bad.json.j2"
    template.write_text('{\n  "taskDefinition": {{ conf.task_definition | tojson }},\n  "count": "one"\n}\n')
    ecs_env.configure(run_task_template=str(template))
    with pytest.raises(ExecutorStartError, match=r"bad.json.j2:3.*count"):
        started()


def test_health_check_names_an_unknown_cluster(ecs_env):
    ecs_env.configure(cluster="no-such-cluster")
    with pytest.raises(ExecutorStartError, match="cluster 'no-such-cluster' not found"):
        started()


def test_health_check_names_a_wrong_container(ecs_env):
    ecs_env.configure(container_name="base")
    with pytest.raises(ExecutorStartError, match=r"has no container 'base' .*airflow-worker"):
        started()


# --- launching ---


def test_run_task_calls_happen_off_the_scheduler_thread(ecs_env):
    ecs_env.configure(poll_interval="60")
    executor = started(parallelism=500)
    threads: list[str] = []

    def slow_aws(request, **_):
        threads.append(threading.current_thread().name)
        time.sleep(0.1)  # an endpoint that answers in 100 ms

    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", slow_aws)
    queue_all(executor, [make_workload(f"t{i}") for i in range(200)])
    heartbeat_until(executor, lambda: len(queued_arns(executor)) == 200, timeout=60)
    assert len(threads) == 200
    assert threading.main_thread().name not in threads
    assert all(name.startswith("ecs-launch") for name in threads)
    executor.terminate()


def test_heartbeat_builds_requests_within_its_budget_and_loses_none(ecs_env):
    executor = started(parallelism=50)
    executor.build_budget_seconds = 0.0  # one request built per heartbeat: the floor that guarantees progress
    queue_all(executor, [make_workload(f"t{i}") for i in range(5)])
    executor.heartbeat()
    # Airflow sees all five taken over at once (slots are counted right), while only one was built.
    assert len(executor.running) == 5 and not executor.queued_tasks
    assert len(executor.tasks) == 1
    heartbeat_until(executor, lambda: len(queued_arns(executor)) == 5)
    assert len(executor.tasks) == 5
    executor.terminate()


def test_a_workload_revoked_before_it_was_built_is_never_launched(ecs_env):
    executor = started()
    executor.build_budget_seconds = 0.0
    workloads = [make_workload("first"), make_workload("revoked")]
    queue_all(executor, workloads)
    executor.heartbeat()  # takes both over, builds the first
    executor.revoke_task(ti=SimpleNamespace(key=workloads[1].ti.key))
    heartbeat_until(executor, lambda: queued_arns(executor))
    for _ in range(3):
        executor.heartbeat()
    assert list(queued_arns(executor)) == [workloads[0].ti.key]
    assert executor.aws_calls.get("RunTask") == 1
    executor.terminate()


def test_end_forgets_unbuilt_workloads_without_failing_them(ecs_env):
    executor = started()
    executor.build_budget_seconds = 0.0
    queue_all(executor, [make_workload(f"t{i}") for i in range(3)])
    executor.trigger_tasks(open_slots=10)  # taken over, nothing built yet (no sync)
    assert len(executor.running) == 3
    executor.ecs_config = dataclasses.replace(executor.ecs_config, end_timeout=0.5)
    executor.end()
    assert not executor.running
    assert not [key for key, (state, _) in executor.event_buffer.items() if state == TaskInstanceState.FAILED]
    assert not executor.aws_calls.get("RunTask")


def test_run_task_kwargs_may_not_take_over_the_identity_of_the_try(ecs_env):
    executor = started()
    workload = make_workload("sneaky", executor_config={"run_task_kwargs": {"startedBy": "someone-else"}})
    queue_all(executor, [workload])
    heartbeat_until(executor, lambda: executor.event_buffer)
    assert executor.event_buffer[workload.ti.key][0] == TaskInstanceState.FAILED
    assert not executor.aws_calls.get("RunTask")


def test_credentials_from_an_airflow_connection(ecs_env, monkeypatch):
    # The connection names the endpoint; the executor config does not. A key pair moto accepts.
    monkeypatch.delenv("AIRFLOW__ECS_FARGATE__ENDPOINT_URL")
    monkeypatch.setenv(
        "AIRFLOW_CONN_ECS_TEST",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "AKIDCONNECTION",
                "password": "secret-from-connection",
                "extra": {"endpoint_url": ecs_env.url, "region_name": "us-east-1"},
            }
        ),
    )
    ecs_env.configure(aws_conn_id="ecs_test")
    monkeypatch.delenv("AIRFLOW__ECS_FARGATE__ENDPOINT_URL")
    executor = started()  # the health check reached moto through the connection's endpoint
    assert executor._ecs.meta.endpoint_url == ecs_env.url
    assert executor._ecs._request_signer._credentials.access_key == "AKIDCONNECTION"
    executor.terminate()


def test_a_missing_connection_stops_start_with_one_line(ecs_env, monkeypatch):
    ecs_env.configure(aws_conn_id="no_such_connection")
    with pytest.raises(
        ExecutorStartError, match=r"aws_conn_id = 'no_such_connection'.*AIRFLOW_CONN_NO_SUCH_CONNECTION"
    ):
        EcsFargateExecutor().start()


def test_request_carries_identity_executor_config_and_command(ecs_env):
    executor = started()
    sent: list[dict] = []
    executor._ecs_launch.meta.events.register(
        "before-send.ecs.RunTask", lambda request, **_: sent.append(json.loads(request.body))
    )
    workload = make_workload("sized", executor_config={"cpu": 512, "memory": 1024, "environment": {"A": "1"}})
    queue_all(executor, [workload])
    heartbeat_until(executor, lambda: queued_arns(executor))
    request = sent[0]
    assert request["startedBy"] == str(workload.ti.id)
    assert {"key": "airflow:task_id", "value": "sized"} in request["tags"]
    assert request["overrides"]["cpu"] == "512" and request["overrides"]["memory"] == "1024"
    container = request["overrides"]["containerOverrides"][0]
    assert container["cpu"] == 512 and container["memory"] == 1024
    assert {"name": "A", "value": "1"} in container["environment"]
    assert container["command"][:4] == ["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string"]
    assert json.loads(container["command"][4])["ti"]["task_id"] == "sized"
    assert request["platformVersion"] == "LATEST" and request["launchType"] == "FARGATE"
    executor.terminate()


def test_a_bad_executor_config_fails_only_that_task(ecs_env):
    executor = started()
    queue_all(executor, [make_workload("bad", executor_config={"cpu": 256, "memory": 4096}), make_workload("good")])
    heartbeat_until(executor, lambda: len(executor.event_buffer) == 2)
    states = {key.task_id: state for key, (state, _) in executor.event_buffer.items()}
    assert states == {"bad": TaskInstanceState.FAILED, "good": TaskInstanceState.QUEUED}
    (event,) = [e for e in executor._task_event_logs if e.task_id == "bad"]
    assert "nearest valid sizes" in event.extra
    executor.terminate()


def test_overrides_over_the_ecs_limit_fail_that_task_before_any_call(ecs_env):
    executor = started()
    calls: list[int] = []
    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", lambda **_: calls.append(1))
    queue_all(executor, [make_workload("huge", executor_config={"environment": {"BIG": "x" * 9000}})])
    heartbeat_until(executor, lambda: executor.event_buffer)
    ((state, _),) = executor.event_buffer.values()
    assert state == TaskInstanceState.FAILED and not calls
    assert "8192" in executor._task_event_logs[-1].extra
    executor.terminate()


def test_throttling_is_retried_with_the_same_client_token(ecs_env):
    executor = started()
    tokens: list[str] = []

    def throttle_twice(request, **_):
        tokens.append(json.loads(request.body)["clientToken"])
        if len(tokens) <= 2:
            return error_response(400, "ThrottlingException", "Rate exceeded")
        return None

    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", throttle_twice)
    queue_all(executor, [make_workload()])
    heartbeat_until(executor, lambda: queued_arns(executor), timeout=30)
    assert len(tokens) == 3 and len(set(tokens)) == 1
    executor.terminate()


def test_capacity_failure_moves_to_the_fallback_strategy_with_a_new_token(ecs_env):
    ecs_env.configure(capacity_provider_strategy="FARGATE_SPOT:1", fallback_capacity_provider_strategy="FARGATE:1")
    executor = started()
    sent: list[dict] = []

    def no_spot_capacity(request, **_):
        body = json.loads(request.body)
        sent.append(body)
        if body["capacityProviderStrategy"][0]["capacityProvider"] == "FARGATE_SPOT":
            return json_response(
                {
                    "tasks": [],
                    "failures": [
                        {
                            "reason": "Capacity is unavailable at this time. "
                            "Please try again later or in a different availability zone"
                        }
                    ],
                }
            )
        return None

    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", no_spot_capacity)
    with fast_backoff():
        queue_all(executor, [make_workload()])
        heartbeat_until(executor, lambda: queued_arns(executor), timeout=30)
    assert [s["capacityProviderStrategy"][0]["capacityProvider"] for s in sent] == ["FARGATE_SPOT", "FARGATE"]
    assert sent[0]["clientToken"] != sent[1]["clientToken"]
    executor.terminate()


def test_permanent_failure_fails_at_once_with_the_aws_message(ecs_env):
    executor = started()
    calls: list[int] = []

    def denied(**_):
        calls.append(1)
        return error_response(400, "AccessDeniedException", "not authorized to perform: ecs:RunTask")

    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", denied)
    queue_all(executor, [make_workload()])
    heartbeat_until(executor, lambda: executor.event_buffer)
    ((state, _),) = executor.event_buffer.values()
    assert state == TaskInstanceState.FAILED and len(calls) == 1
    assert "AccessDeniedException: not authorized" in executor._task_event_logs[-1].extra
    executor.terminate()


def test_attempts_are_bounded(ecs_env):
    ecs_env.configure(max_run_task_attempts="3")
    executor = started()
    calls: list[int] = []

    def always_500(**_):
        calls.append(1)
        return error_response(500, "ServerException", "internal error")

    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", always_500)
    with fast_backoff():
        queue_all(executor, [make_workload()])
        heartbeat_until(executor, lambda: executor.event_buffer, timeout=30)
    assert len(calls) == 3
    assert "gave up after 3 attempts" in executor._task_event_logs[-1].extra
    executor.terminate()


# --- tracking ---


def test_running_then_success(ecs_env):
    executor = started()
    key, arn = launch_one(executor)
    moto_task(arn).status = "RUNNING"
    heartbeat_until(executor, lambda: key in executor.event_buffer)
    assert executor.event_buffer.pop(key) == (TaskInstanceState.RUNNING, arn)
    stop_in_moto(arn, exit_code=0)
    heartbeat_until(executor, lambda: key in executor.event_buffer)
    assert executor.event_buffer[key] == (TaskInstanceState.SUCCESS, arn)
    assert key not in executor.running
    executor.terminate()


def test_non_zero_exit_fails_with_the_diagnosis(ecs_env):
    executor = started()
    key, arn = launch_one(executor)
    stop_in_moto(arn, exit_code=137, container_reason="OutOfMemoryError: Container killed due to memory usage")
    heartbeat_until(executor, lambda: key in executor.event_buffer)
    assert executor.event_buffer[key][0] == TaskInstanceState.FAILED
    extra = executor._task_event_logs[-1].extra
    assert "more memory" in extra and arn in extra
    executor.terminate()


def test_task_that_never_started_is_relaunched(ecs_env):
    executor = started()
    sent: list[str] = []
    executor._ecs_launch.meta.events.register(
        "before-send.ecs.RunTask", lambda request, **_: sent.append(json.loads(request.body)["clientToken"])
    )
    key, arn = launch_one(executor)
    stop_in_moto(
        arn,
        exit_code=None,
        stop_code="TaskFailedToStart",
        started=False,
        reason="Timeout waiting for network interface provisioning to complete.",
    )
    heartbeat_until(executor, lambda: key in queued_arns(executor))
    new_arn = executor.event_buffer[key][1]
    assert new_arn != arn and len(sent) == 2 and sent[0] != sent[1]
    assert executor._task_event_logs[-1].event == "ecs task relaunched"
    executor.terminate()


def test_a_young_task_reported_missing_is_not_relaunched(ecs_env):
    """ECS is eventually consistent: MISSING seconds after RunTask means not visible yet, not gone."""
    executor = started()
    key, arn = launch_one(executor)
    described = []

    def missing(request, **_):
        described.append(1)
        return json_response({"tasks": [], "failures": [{"arn": arn, "reason": "MISSING"}]})

    executor._ecs.meta.events.register("before-send.ecs.DescribeTasks", missing)
    heartbeat_until(executor, lambda: len(described) >= 3)
    assert key not in executor.event_buffer and executor.aws_calls["RunTask"] == 1
    assert executor.tasks.get(key).arn == arn
    executor.terminate()


def test_an_old_missing_task_is_stopped_and_relaunched(ecs_env, monkeypatch):
    monkeypatch.setattr("airflow_ecs.core.task_state.MISSING_GRACE_SECONDS", 0.0)
    executor = started()
    key, arn = launch_one(executor)
    stopped: list[str] = []

    def missing(request, **_):
        return json_response({"tasks": [], "failures": [{"arn": arn, "reason": "MISSING"}]})

    executor._ecs.meta.events.register("before-send.ecs.DescribeTasks", missing)
    executor._ecs.meta.events.register(
        "before-send.ecs.StopTask", lambda request, **_: stopped.append(json.loads(request.body)["task"])
    )
    heartbeat_until(executor, lambda: key in queued_arns(executor) and stopped)
    assert executor.event_buffer[key][1] != arn  # launched again, under another ARN
    assert stopped == [arn]  # and the old one can never run beside it
    executor.terminate()


def test_pending_timeout_stops_and_fails(ecs_env):
    ecs_env.configure(pending_timeout="0.2")
    executor = started()
    key, arn = launch_one(executor)
    moto_task(arn).status = "PROVISIONING"
    heartbeat_until(executor, lambda: key in executor.event_buffer)
    assert executor.event_buffer[key][0] == TaskInstanceState.FAILED
    assert "did not reach RUNNING within pending_timeout=0.2s" in executor._task_event_logs[-1].extra
    heartbeat_until(executor, lambda: moto_task(arn).desired_status == "STOPPED")
    executor.terminate()


# --- lifecycle ---


def test_revoke_stops_the_task_and_reports_nothing(ecs_env):
    executor = started()
    key, arn = launch_one(executor)
    ti = SimpleNamespace(key=key)
    executor.revoke_task(ti=ti)
    heartbeat_until(executor, lambda: moto_task(arn).desired_status == "STOPPED")
    assert key not in executor.running and not executor.event_buffer
    executor.terminate()


def test_adoption_tracks_tasks_by_their_arn(ecs_env):
    first = started()
    key, arn = launch_one(first)
    first._shutdown_threads()  # the first scheduler dies without stopping anything

    second = started()
    adopted_ti = SimpleNamespace(
        key=key,
        external_executor_id=arn,
        dag_id=key.dag_id,
        task_id=key.task_id,
        run_id=key.run_id,
        map_index=key.map_index,
        try_number=key.try_number,
        id=uuid.uuid4(),
        queue="default",
        state=TaskInstanceState.QUEUED,
    )
    stranger = SimpleNamespace(key=key._replace(task_id="other"), external_executor_id=None)
    assert second.try_adopt_task_instances([adopted_ti, stranger]) == [stranger]
    assert key in second.running
    stop_in_moto(arn, exit_code=0)
    heartbeat_until(second, lambda: key in second.event_buffer)
    assert second.event_buffer[key] == (TaskInstanceState.SUCCESS, arn)
    second.terminate()


def test_terminate_stops_every_task(ecs_env):
    executor = started()
    arns = [launch_one(executor, task_id=f"t{i}")[1] for i in range(3)]
    executor.terminate()
    assert all(moto_task(arn).desired_status == "STOPPED" for arn in arns)


def test_end_waits_for_running_tasks_and_launches_nothing_new(ecs_env):
    ecs_env.configure(end_timeout="5")
    executor = started()
    key, arn = launch_one(executor)
    threading.Timer(0.5, lambda: stop_in_moto(arn, exit_code=0)).start()
    executor.end()
    assert executor.event_buffer[key] == (TaskInstanceState.SUCCESS, arn)
    queue_all(executor, [make_workload("late")])
    executor.trigger_tasks(10)
    executor.sync()
    # Neither launched nor failed: it stays queued in Airflow and the next scheduler launches it.
    assert not [k for k in executor.event_buffer if k.task_id == "late"]
    assert not [k for k in executor.running if k.task_id == "late"]
    assert executor.aws_calls["RunTask"] == 1


def test_sync_survives_a_broken_answer(ecs_env):
    executor = started()
    key, _arn = launch_one(executor)
    executor._ecs.meta.events.register(
        "before-send.ecs.DescribeTasks", lambda **_: json_response({"tasks": [{"no": "arn"}]})
    )
    for _ in range(5):
        executor.heartbeat()
        time.sleep(0.05)
    assert key in executor.running  # nothing crashed, nothing was decided on garbage
    executor.terminate()


def test_get_task_log_reads_the_stream_named_by_the_task_definition(ecs_env):
    executor = started()
    _key, arn = launch_one(executor)
    logs = aws.client(ecs_env.url, "logs")
    stream = f"airflow/{aws.CONTAINER}/{arn.rsplit('/', 1)[-1]}"
    logs.create_log_stream(logGroupName=aws.LOG_GROUP, logStreamName=stream)
    logs.put_log_events(
        logGroupName=aws.LOG_GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello from ECS"}],
    )
    api_side = EcsFargateExecutor()  # the api-server's instance: never start()ed
    sources, lines = api_side.get_task_log(SimpleNamespace(external_executor_id=arn), 1)
    assert lines == ["hello from ECS"] and stream in sources[0]
    executor.terminate()


def test_missing_credentials_stop_start_with_one_line_saying_where_boto3_looked(ecs_env, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(
        ExecutorStartError,
        match=r"cannot describe cluster 'airflow-test' in us-east-1: "
        r"NoCredentialsError: .*boto3 looks in the environment",
    ) as caught:
        EcsFargateExecutor().start()
    assert "\n" not in str(caught.value)


def test_credentials_that_expire_mid_run_fail_the_task_with_the_aws_message_after_bounded_retries(ecs_env):
    ecs_env.configure(max_run_task_attempts="3")
    executor = started()
    executor._ecs_launch.meta.events.register(
        "before-send.ecs.RunTask",
        lambda **_: error_response(
            400, "ExpiredTokenException", "The security token included in the request is expired"
        ),
    )
    with fast_backoff():
        workload = make_workload()
        queue_all(executor, [workload])
        heartbeat_until(executor, lambda: workload.ti.key in executor.event_buffer)
    assert executor.event_buffer[workload.ti.key][0] == TaskInstanceState.FAILED
    assert executor.aws_calls["RunTask"] == 3
    (entry,) = [e for e in executor._task_event_logs if e.event == "ecs run_task failed"]
    assert "ExpiredTokenException" in entry.extra and "gave up after 3 attempts" in entry.extra
    executor.terminate()


@pytest.mark.parametrize(
    ("tokens_ahead", "concurrency", "backlog", "wanted"),
    [(200.0, 10, 0, 210), (100.4, 10, 105, 6), (0.0, 10, 10, 0), (0.0, 10, 25, 0), (0.2, 1, 0, 2)],
)
def test_requests_are_built_as_far_ahead_as_the_rate_limit_lets_them_out(tokens_ahead, concurrency, backlog, wanted):
    assert build_ahead(tokens_ahead, concurrency, backlog) == wanted


def test_a_burst_is_built_only_as_fast_as_it_can_be_launched(ecs_env, monkeypatch):
    monkeypatch.setenv("AIRFLOW__ECS_FARGATE__LAUNCH_RATE", "1")
    monkeypatch.setenv("AIRFLOW__ECS_FARGATE__LAUNCH_BURST", "2")
    monkeypatch.setenv("AIRFLOW__ECS_FARGATE__LAUNCH_CONCURRENCY", "2")
    executor = started(parallelism=100)
    executor.build_budget_seconds = 10.0  # the look-ahead alone bounds the builds
    queue_all(executor, [make_workload(f"t{i}") for i in range(40)])
    for _ in range(3):
        executor.heartbeat()
    # 2 tokens now, 1/s for 5 s, one per launch thread: 9 built at first; later heartbeats build one for each
    # launch sent since. The others wait as workloads, not requests.
    assert len(executor.running) == 40
    assert len(executor.tasks) >= 9
    assert len(executor.tasks) - executor.aws_calls.get("RunTask", 0) <= 9
    executor.terminate()
