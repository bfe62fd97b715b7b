"""The process runtime's warm start (airflow_ecs/local/forkserver.py): a forked task is what ``python -m`` started
cold would be - its argv, environment, output, exit status, session and stdin - and a zygote serves one
environment only, since what a module reads when imported (Airflow's configuration) stays the zygote's.
Real processes, no Airflow: the target is tests/forkserver_modules/target.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from airflow_ecs.local.forkserver import ForkServer, forkable

MODULE = "tests.forkserver_modules.target"
PRELOAD = (MODULE, "tests.forkserver_modules.settings")


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", MODULE, *args]


def environment(mark: str, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "TARGET_MARK": mark, **extra}


@pytest.fixture
def server():
    forks = ForkServer(module=MODULE, preload=PRELOAD)
    yield forks
    forks.stop()


def fork(server: ForkServer, argv: list[str], env: dict[str, str], timeout: float = 30.0):
    """The first start that forks: None (start cold) is the answer until the zygote has imported."""
    deadline = time.monotonic() + timeout
    while (process := server.start(argv, env)) is None:
        assert time.monotonic() < deadline, "the zygote never became ready"
        time.sleep(0.02)
    return process


def output(process) -> str:
    process.wait(timeout=30)
    os.set_blocking(process.stdout.fileno(), True)
    return process.stdout.read().decode()


def report_of(text: str) -> dict:
    (line,) = [line for line in text.splitlines() if line.startswith("{")]
    return json.loads(line)


def cold(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)


def test_a_forked_task_sees_what_a_cold_one_sees(server):
    argv, env = command("report", "two words", "--flag"), environment("a", TARGET_EXTRA="1")
    forked = report_of(output(fork(server, argv, env)))
    report = report_of(cold(argv, env).stdout)
    report["session_leader"] = True  # subprocess.run here does not start a session; the runtime's Popen does
    assert forked == report
    assert forked["name"] == "__main__" and forked["argv0"] == "target.py"
    assert forked["args"] == ["report", "two words", "--flag"]
    assert forked["environment"] == ["TARGET_EXTRA", "TARGET_MARK"] and forked["stdin"] == ""


def test_stdout_and_stderr_are_one_pipe_and_the_task_ends_with_eof(server):
    # stderr first: stdout to a pipe is flushed at exit, as in a process started cold with stderr=STDOUT.
    text = output(fork(server, command("report"), environment("a")))
    assert text.splitlines()[0] == "to stderr" and len(text.splitlines()) == 2


def test_each_environment_has_its_own_zygote(server):
    """A module that read its environment when the zygote imported it must see the task's environment."""
    marks = {}
    for mark in ("a", "b", "a"):
        report = report_of(output(fork(server, command("report"), environment(mark))))
        marks.setdefault(mark, []).append((report["mark"], report["mark_at_import"]))
    assert marks == {"a": [("a", "a"), ("a", "a")], "b": [("b", "b")]}
    assert len(server._zygotes) == 2


@pytest.mark.parametrize(
    ("args", "code"),
    [(("exit", "0"), 0), (("exit", "3"), 3), (("exit", "-1"), 255), (("raise",), 1), (("report",), 0)],
)
def test_the_exit_status_is_python_ms(server, args, code):
    process = fork(server, command(*args), environment("a"))
    text = output(process)
    assert process.returncode == code == cold(command(*args), environment("a")).returncode
    if args == ("raise",):
        assert "RuntimeError: raised on purpose" in text and "Traceback" in text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_signal_to_its_process_group_ends_it_as_popen_reports_it(server, sig):
    process = fork(server, command("sleep"), environment("a"))
    # Started means it leads its own session already: a stop at once reaches it.
    assert os.getpgid(process.pid) == process.pid
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.2)
    assert process.poll() is None
    os.killpg(process.pid, sig)
    assert process.wait(timeout=10) == -sig


def test_until_the_zygote_is_ready_and_for_other_commands_it_says_start_cold(server):
    assert server.start(command("report"), environment("a")) is None  # the zygote is importing
    assert server.start([sys.executable, "-c", "print(1)"], environment("a")) is None
    assert server.start(["python", "-m", MODULE], environment("a")) is None  # not this interpreter
    assert not forkable([sys.executable, "-m", "other.module"], MODULE)
    assert fork(server, command("exit", "0"), environment("a")).wait(timeout=10) == 0
    assert server.forked == 1 and server.cold >= 1


def test_a_dead_zygotes_tasks_are_killed_and_reported_and_the_next_start_cold(server):
    process = fork(server, command("sleep"), environment("a"))
    (zygote,) = server._zygotes.values()
    zygote.process.kill()
    # Its children's ends can no longer be reported: killed, and said so, never left running unseen.
    assert process.wait(timeout=10) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while running(process.pid):
        assert time.monotonic() < deadline, "the dead zygote's child still runs"
        time.sleep(0.05)
    assert server.start(command("report"), environment("a")) is None


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_no_zygote_outlives_the_server():
    forks = ForkServer(module=MODULE, preload=PRELOAD)
    fork(forks, command("exit", "0"), environment("a")).wait(timeout=10)
    fork(forks, command("exit", "0"), environment("b")).wait(timeout=10)
    zygotes = [z.process for z in forks._zygotes.values()]
    forks.stop()
    assert all(z.poll() is not None for z in zygotes)


def test_at_most_max_zygotes_environments_are_kept_warm():
    forks = ForkServer(module=MODULE, preload=PRELOAD, max_zygotes=1)
    try:
        fork(forks, command("exit", "0"), environment("a")).wait(timeout=10)
        assert forks.start(command("exit", "0"), environment("b")) is None  # cold: no zygote for it
        assert len(forks._zygotes) == 1
    finally:
        forks.stop()
