"""Issue #13's executor-level cases against moto's ECS server, each written to fail on the executor before
the tracking state machine (their pure counterparts are in tests/test_tracking.py)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from airflow.utils.state import TaskInstanceState

from tests.executor_harness import (
    heartbeat_until,
    launch_one,
    make_workload,
    moto_task,
    queue_all,
    queued_arns,
    started,
    stop_in_moto,
)


def same_try_again(workload):
    """The same task instance try, queued again (a reschedule sensor, a resumed deferral): same key, same id."""
    again = make_workload(workload.ti.task_id)
    again.ti.id = workload.ti.id
    return again


def run_task_bodies(executor) -> list[dict]:
    sent: list[dict] = []
    executor._ecs_launch.meta.events.register(
        "before-send.ecs.RunTask", lambda request, **_: sent.append(json.loads(request.body))
    )
    return sent


def test_a_requeued_try_is_never_credited_with_its_previous_ecs_tasks_exit(ecs_env):
    executor = started()
    first = make_workload("sensor")
    queue_all(executor, [first])
    heartbeat_until(executor, lambda: first.ti.key in queued_arns(executor))
    old_arn = executor.event_buffer.pop(first.ti.key)[1]
    moto_task(old_arn).status = "RUNNING"
    heartbeat_until(executor, lambda: first.ti.key in executor.event_buffer)
    executor.event_buffer.clear()
    # The sensor rescheduled itself; Airflow queues the same try again before ECS reports the old task STOPPED.
    queue_all(executor, [same_try_again(first)])
    heartbeat_until(executor, lambda: first.ti.key in queued_arns(executor))
    new_arn = executor.event_buffer.pop(first.ti.key)[1]
    assert new_arn != old_arn
    stop_in_moto(old_arn, exit_code=0)  # the old container's exit 0, seen now
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        executor.heartbeat()
        assert first.ti.key not in executor.event_buffer, "the old task's result was reported for the new attempt"
        time.sleep(0.05)
    assert executor.tasks.arns() == [new_arn]  # the new task is tracked, the old ARN is no longer swept
    stop_in_moto(new_arn, exit_code=0)
    heartbeat_until(executor, lambda: first.ti.key in executor.event_buffer)
    assert executor.event_buffer[first.ti.key] == (TaskInstanceState.SUCCESS, new_arn)
    executor.terminate()


def test_revoke_then_requeue_starts_one_ecs_task_not_two(ecs_env):
    ecs_env.configure(launch_rate="0.5", launch_burst="1", launch_concurrency="4")
    executor = started()
    sent = run_task_bodies(executor)
    queue_all(executor, [make_workload("first")])  # takes the only token: the next launch waits about 2 s
    stuck = make_workload("stuck")
    queue_all(executor, [stuck])
    executor.heartbeat()
    time.sleep(0.2)  # its launch thread is now waiting for a rate-limit token
    executor.revoke_task(ti=SimpleNamespace(key=stuck.ti.key))
    queue_all(executor, [same_try_again(stuck)])
    heartbeat_until(executor, lambda: stuck.ti.key in queued_arns(executor), timeout=30)
    time.sleep(2.5)  # a revoked launch would have had its token by now
    executor.heartbeat()
    mine = [body for body in sent if body["startedBy"] == str(stuck.ti.id)]
    assert len(mine) == 1, f"{len(mine)} RunTask calls for one try"
    executor.terminate()


def test_a_wrong_shaped_executor_config_fails_that_task_with_one_event_log_line(ecs_env):
    executor = started()
    bad = [
        make_workload("dict_overrides", executor_config={"overrides": {"containerOverrides": {"name": "x"}}}),
        make_workload("list_overrides", executor_config={"run_task_kwargs": {"overrides": []}}),
    ]
    good = make_workload("good")
    queue_all(executor, [*bad, good])
    heartbeat_until(executor, lambda: len(executor.event_buffer) == 3)
    states = {key.task_id: state for key, (state, _) in executor.event_buffer.items()}
    assert states == {
        "dict_overrides": TaskInstanceState.FAILED,
        "list_overrides": TaskInstanceState.FAILED,
        "good": TaskInstanceState.QUEUED,
    }
    for workload in bad:
        (line,) = [e for e in executor._task_event_logs if e.task_id == workload.ti.task_id]
        assert line.event == "ecs task not launched" and "\n" not in line.extra
    executor.terminate()


def test_end_records_the_tasks_launched_while_it_shut_down(ecs_env, monkeypatch):
    executor = started()
    executor.job_id = 1  # inside a scheduler: end() writes to Airflow's database
    recorded: dict = {}
    monkeypatch.setattr("airflow_ecs.glue.airflow_compat.save_external_executor_ids", recorded.update)
    workload = make_workload("late")
    sent = threading.Event()
    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", lambda **_: sent.set())
    queue_all(executor, [workload])
    executor.heartbeat()
    # The launch is in flight when the scheduler stops: sent (one still waiting for a thread is dropped by end()).
    assert sent.wait(10)
    executor.ecs_config = executor.ecs_config.__class__(**{**executor.ecs_config.__dict__, "end_timeout": 0.0})
    executor.end()
    assert list(recorded) == [workload.ti.key] and recorded[workload.ti.key].startswith("arn:aws:ecs:")


def test_adoption_finds_a_launch_that_was_never_recorded_by_its_started_by(ecs_env):
    first = started()
    key, arn = launch_one(first)
    ti_id = moto_task(arn).started_by
    first._shutdown_threads()  # died before the ARN reached the database
    second = started()
    ti = SimpleNamespace(
        key=key,
        external_executor_id=None,
        dag_id=key.dag_id,
        task_id=key.task_id,
        run_id=key.run_id,
        map_index=key.map_index,
        try_number=key.try_number,
        id=uuid.UUID(ti_id),
        queue="default",
        state=TaskInstanceState.QUEUED,
    )
    stranger = SimpleNamespace(
        key=key._replace(task_id="other"),
        external_executor_id=None,
        dag_id=key.dag_id,
        task_id="other",
        run_id=key.run_id,
        map_index=-1,
        try_number=1,
        id=uuid.uuid4(),
        queue="default",
        state=TaskInstanceState.QUEUED,
    )
    assert second.try_adopt_task_instances([ti, stranger]) == [stranger]
    assert second.tasks.get(key).arn == arn
    stop_in_moto(arn, exit_code=0)
    heartbeat_until(second, lambda: key in second.event_buffer)
    assert second.event_buffer[key] == (TaskInstanceState.SUCCESS, arn)
    second.terminate()


def shipped_template_with(tmp_path, old: str, new: str):
    from airflow_ecs.core.run_task_request import default_template_path

    source = default_template_path().read_text()
    assert old in source
    path = tmp_path / "run_task.json.j2"
    path.write_text(source.replace(old, new))
    return path


def test_start_refuses_a_template_asking_for_two_containers_per_try(ecs_env, tmp_path):
    from airflow_ecs.executor import ExecutorStartError

    ecs_env.configure(run_task_template=str(shipped_template_with(tmp_path, '"count": 1', '"count": 2')))
    with pytest.raises(
        ExecutorStartError,
        match=r"count is 2 \(template .*run_task.json.j2:\d+: \"count\": 2\): "
        r"it must be 1",
    ) as caught:
        started()
    assert "\n" not in str(caught.value)


def test_start_refuses_a_template_of_the_wrong_shape_in_one_line(ecs_env, tmp_path):
    from airflow_ecs.executor import ExecutorStartError

    template = shipped_template_with(tmp_path, '"containerOverrides": [', '"containerOverrides": [[')
    template.write_text(template.read_text().replace("}\n    ]\n  },", "}\n    ]]\n  },"))
    ecs_env.configure(run_task_template=str(template))
    with pytest.raises(ExecutorStartError, match=r"wrong shape.*containerOverrides must be a list") as caught:
        started()
    assert "\n" not in str(caught.value)


def test_a_profile_with_its_own_capacity_never_falls_back_to_the_sections(ecs_env):
    import json as _json

    ecs_env.configure(
        capacity_provider_strategy="FARGATE_SPOT:1",
        launch_type="",
        fallback_capacity_provider_strategy="FARGATE:1",
        profiles=_json.dumps({"gpu": {"queues": ["gpu"], "launch_type": "EC2"}, "spot": {"queues": ["spot"]}}),
    )
    executor = started()
    assert executor.profile_config("gpu")[1].fallback_capacity_provider_strategy == ()
    assert [i.capacity_provider for i in executor.profile_config("spot")[1].fallback_capacity_provider_strategy] == [
        "FARGATE"
    ]
    executor.terminate()


def test_a_fallback_to_ec2_capacity_drops_platform_version():
    from airflow_ecs.core.run_task_request import TaskIdentity, with_launch

    request = {"cluster": "c", "taskDefinition": "t", "launchType": "FARGATE", "platformVersion": "LATEST"}
    ident = TaskIdentity("d", "t", "r", -1, 1, "id")
    on_ec2 = with_launch(request, ident, 1, [{"capacityProvider": "gpu-ec2", "weight": 1, "base": 0}])
    assert "platformVersion" not in on_ec2 and "launchType" not in on_ec2
    on_fargate = with_launch(request, ident, 1, [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}])
    assert on_fargate["platformVersion"] == "LATEST"


def test_get_task_log_reads_only_what_is_new_at_each_refresh(ecs_env):
    from airflow_ecs.executor import EcsFargateExecutor
    from devtools import aws_fixtures as aws

    executor = started()
    _, arn = launch_one(executor)
    logs = aws.client(ecs_env.url, "logs")
    group, stream = aws.LOG_GROUP, f"airflow/{aws.CONTAINER}/{arn.rsplit('/', 1)[-1]}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)

    def put(*messages: str) -> None:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000) + i, "message": m} for i, m in enumerate(messages)],
        )

    api_side = EcsFargateExecutor()  # the api-server's instance: never start()ed
    read: list[dict] = []
    put("one", "two")
    ti = SimpleNamespace(external_executor_id=arn)
    assert api_side.get_task_log(ti, 1)[1] == ["one", "two"]
    api_side._logs.meta.events.register(
        "provide-client-params.logs.GetLogEvents", lambda params, **_: read.append(params)
    )
    api_side._ecs.meta.events.register(
        "provide-client-params.ecs.DescribeTasks", lambda **_: read.append({"describe": 1})
    )
    put("three")
    assert api_side.get_task_log(ti, 1)[1] == ["one", "two", "three"]
    assert read and all("nextToken" in params for params in read), (
        read
    )  # from where the last refresh stopped, never the head
    assert not any("describe" in params for params in read)  # the stream is known: no DescribeTasks per refresh
    executor.terminate()


def test_a_retry_after_ecs_answered_failures_takes_a_new_client_token(ecs_env):
    from tests.executor_harness import fast_backoff, json_response

    executor = started()
    tokens: list[str] = []

    def agent_failure_once(request, **_):
        tokens.append(json.loads(request.body)["clientToken"])
        if len(tokens) == 1:  # ECS answered: nothing placed; it may replay this answer for the same token
            return json_response({"tasks": [], "failures": [{"reason": "AGENT", "detail": "agent disconnected"}]})
        return None

    executor._ecs_launch.meta.events.register("before-send.ecs.RunTask", agent_failure_once)
    with fast_backoff():
        queue_all(executor, [make_workload()])
        heartbeat_until(executor, lambda: queued_arns(executor), timeout=30)
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    executor.terminate()


def jwt_expiring_in(seconds: float) -> str:
    import base64

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS512', 'typ': 'JWT'})}.{part({'exp': int(time.time() + seconds)})}.c2lnbmF0dXJl"


def test_a_token_about_to_expire_never_starts_a_container(ecs_env):
    executor = started()
    sent = run_task_bodies(executor)
    late, fresh = make_workload("late"), make_workload("fresh")
    late.token, fresh.token = jwt_expiring_in(60), jwt_expiring_in(600)
    queue_all(executor, [late, fresh])
    heartbeat_until(executor, lambda: len(executor.event_buffer) == 2)
    assert executor.event_buffer[late.ti.key][0] == TaskInstanceState.FAILED
    assert executor.event_buffer[fresh.ti.key][0] == TaskInstanceState.QUEUED
    assert [body["startedBy"] for body in sent] == [str(fresh.ti.id)]
    (line,) = [e for e in executor._task_event_logs if e.task_id == "late"]
    assert line.event == "ecs task token expiring" and "Airflow retries it with a fresh token" in line.extra
    assert late.token not in line.extra
    executor.terminate()
