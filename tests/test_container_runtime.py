"""The container runtime's decisions, without podman: its argv, the environment's path into the container,
where a secret comes from, how a container's end is read from podman's record of it, and which runtime
``auto`` picks; and the runtime's end of a task against a fake podman that fails after the container ran.

The same behaviour against real containers is tests/e2e/test_containers.py.
"""

from __future__ import annotations

import json
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_ecs.local import containers
from airflow_ecs.local.containers import (
    AskAgain,
    ContainerRuntimeUnavailable,
    ContainerSpec,
    Exit,
    Inspection,
    choose_runtime,
    container_name,
    cpu_units,
    judge_end,
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


OOM = "OutOfMemoryError: Container killed due to memory usage"
NEVER = "0001-01-01T00:00:00Z"


def state(status="exited", exit_code=0, started="2026-12-01T23:56:04.695395715Z", error="", oom=False, **more):
    """The State podman 4.3's ``podman container inspect`` gives (as read on this machine, trimmed)."""
    return {
        "Status": status,
        "Running": status == "running",
        "OOMKilled": oom,
        "ExitCode": exit_code,
        "Error": error,
        "StartedAt": started,
        "FinishedAt": NEVER if status == "running" else "2026-12-01T23:56:05.968402281Z",
        **more,
    }


def found(**changes) -> Inspection:
    return Inspection(0, json.dumps([{"Id": "b15f1aef8bc4", "Name": "c", "State": state(**changes)}]), "")


NO_SUCH = Inspection(125, "[]\n", "Error: inspecting object: no such container airflow-ecs-run1-0123456789abcdef\n")
PODMAN_LOST_IT = "Error: OCI runtime error: runc: exec failed: container does not exist"  # any podman error


@pytest.mark.parametrize(
    ("code", "stop_requested", "last_line", "inspection", "expected"),
    [
        (0, False, "done", found(exit_code=0), Exit(0)),
        (3, False, "crashing", found(exit_code=3), Exit(3)),
        # The defect: podman failed after the container ran; the container's own code is the task's.
        (125, False, PODMAN_LOST_IT, found(exit_code=7), Exit(7)),
        (126, False, PODMAN_LOST_IT, found(exit_code=0), Exit(0)),
        (127, False, PODMAN_LOST_IT, found(exit_code=137), Exit(137, container_reason=OOM)),
        (-9, False, "", found(exit_code=3), Exit(3)),  # podman run itself killed after the container ended
        (143, True, "", found(exit_code=143), Exit(143)),
        (137, True, "", found(exit_code=137), Exit(137)),  # our SIGKILL after the stop timeout
        (137, False, "", found(exit_code=137), Exit(137, container_reason=OOM)),  # OOMKilled=false: 137 decides
        (0, False, "", found(exit_code=0, oom=True), Exit(0, container_reason=OOM)),  # a host that says so
        (1, False, "", found(exit_code=1, error="cleanup: unmounting failed"), Exit(1)),  # podman's, after it ran
        (1, False, "ERROR (catatonit:6): failed to exec pid1", found(exit_code=1), Exit(1)),  # --init's own exit
        (
            125,
            False,
            "Error: local/no-such-image:1: image not known",
            NO_SUCH,
            Exit(
                None,
                stop_code="TaskFailedToStart",
                stop_reason="CannotPullContainerError: local/no-such-image:1: image not known",
            ),
        ),
        (
            125,
            False,
            "Error: statfs /srv/dags: no such file or directory",
            NO_SUCH,
            Exit(
                None,
                stop_code="TaskFailedToStart",
                stop_reason="CannotStartContainerError: statfs /srv/dags: no such file or directory",
            ),
        ),
        (
            0,
            False,
            "done",
            NO_SUCH,
            Exit(
                None,
                stop_code="TaskFailedToStart",
                stop_reason="CannotStartContainerError: podman run exited 0 and left no container",
            ),
        ),
        (  # created, never started: what runc's create failure leaves (State.Error is empty in podman 4.3)
            127,
            False,
            (
                'Error: runc: runc create failed: unable to start container process: exec: "/nope": stat /nope: '
                "no such file or directory"
            ),
            found(status="created", started=NEVER),
            Exit(
                None,
                stop_code="TaskFailedToStart",
                stop_reason="CannotStartContainerError: runc: runc create failed: unable to start container process: "
                'exec: "/nope": stat /nope: no such file or directory',
            ),
        ),
        (
            126,
            False,
            "Error: unable to find user nosuchuser",
            found(status="created", started=NEVER, error="unable to find user nosuchuser: no matching entries"),
            Exit(
                None,
                stop_code="TaskFailedToStart",
                stop_reason="CannotStartContainerError: unable to find user nosuchuser: no matching entries",
            ),
        ),
        (
            126,
            False,
            "",
            found(status="created", started=NEVER),
            Exit(
                None,
                stop_code="TaskFailedToStart",
                stop_reason="CannotStartContainerError: podman run exited 126 before the container started",
            ),
        ),
        (-9, False, "", found(status="running", started="2026-12-01T23:56:17Z"), AskAgain(0.5, "", running=True)),
        (125, False, PODMAN_LOST_IT, found(status="stopping"), AskAgain(0.5, "", running=True)),
        (125, False, PODMAN_LOST_IT, Inspection(None, "", "TimeoutExpired: timed out"), AskAgain(1.0, "")),
        (125, False, PODMAN_LOST_IT, Inspection(125, "", "Error: database is locked"), AskAgain(1.0, "")),
        (3, False, "", Inspection(0, "not json", ""), AskAgain(1.0, "")),
        (3, False, "", Inspection(0, "[{}]", ""), AskAgain(1.0, "")),
        (3, False, "", Inspection(0, json.dumps([{"State": state(exit_code="3")}]), ""), AskAgain(1.0, "")),
        (3, False, "", Inspection(0, json.dumps([{"State": state(started=None)}]), ""), AskAgain(1.0, "")),
    ],
)
def test_how_a_container_ended_is_read_from_podmans_record_of_it(code, stop_requested, last_line, inspection, expected):
    judged = judge_end(code, stop_requested=stop_requested, last_line=last_line, inspection=inspection)
    if isinstance(expected, AskAgain):  # the reason is for a person: only its being there is asserted
        assert isinstance(judged, AskAgain) and judged.why
        assert (judged.seconds, judged.running) == (expected.seconds, expected.running)
    else:
        assert judged == expected


def test_an_unreadable_record_is_asked_for_five_times_then_podman_runs_status_is_all_there_is():
    unreadable = Inspection(125, "", "Error: database is locked")
    for attempt in (1, 2, 3, 4):
        judged = judge_end(125, stop_requested=False, last_line="Error: x", inspection=unreadable, attempts=attempt)
        assert isinstance(judged, AskAgain) and "database is locked" in judged.why
    assert judge_end(3, stop_requested=False, last_line="", inspection=unreadable, attempts=5) == Exit(3)
    assert judge_end(125, stop_requested=False, last_line="Error: x", inspection=unreadable, attempts=5) == Exit(
        None, stop_code="TaskFailedToStart", stop_reason="CannotStartContainerError: x"
    )


def test_one_answer_about_many_containers_is_each_ones_own():
    """podman 4.3 lists those it has and says, on stderr with exit 125, which it has not (read on this machine)."""
    answer = Inspection(
        125,
        json.dumps([{"Name": "c-1", "State": state(exit_code=0)}, {"Name": "c-3", "State": state(exit_code=4)}]),
        "error inspecting object: no such container c-2\nError: inspecting object: no such container c-22\n",
    )
    answers = containers.inspections_by_name(["c-1", "c-2", "c-3", "c-22", "c-4"], answer)

    def judged(name):
        return judge_end(125, stop_requested=False, last_line=PODMAN_LOST_IT, inspection=answers[name])

    assert (judged("c-1"), judged("c-3")) == (Exit(0), Exit(4))
    assert judged("c-2").stop_code == judged("c-22").stop_code == "TaskFailedToStart"
    assert isinstance(judged("c-4"), AskAgain)  # the answer says nothing of it: asked again


@pytest.mark.parametrize(
    "answer",
    [
        Inspection(None, "", "TimeoutExpired: timed out after 60 seconds"),
        Inspection(125, "", "Error: database is locked"),
        Inspection(0, "not json", ""),
    ],
)
def test_an_answer_about_many_that_cannot_be_read_is_asked_for_again_for_each(answer):
    answers = containers.inspections_by_name(["c-1", "c-2"], answer)
    assert set(answers) == {"c-1", "c-2"}
    for inspection in answers.values():
        judged = judge_end(0, stop_requested=False, last_line="", inspection=inspection)
        assert isinstance(judged, AskAgain) and not judged.running


@given(
    names=st.lists(st.text(min_size=1, max_size=8), max_size=6, unique=True),
    answer=st.builds(Inspection, st.one_of(st.none(), st.integers(-9, 255)), st.text(), st.text()),
)
def test_each_container_asked_about_gets_an_answer(names, answer):
    assert set(containers.inspections_by_name(names, answer)) == set(names)


codes = st.integers(min_value=-64, max_value=255)
lines = st.one_of(st.text(max_size=40), st.text(max_size=40).map(lambda text: "Error: " + text))


@given(code=codes, stop_requested=st.booleans(), last_line=lines, exit_code=st.integers(0, 255), error=st.text())
def test_a_container_that_ran_reports_its_own_exit_code_whatever_podman_run_said(
    code, stop_requested, last_line, exit_code, error
):
    judged = judge_end(
        code, stop_requested=stop_requested, last_line=last_line, inspection=found(exit_code=exit_code, error=error)
    )
    assert isinstance(judged, Exit) and judged.exit_code == exit_code and judged.stop_code is None
    assert (judged.container_reason == OOM) == (exit_code == 137 and not stop_requested)


@given(code=codes, stop_requested=st.booleans(), last_line=lines, created=st.booleans(), error=st.text())
def test_a_container_that_never_started_or_is_not_there_failed_to_start_with_podmans_message(
    code, stop_requested, last_line, created, error
):
    inspection = found(status="created", started=NEVER, error=error) if created else NO_SUCH
    judged = judge_end(code, stop_requested=stop_requested, last_line=last_line, inspection=inspection)
    assert isinstance(judged, Exit) and judged.exit_code is None and judged.stop_code == "TaskFailedToStart"
    podmans = last_line[len("Error: ") :] if last_line.startswith("Error: ") else ""
    if created:  # State.Error first: podman's own record of why
        message = error or podmans or f"podman run exited {code} before the container started"
    else:
        message = podmans or f"podman run exited {code} and left no container"
    assert judged.stop_reason.split(": ", 1)[1] == message


@given(
    code=codes,
    stop_requested=st.booleans(),
    last_line=lines,
    attempts=st.integers(1, 10),
    answer=st.one_of(
        st.builds(Inspection, st.one_of(st.none(), st.integers(-9, 255)), st.text(), st.text()),
        st.builds(
            lambda value: Inspection(0, json.dumps(value), ""),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(
                        st.sampled_from(["State", "Status", "Running", "ExitCode", "StartedAt", "Error", "OOMKilled"]),
                        inner,
                        max_size=5,
                    )
                ),
                max_leaves=12,
            ),
        ),
    ),
)
def test_any_answer_of_podmans_is_an_end_or_a_question_again_never_an_exception(
    code, stop_requested, last_line, attempts, answer
):
    judged = judge_end(code, stop_requested=stop_requested, last_line=last_line, inspection=answer, attempts=attempts)
    assert isinstance(judged, (Exit, AskAgain))
    if isinstance(judged, AskAgain) and not judged.running:
        assert attempts < 5  # an unreadable answer is asked for again only so often


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


# A podman that fails as podman once did under load (#20): the container runs, here as a local process of the
# command, and ends; then `podman run` exits 125 with an error line of its own. What it records of each
# container, which `podman container inspect` answers and `podman rm` removes, is a file in `containers/`.
# The task's FAKE_PODMAN (it reaches podman's environment as every task variable does) says what happens.
FAKE_PODMAN = """#!{python}
import json, os, subprocess, sys, time
from pathlib import Path

here = Path(__file__).parent
records = here / "containers"
records.mkdir(exist_ok=True)
verb, args = sys.argv[1], sys.argv[2:]


def state(status, code=0):
    started = "0001-01-01T00:00:00Z" if status == "created" else "2026-12-01T23:56:04Z"
    return {{"Status": status, "Running": status == "running", "ExitCode": code, "OOMKilled": False,
             "Error": "", "StartedAt": started}}


def record(name, status, code=0, gate=False):
    (records / name).write_text(json.dumps([{{"Name": name, "Gate": gate, "State": state(status, code)}}]))


if verb == "run":
    at, name = 0, ""
    while args[at].startswith("--"):
        name = args[at + 1] if args[at] == "--name" else name
        at += 2 if args[at] in ("--name", "--cidfile", "--label", "--volume", "--env") else 1
    command, how = args[at + 1 :], os.environ.get("FAKE_PODMAN", "")
    if how == "no-container":
        print("Error: fake podman could not create the container", flush=True)
        sys.exit(125)
    if how == "outlives-podman-run":  # podman run goes away; the container runs on and ends later
        record(name, "running")
        subprocess.Popen([sys.executable, __file__, "supervise", name, *command], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        code = subprocess.call(command)
        record(name, "exited", code, gate=how == "inspect-waits-for-gate")
    print("Error: fake podman lost track of the container", flush=True)
    sys.exit(125)
elif verb == "supervise":
    record(args[0], "exited", subprocess.call(args[1:]))
elif verb == "container" and args[0] == "inspect":  # as podman 4.3: those it has, an error line for each not
    answer, deadline = [], time.monotonic() + 100  # longer than the test waits for the other task
    for name in args[1:]:
        if not (records / name).exists():
            print(f"Error: inspecting object: no such container {{name}}", file=sys.stderr)
            continue
        answer += json.loads((records / name).read_text())
        while answer[-1]["Gate"] and not (here / "gate").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # held until the test opens the gate: a slow podman
    print(json.dumps(answer))
    sys.exit(0 if len(answer) == len(args) - 1 else 125)
elif verb == "ps":
    print("\\n".join(path.name for path in records.iterdir()))
elif verb == "rm":  # as podman 4.3: with --force, one name not there and none is removed, silently, exit 0
    names = [name for name in args if not name.startswith("--")]
    if all((records / name).exists() for name in names):
        for name in names:
            (records / name).unlink()
            print(name)
"""


@pytest.fixture(scope="module")
def fake_podman(tmp_path_factory):
    """The local ECS whose container runtime runs the fake podman above; (the local ECS, podman's records)."""
    from airflow_ecs.local.runtime import LocalRuntime
    from airflow_ecs.local.server import LocalEcs

    home = tmp_path_factory.mktemp("fake-podman")
    podman = home / "podman"
    podman.write_text(FAKE_PODMAN.format(python=sys.executable))
    podman.chmod(0o755)
    (home / "containers").mkdir()
    with LocalEcs(port=0, start_delay=0.1, max_concurrent=4, stop_timeout=1.0) as ecs:
        ecs.runtime.stop()  # the process runtime LocalEcs started: replaced, as LocalEcs.quiesce replaces it
        ecs.runtime = LocalRuntime(
            region=ecs.region,
            clients=ecs.client,
            containers=containers.ContainerRunner(podman=str(podman)),
            start_delay=0.1,
            max_concurrent=4,
            stop_timeout=1.0,
        )
        ecs.runtime.start()
        try:
            yield ecs, home / "containers"
        finally:
            (home / "gate").touch()  # a test that failed before opening it must not hold the runtime's stop
    assert list((home / "containers").iterdir()) == []  # and remove_all's sweep left nothing


def run_on_fake(ecs, how: str, script: str) -> str:
    value = ecs.outputs
    container = {
        "name": value["container_name"]["value"],
        "command": ["sh", "-c", script],
        "environment": [{"name": "FAKE_PODMAN", "value": how}],
    }
    return ecs.client("ecs").run_task(
        cluster=value["cluster_name"]["value"],
        taskDefinition=value["task_definition_family"]["value"],
        launchType="FARGATE",
        overrides={"containerOverrides": [container]},
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": value["subnet_ids"]["value"],
                "securityGroups": value["security_group_ids"]["value"],
            }
        },
    )["tasks"][0]["taskArn"]


def removed(records, arn: str, timeout: float = 30) -> bool:
    """Whether podman's record of the task's container goes (its ``podman rm``) while the runtime runs on."""
    deadline = time.monotonic() + timeout
    while [path for path in records.iterdir() if path.name.endswith(arn.rsplit("/", 1)[-1])]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_containers_removed_together_go_though_one_of_them_is_not_there(fake_podman):
    """podman 4.3's `rm --force a gone b` removes neither a nor b (and says nothing): a container that never
    was (its image is missing) must not keep those that ended in the same tick from going."""
    ecs, records = fake_podman
    for name in ("ended-1", "ended-2"):
        (records / name).write_text("[]")
    ecs.runtime.containers.remove(["ended-1", "never-created", "ended-2"]).result(timeout=60)
    assert [path.name for path in records.iterdir() if path.name.startswith("ended-")] == []


@pytest.mark.timeout(120)
def test_a_podman_error_after_the_container_ran_is_not_a_start_failure(fake_podman):
    from tests.test_local_runtime import log_lines, wait_for

    ecs, records = fake_podman
    arn = run_on_fake(ecs, "error-after-run", "echo ran; exit 7")
    task = wait_for(ecs, arn, "STOPPED", timeout=60)
    assert task["containers"][0].get("exitCode") == 7, (task.get("stopCode"), task.get("stoppedReason"))
    assert (task["stopCode"], task["stoppedReason"]) == (
        "EssentialContainerExited",
        "Essential container in task exited",
    )
    assert log_lines(ecs, arn)[0] == "ran"
    assert removed(records, arn)


@pytest.mark.timeout(120)
def test_a_container_podman_has_no_record_of_failed_to_start_with_podmans_message(fake_podman):
    from tests.test_local_runtime import wait_for

    ecs, _ = fake_podman
    task = wait_for(ecs, run_on_fake(ecs, "no-container", "echo never; exit 7"), "STOPPED", timeout=60)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == "CannotStartContainerError: fake podman could not create the container"
    assert "exitCode" not in task["containers"][0]


@pytest.mark.timeout(120)
def test_a_container_that_outlives_its_podman_run_is_waited_for(fake_podman):
    from tests.test_local_runtime import wait_for

    ecs, records = fake_podman
    arn = run_on_fake(ecs, "outlives-podman-run", "sleep 1.5; exit 5")
    task = wait_for(ecs, arn, "STOPPED", timeout=60)
    assert task["containers"][0].get("exitCode") == 5, (task.get("stopCode"), task.get("stoppedReason"))
    assert removed(records, arn)


@pytest.mark.timeout(180)
def test_a_slow_podman_does_not_hold_the_runtime(fake_podman):
    """podman's answer about one container is awaited off the runtime's loop: another task starts and ends
    meanwhile. (Asked on the loop, which holds the runtime's lock, the other task would wait for the gate.)"""
    from tests.test_local_runtime import describe, wait_for

    ecs, records = fake_podman
    held = run_on_fake(ecs, "inspect-waits-for-gate", "exit 4")
    deadline = time.monotonic() + 60
    while not [path for path in records.iterdir() if path.name.endswith(held.rsplit("/", 1)[-1])]:
        assert time.monotonic() < deadline, "the held task's container never ran"
        time.sleep(0.05)
    asked = time.monotonic()  # RunTask itself waits for the runtime's lock: from before it
    other = wait_for(ecs, run_on_fake(ecs, "error-after-run", "exit 0"), "STOPPED", timeout=30)
    assert time.monotonic() - asked < 30  # about 1 s; held by podman's answer it would take 60 s (its timeout)
    assert other["containers"][0].get("exitCode") == 0
    assert describe(ecs, held)["lastStatus"] != "STOPPED"  # still waiting for podman's answer
    (records.parent / "gate").touch()
    assert wait_for(ecs, held, "STOPPED", timeout=60)["containers"][0].get("exitCode") == 4
