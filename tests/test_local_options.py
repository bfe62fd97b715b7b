"""``airflow-ecs local`` and ``make demo`` (devtools/demo.py) start the local ECS from the same two options."""

from __future__ import annotations

import argparse

import pytest

from airflow_ecs import cli
from devtools.demo import build_parser


def local(argv: list[str]) -> argparse.Namespace:
    return cli.build_parser("local").parse_args(["local", *argv])


def demo(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


COMMANDS = pytest.mark.parametrize("parse", [local, demo], ids=["airflow-ecs local", "demo"])


@COMMANDS
def test_runtime_and_provision_are_the_same_options_with_the_same_defaults(parse):
    assert (parse([]).runtime, parse([]).provision) == ("process", "auto")
    for runtime in ("process", "container", "auto"):
        for provision in ("auto", "terraform", "python"):
            args = parse(["--runtime", runtime, "--provision", provision])
            assert (args.runtime, args.provision) == (runtime, provision)


@COMMANDS
def test_an_unknown_runtime_or_provisioner_is_argparses_one_line(parse, capsys):
    for argv in (["--runtime", "docker"], ["--provision", "cdk"]):
        with pytest.raises(SystemExit) as exit_info:
            parse(argv)
        assert exit_info.value.code == 2
        assert f"argument {argv[0]}: invalid choice: '{argv[1]}'" in capsys.readouterr().err
