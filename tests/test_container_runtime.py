"""The container runtime's decisions, without podman: its argv, the environment's path into the container,
where a secret comes from, what an exit status means, and which runtime ``auto`` picks.

The same behaviour against real containers is tests/e2e/test_containers.py.
"""

from __future__ import annotations

import pytest

from airflow_ecs.local import containers
from airflow_ecs.local.containers import (
    ContainerRuntimeUnavailable,
    ContainerSpec,
    choose_runtime,
    container_name,
    cpu_units,
    judge_exit,
    oom_kills,
    resolve_secrets,
    run_argv,
    secret_source,
    split_environment,
)
from airflow_ecs.local.runtime import container_command

TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/airflow-ecs-local/0123456789abcdef"


def spec(**changes) -> ContainerSpec:
    values = dict(
        name="airflow-ecs-run1-0123456789abcdef",
        image="local/airflow-worker:latest",
        command=["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"],
        environment={"AIRFLOW__CORE__LOAD_EXAMPLES": "False"},
        memory_mib=512,
        cpu_units=256,
        labels={"airflow-ecs.local": "run1"},
        mounts={},
    )
    values.update(changes)
    return ContainerSpec(**values)


def test_the_container_runs_as_ecs_would_run_it():
    argv, environment = run_argv(spec(mounts={"/srv/dags": "/opt/airflow/dags"}))
    assert argv == [
        "podman",
        "run",
        "--rm",
        "--name",
        "airflow-ecs-run1-0123456789abcdef",
        "--pull=never",
        "--network=host",
        "--init",
        "--label",
        "airflow-ecs.local=run1",
        "--memory=512m",
        "--memory-swap=512m",
        "--cpus=0.25",
        "--volume",
        "/srv/dags:/opt/airflow/dags:ro",
        "--env",
        "AIRFLOW__CORE__LOAD_EXAMPLES",
        "local/airflow-worker:latest",
        "python",
        "-m",
        "airflow.sdk.execution_time.execute_workload",
        "--json-string",
        "{}",
    ]
    assert environment == {"AIRFLOW__CORE__LOAD_EXAMPLES": "False"}


def test_no_limits_means_no_limit_flags():
    argv, _ = run_argv(spec(memory_mib=None, cpu_units=None))
    assert not [a for a in argv if a.startswith(("--memory", "--cpus"))]


@pytest.mark.parametrize(("units", "flag"), [(256, "0.25"), (512, "0.5"), (1024, "1"), (4096, "4"), (16384, "16")])
def test_cpu_units_become_whole_or_fractional_cpus(units, flag):
    assert f"--cpus={flag}" in run_argv(spec(cpu_units=units))[0]


def test_a_value_never_appears_on_podmans_command_line_unless_podman_reads_that_name():
    ordinary = {"AIRFLOW__CORE__FERNET_KEY": "s3cret=with spaces", "EMPTY": "", "MULTI": "line1\nline2"}
    environment = {**ordinary, **{name: f"value of {name}" for name in containers.PODMAN_OWN_ENVIRONMENT}}
    arguments, inherited = split_environment(environment)
    assert inherited == ordinary
    for name, value in ordinary.items():
        assert arguments[arguments.index(name) - 1] == "--env" and not any(value in a for a in arguments if value)
    for name in containers.PODMAN_OWN_ENVIRONMENT:
        assert f"{name}=value of {name}" in arguments
    assert len(arguments) == 2 * len(environment)


def test_a_task_path_does_not_become_podmans_path():
    arguments, inherited = split_environment({"PATH": "/task/bin", "SECRET": "hunter2"})
    assert arguments == ["--env", "PATH=/task/bin", "--env", "SECRET"]
    assert inherited == {"SECRET": "hunter2"}


def test_each_runtime_names_its_containers_apart():
    assert container_name("run1", TASK_ARN) == "airflow-ecs-run1-0123456789abcdef"
    assert container_name("run2", TASK_ARN) != container_name("run1", TASK_ARN)


def test_the_container_keeps_pythons_name_for_the_image_to_resolve():
    definition = {"name": "w", "command": ["python", "-c", "pass"]}
    assert container_command(definition, {}, local_python=False)[1] == ["python", "-c", "pass"]
    assert container_command(definition, {})[1][0] != "python"  # the process runtime: this interpreter


def test_cpu_comes_from_the_override_then_the_task_then_the_container():
    assert cpu_units("1024", {"cpu": 128}, {"cpu": "256"}) == 256
    assert cpu_units("1024", {"cpu": 128}, {}) == 1024
    assert cpu_units(None, {"cpu": 128}, {}) == 128
    assert cpu_units(None, {}, {}) is None


@pytest.mark.parametrize(
    ("value_from", "source"),
    [
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            ("secretsmanager", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", None),
        ),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::",
            ("secretsmanager", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", "password"),
        ),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/airflow/fernet", ("ssm", "/airflow/fernet", None)),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/fernet", ("ssm", "fernet", None)),
        ("/airflow/fernet", ("ssm", "/airflow/fernet", None)),
    ],
)
def test_secrets_come_from_where_ecs_would_read_them(value_from, source):
    assert secret_source(value_from) == source


def test_secrets_are_read_from_the_local_secrets_manager_and_parameter_store():
    import boto3
    from moto import mock_aws

    with mock_aws():

        def clients(service):
            return boto3.client(service, region_name="us-east-1")

        arn = clients("secretsmanager").create_secret(Name="db", SecretString='{"password": "pw1"}')["ARN"]
        clients("ssm").put_parameter(Name="/airflow/fernet", Value="k3y", Type="SecureString")
        values = resolve_secrets(
            [
                {"name": "DB_PASSWORD", "valueFrom": f"{arn}:password::"},
                {"name": "FERNET", "valueFrom": "/airflow/fernet"},
            ],
            clients,
        )
        assert values == {"DB_PASSWORD": "pw1", "FERNET": "k3y"}
        with pytest.raises(ValueError, match="unable to pull secrets") as error:
            resolve_secrets([{"name": "MISSING", "valueFrom": "/not/there"}], clients)
    assert str(error.value) == (
        "ResourceInitializationError: unable to pull secrets: MISSING from /not/there: ParameterNotFound"
    )


@pytest.mark.parametrize(
    ("code", "stop_requested", "last_line", "expected"),
    [
        (0, False, "done", containers.Exit(0)),
        (3, False, "crashing", containers.Exit(3)),
        (143, True, "", containers.Exit(143)),
        (137, True, "", containers.Exit(137)),  # our SIGKILL after the stop timeout
        (
            137,
            False,
            "",
            containers.Exit(137, container_reason="OutOfMemoryError: Container killed due to memory usage"),
        ),
        (127, False, "sh: 1: nope: not found", containers.Exit(127)),  # the task's own shell said so
        (
            125,
            False,
            "Error: local/airflow-worker:latest: image not known",
            containers.Exit(
                None,
                stop_code="TaskFailedToStart",
                stop_reason="CannotPullContainerError: local/airflow-worker:latest: image not known",
            ),
        ),
        (
            127,
            False,
            'Error: runc: exec: "/nonexistent/binary": stat /nonexistent/binary: no such file or directory',
            containers.Exit(
                None,
                stop_code="TaskFailedToStart",
                stop_reason='CannotStartContainerError: runc: exec: "/nonexistent/binary": stat '
                "/nonexistent/binary: no such file or directory",
            ),
        ),
    ],
)
def test_what_an_exit_status_means(code, stop_requested, last_line, expected):
    assert judge_exit(code, stop_requested=stop_requested, last_line=last_line) == expected


def test_process_needs_nothing_and_auto_falls_back_saying_why(monkeypatch):
    monkeypatch.setattr(containers.shutil, "which", lambda name: None)
    assert choose_runtime("process") == ("process", None)
    runtime, why = choose_runtime("auto")
    assert runtime == "process" and why.startswith("podman is not installed: `make worker-image`")
    with pytest.raises(ContainerRuntimeUnavailable, match="podman is not installed"):
        choose_runtime("container")
    with pytest.raises(ValueError, match="--runtime 'docker': expected container, process or auto"):
        choose_runtime("docker")


@pytest.mark.parametrize(
    ("text", "kills"),
    [
        ("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", 2),  # cgroup v1 memory.oom_control
        ("low 0\nhigh 0\nmax 14\noom 1\noom_kill 1\n", 1),  # cgroup v2 memory.events
        ("oom_kill_disable 0\nunder_oom 0\n", 0),  # a kernel that does not count them
        ("", 0),
    ],
)
def test_the_oom_killers_count_is_read_from_either_cgroup_version(text, kills):
    assert oom_kills(text) == kills


def test_the_containers_cgroup_is_looked_for_in_podmans_layouts(tmp_path):
    files = containers.cgroup_memory_files("abc", root=tmp_path)
    assert tmp_path / "memory/libpod_parent/libpod-abc/memory.oom_control" in files  # v1, cgroupfs
    assert tmp_path / "memory/machine.slice/libpod-abc.scope/memory.oom_control" in files  # v1, systemd
    assert tmp_path / "libpod_parent/libpod-abc/memory.events" in files  # v2, cgroupfs
    assert tmp_path / "machine.slice/libpod-abc.scope/memory.events" in files  # v2, systemd


def test_what_podman_leaves_in_its_working_directory_stays_out_of_the_users(tmp_path, monkeypatch):
    """conmon creates an empty file named oom in its working directory when the OOM killer hits the container:
    with podman started where the user is, every OOM test left one in the checkout."""
    fake = tmp_path / "bin" / "podman"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n: > oom\n")  # as conmon does, relative to the directory it inherited
    fake.chmod(0o755)
    user = tmp_path / "checkout"
    user.mkdir()
    monkeypatch.chdir(user)
    runner = containers.ContainerRunner(podman=str(fake))
    monkeypatch.setattr(containers, "remove_labelled", lambda run_id, podman: None)  # no real podman to ask
    try:
        assert runner.start(runner.spec(TASK_ARN, "image", ["true"], {}, 128, 256)).wait(timeout=30) == 0
    finally:
        runner.remove_all()
    assert list(user.iterdir()) == []
