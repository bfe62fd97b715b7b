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


def test_local_on_a_busy_port_says_so_and_leaves_the_outputs_file(capsys, tmp_path, busy_port):
    outputs = tmp_path / "generated" / "local-outputs.json"
    outputs.parent.mkdir()
    outputs.write_text('{"from": "the running local ECS"}\n')

    assert cli.main(["local", "--port", str(busy_port), "--outputs", str(outputs)]) == 2

    assert capsys.readouterr().err == (f"airflow-ecs local: cannot listen on 127.0.0.1:{busy_port} (Address already "
                                       "in use); stop what uses it or give another --port (0: any free port)\n")
    assert outputs.read_text() == '{"from": "the running local ECS"}\n'


def test_local_without_moto_says_what_to_install(capsys, monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real(name, *a))

    assert cli.main(["local", "--outputs", str(tmp_path / "o.json")]) == 2

    assert capsys.readouterr().err == ("airflow-ecs local: moto is not installed; the local ECS needs it: "
                                       "pip install 'airflow-ecs[local]'\n")
    assert not (tmp_path / "o.json").exists()
