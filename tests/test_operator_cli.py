"""The operator's entry points fed what a new user feeds them: one line each, nothing lost."""

from __future__ import annotations

import socket

import pytest

from airflow_ecs import cli


@pytest.fixture
def busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_local_on_a_busy_port_says_so_and_leaves_the_outputs_file(capsys, tmp_path, busy_port, monkeypatch):
    from airflow_ecs.local.server import LocalEcs

    # Said before anything is provisioned: not after a minute of terraform apply.
    monkeypatch.setattr(LocalEcs, "_provision", lambda self: pytest.fail("provisioned before the port was taken"))
    outputs = tmp_path / "generated" / "local-outputs.json"
    outputs.parent.mkdir()
    outputs.write_text('{"from": "the running local ECS"}\n')

    assert cli.main(["local", "--port", str(busy_port), "--outputs", str(outputs)]) == 2

    assert capsys.readouterr().err == (
        f"airflow-ecs local: cannot listen on 127.0.0.1:{busy_port} (Address already "
        "in use); stop what uses it or give another --port (0: any free port)\n"
    )
    assert outputs.read_text() == '{"from": "the running local ECS"}\n'


def test_local_without_moto_says_what_to_install(capsys, monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real(name, *a))

    assert cli.main(["local", "--outputs", str(tmp_path / "o.json")]) == 2

    assert capsys.readouterr().err == (
        "airflow-ecs local: moto is not installed; the local ECS needs it: pip install 'airflow-ecs[local]'\n"
    )
    assert not (tmp_path / "o.json").exists()


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == "airflow-ecs 0.1.0\n"


EXPECTED = {"hello": "success", "fails": "failed", "flaky": "success"}


def test_the_demo_says_a_run_that_failed_by_design_went_as_designed():
    from devtools.demo import run_summary

    assert run_summary("failed", [], EXPECTED) == (
        "[demo] DAG run ended as designed (Airflow marks it failed: tasks that fail on purpose: fails)"
    )
    assert run_summary("failed", ["hello: failed (expected success)"], EXPECTED) == (
        "[demo] DAG run failed (some tasks not as expected, below)"
    )
    assert run_summary("success", [], {"hello": "success"}) == "[demo] DAG run success"
