"""``airflow-ecs local --schedulers N``: the parser's range, and a run whose outputs and printed env files serve N
schedulers, each with its own events queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from airflow_ecs import cli


@pytest.mark.parametrize(("given", "expected"), [([], 1), (["--schedulers", "1"], 1), (["--schedulers", "5"], 5)])
def test_the_schedulers_option_takes_one_to_five(given, expected):
    args = cli.build_parser("local").parse_args(["local", *given])
    assert args.schedulers == expected


@pytest.mark.parametrize("bad", ["0", "6", "-1", "two", "2.5", ""])
def test_a_scheduler_count_out_of_range_is_one_line_naming_it_and_the_range(bad, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["local", "--schedulers", bad, "--outputs", str(tmp_path / "o.json")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"airflow-ecs local: error: argument --schedulers: {bad!r}: expected a whole number from 1 to 5 "
        "(one events queue per scheduler; EventBridge allows 5 targets per rule)"
    )
    assert not (tmp_path / "o.json").exists()


def test_the_help_says_what_schedulers_does(capsys):
    with pytest.raises(SystemExit):
        cli.main(["local", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--schedulers N how many Airflow schedulers will use it, 1 to 5 (default 1): one events queue each" in (
        help_text
    )


def test_local_with_three_schedulers_makes_three_queues_and_says_where_each_env_file_is(tmp_path):
    """As a user runs it: the outputs hold three queues, the lines printed name scheduler 2's and 3's env
    files, and render writes exactly those, each with its own queue."""
    outputs = tmp_path / "outputs.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_ecs",
            "local",
            "--port",
            "0",
            "--outputs",
            str(outputs),
            "--provision",
            "python",
            "--schedulers",
            "3",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("scheduler 3:" in line for line in printed):
            line = process.stdout.readline()
            assert line or process.poll() is None, f"airflow-ecs local exited early: {printed}"
            assert time.monotonic() < deadline, printed
            printed.append(line.rstrip("\n"))
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0

    queues = json.loads(outputs.read_text())["events_queue_urls"]["value"]
    assert len(set(queues)) == 3
    assert printed[-3:] == [
        (
            "3 schedulers, each with its own events queue. The first loads generated/airflow_ecs.env; after that "
            "render, the others load their own env file too:"
        ),
        "  scheduler 2: set -a; . generated/airflow_ecs.env; . generated/airflow_ecs.scheduler-2.env; set +a",
        "  scheduler 3: set -a; . generated/airflow_ecs.env; . generated/airflow_ecs.scheduler-3.env; set +a",
    ]
    # The render the start-up message gives, run where the user ran local: it writes the files just named.
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert cli.main(["render", "--outputs", str(outputs), "--out", "generated"]) == 0
    finally:
        os.chdir(cwd)
    generated = tmp_path / "generated"
    assert sorted(path.name for path in generated.glob("airflow_ecs.scheduler-*.env")) == [
        "airflow_ecs.scheduler-2.env",
        "airflow_ecs.scheduler-3.env",
    ]
    for number, queue in ((2, queues[1]), (3, queues[2])):
        text = (generated / f"airflow_ecs.scheduler-{number}.env").read_text()
        assert f"AIRFLOW__ECS_FARGATE__EVENTS_QUEUE_URL={queue}" in text.splitlines()
