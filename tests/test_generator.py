"""The generator: terraform outputs -> airflow.cfg, airflow_ecs.env and the run_task template.

Golden files: ``fixtures/golden/<case>/`` holds what ``render_files`` makes of ``fixtures/outputs/<case>.json``
with the run_task template at ``GOLDEN_TEMPLATE_PATH``. After an intended change to the templates or the
generator, regenerate them (those tests then skip: they compared nothing), review the diff, and run again:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_generator.py -k golden
"""

from __future__ import annotations

import configparser
import io
import json
import os
import subprocess
import typing
from pathlib import Path

import pytest

from airflow_ecs import cli
from airflow_ecs.core.config import EcsConfig, load_config
from airflow_ecs.core.run_task_request import TaskIdentity, load_template, render, template_context, validate
from airflow_ecs.deploy.generator import (
    TEMPLATE_FILE,
    next_steps,
    profiles_value,
    read_env_file,
    render_files,
    render_to,
    shell_value,
    write_atomically,
)
from airflow_ecs.deploy.terraform_outputs import CONTRACT, DeploymentOutputs, OutputsError, parse_outputs

FIXTURES = Path(__file__).parent / "fixtures"
CASES = ("spot_with_events", "fargate_minimal", "queue_profiles", "teams", "per_scheduler_queues")
GOLDEN_TEMPLATE_PATH = "/opt/airflow/generated/run_task_template.json.j2"


def outputs_json(case: str) -> dict:
    return json.loads((FIXTURES / "outputs" / f"{case}.json").read_text())


def rendered(case: str, template_path: str = GOLDEN_TEMPLATE_PATH) -> dict[str, str]:
    return render_files(parse_outputs(outputs_json(case)), template_path)


def section_from_cfg(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser["ecs_fargate"]


def values_from_env(text: str) -> dict[str, str]:
    """The ``AIRFLOW__ECS_FARGATE__<KEY>`` variables a shell gets from ``set -a; . airflow_ecs.env``, keyed as
    Airflow reads them (lower case)."""
    run = subprocess.run(
        ["bash", "-c", "set -a; . /dev/stdin; set +a; env -0"],
        input=text,
        text=True,
        capture_output=True,
        env={"PATH": os.environ["PATH"]},
        check=True,
    )
    prefix = "AIRFLOW__ECS_FARGATE__"
    return {
        name.removeprefix(prefix).lower(): value
        for name, _, value in (entry.partition("=") for entry in run.stdout.split("\0"))
        if name.startswith(prefix)
    }


EXPECTED = {
    "spot_with_events": dict(
        region="eu-west-1",
        cluster="airflow",
        task_definition="airflow-worker",
        container_name="airflow-worker",
        launch_type="",
        subnets=("subnet-0a1b2c3d", "subnet-4e5f6a7b"),
        security_groups=("sg-0123456789abcdef0",),
        assign_public_ip=False,
        strategy=[("FARGATE_SPOT", 4, 0), ("FARGATE", 1, 1)],
        events_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/airflow-ecs-events",
    ),
    "fargate_minimal": dict(
        region="us-east-1",
        cluster="data-platform",
        task_definition="data-platform-worker",
        container_name="base",
        launch_type="FARGATE",
        subnets=("subnet-11112222",),
        security_groups=("sg-0fedcba9876543210",),
        assign_public_ip=True,
        strategy=[],
        events_queue_url="",
    ),
    "queue_profiles": dict(
        region="eu-west-1",
        cluster="airflow-queues",
        task_definition="airflow-queues-worker",
        container_name="airflow-worker",
        launch_type="",
        subnets=("subnet-0a1b2c3d", "subnet-4e5f6a7b"),
        security_groups=("sg-0123456789abcdef0",),
        assign_public_ip=False,
        strategy=[("FARGATE", 1, 0)],
        events_queue_url="",
    ),
    "teams": dict(
        region="eu-west-1",
        cluster="airflow-queues",
        task_definition="airflow-queues-worker",
        container_name="airflow-worker",
        launch_type="",
        subnets=("subnet-0a1b2c3d", "subnet-4e5f6a7b"),
        security_groups=("sg-0123456789abcdef0",),
        assign_public_ip=False,
        strategy=[("FARGATE", 1, 0)],
        events_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/airflow-queues-task-events",
    ),
}
EXPECTED["per_scheduler_queues"] = EXPECTED["teams"]

# [ecs_fargate] profiles as the executor takes it: only what Terraform set, strategies in boto3's form.
EXPECTED_PROFILES = {
    "gpu": {
        "queues": ["gpu"],
        "task_definition": "airflow-queues-gpu",
        "container_name": "airflow-worker",
        "capacity_provider_strategy": [{"capacityProvider": "airflow-queues-gpu", "weight": 1, "base": 0}],
        "cpu": 4096,
        "memory": 15000,
        "gpu": 1,
    },
    "heavy": {
        "queues": ["heavy"],
        "task_definition": "airflow-queues-heavy",
        "container_name": "airflow-worker",
        "launch_type": "FARGATE",
        "cpu": 4096,
        "memory": 16384,
    },
    "spot": {
        "queues": ["default", "spot"],
        "task_definition": "airflow-queues-spot",
        "container_name": "airflow-worker",
        "capacity_provider_strategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}],
        "cpu": 512,
        "memory": 1024,
    },
}


def assert_expected(config: EcsConfig, case: str, template_path: str) -> None:
    want = EXPECTED[case]
    assert (config.region, config.cluster, config.task_definition, config.container_name, config.launch_type) == (
        want["region"],
        want["cluster"],
        want["task_definition"],
        want["container_name"],
        want["launch_type"],
    )
    assert (config.subnets, config.security_groups, config.assign_public_ip) == (
        want["subnets"],
        want["security_groups"],
        want["assign_public_ip"],
    )
    assert [(i.capacity_provider, i.weight, i.base) for i in config.capacity_provider_strategy] == want["strategy"]
    assert config.events_queue_url == want["events_queue_url"]
    assert config.platform_version == "LATEST"
    assert config.run_task_template == template_path


@pytest.mark.parametrize("case", CASES)
def test_render_matches_the_golden_files(case):
    files = rendered(case)
    golden = FIXTURES / "golden" / case
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.mkdir(parents=True, exist_ok=True)
        for stale in {p.name for p in golden.iterdir()} - set(files):
            (golden / stale).unlink()
        for name, text in files.items():
            (golden / name).write_text(text)
        # Comparing now would compare the files with themselves: this run checked nothing, and says so.
        pytest.skip(
            f"UPDATE_GOLDEN=1 rewrote {golden.relative_to(FIXTURES.parent.parent)}: review the diff, "
            "then run without UPDATE_GOLDEN"
        )
    assert sorted(files) == sorted(p.name for p in golden.iterdir())
    for name, text in files.items():
        assert text == (golden / name).read_text(), f"{name} differs from {golden / name}; see the module docstring"


@pytest.mark.parametrize("case", CASES)
def test_rendering_twice_gives_identical_bytes(case, tmp_path):
    assert rendered(case) == rendered(case)
    out = tmp_path / "generated"
    write_atomically(rendered(case, str(out / TEMPLATE_FILE)), out)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    write_atomically(rendered(case, str(out / TEMPLATE_FILE)), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


@pytest.mark.parametrize("case", CASES)
def test_the_rendered_files_load_into_the_executors_config_and_a_valid_request(case, tmp_path):
    out = tmp_path / "generated"
    write_atomically(rendered(case, str(out / TEMPLATE_FILE)), out)

    cfg_text = (out / "airflow.cfg").read_text()
    section = section_from_cfg(cfg_text)
    config = load_config(lambda key: section.get(key))
    assert_expected(config, case, str(out / TEMPLATE_FILE))
    assert Path(config.run_task_template).is_file()
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(cfg_text)
    # Appended to a user's airflow.cfg, it adds no second [core]: only ours (and each team's).
    assert parser.sections() == ["ecs_fargate"] + [
        f"{team}=ecs_fargate" for team in ("team_a", "team_b") if case in ("teams", "per_scheduler_queues")
    ]

    # The env file is the same configuration for the scheduler's environment.
    env_text = (out / "airflow_ecs.env").read_text()
    assert load_config(values_from_env(env_text).get) == config
    executor = (
        f"'{EXECUTOR_WITH_TEAMS}'"
        if case in ("teams", "per_scheduler_queues")
        else "airflow_ecs.executor.EcsFargateExecutor"
    )
    assert f"AIRFLOW__CORE__EXECUTOR={executor}" in env_text.splitlines()

    template = load_template(config.run_task_template)
    identity = TaskIdentity("etl", "extract", "manual__2026-01-01", -1, 1)
    request = render(template, template_context(config, identity, ["airflow", "tasks", "run"], {}))
    validate(request, template)  # botocore's own RunTask model
    assert request["cluster"] == EXPECTED[case]["cluster"]
    assert request["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == list(EXPECTED[case]["subnets"])
    if EXPECTED[case]["strategy"]:
        assert "launchType" not in request
        assert request["capacityProviderStrategy"][0]["capacityProvider"] == EXPECTED[case]["strategy"][0][0]
    else:
        assert request["launchType"] == "FARGATE"


REQUIRED = [name for name, (_, required) in CONTRACT.items() if required]
WRONG_VALUE = {str: 42, list: "subnet-0a1b2c3d", bool: "false", dict: ["heavy"]}


@pytest.mark.parametrize("name", list(CONTRACT))
def test_each_output_s_json_type_fits_its_field(name):
    # The field declares both (DeploymentOutputs): Terraform's lists and objects become tuples, the rest as given.
    kind, required = CONTRACT[name]
    annotation = typing.get_type_hints(DeploymentOutputs)[name]
    if kind in (list, dict):
        assert typing.get_origin(annotation) is tuple, f"{name}: {annotation}"
    else:
        assert annotation == (kind if required else kind | None), f"{name}: {annotation}"


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_output_is_named(name):
    data = outputs_json("spot_with_events")
    del data[name]
    with pytest.raises(OutputsError, match=rf"^terraform outputs: '{name}' is missing; expected a "):
        parse_outputs(data)


@pytest.mark.parametrize("name", list(CONTRACT))
def test_a_mistyped_output_is_named(name):
    data = outputs_json(
        {"profiles": "queue_profiles", "teams": "teams", "events_queue_urls": "per_scheduler_queues"}.get(
            name, "spot_with_events"
        )
    )
    kind = CONTRACT[name][0]
    data[name]["value"] = WRONG_VALUE[kind]
    expected = "a list of id strings, e.g. " if name in ("subnet_ids", "security_group_ids") else f"a {kind.__name__}$"
    with pytest.raises(OutputsError, match=rf"^terraform outputs: '{name}' is .*; expected {expected}"):
        parse_outputs(data)


@pytest.mark.parametrize(
    ("value", "wrong"),
    [
        ([1, 2], "int 1"),
        ([{"id": "subnet-0a1b2c3d"}], "dict {'id': 'subnet-0a1b2c3d'}"),
        (["subnet-0a1b2c3d", None], "NoneType None"),
    ],
)
def test_subnet_ids_that_are_not_strings_say_which_item(capsys, tmp_path, value, wrong):
    data = outputs_json("fargate_minimal")
    data["subnet_ids"]["value"] = value
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(data))

    assert cli.main(["render", "--outputs", str(source), "--out", str(tmp_path / "generated")]) == 2

    assert capsys.readouterr().err == (
        f"airflow-ecs render: terraform outputs: 'subnet_ids' is list {value!r}; "
        f'expected a list of id strings, e.g. ["subnet-0a1b2c3d"] (not {wrong})\n'
    )
    assert not (tmp_path / "generated").exists()


@pytest.mark.parametrize("case", CASES)
def test_the_module_re_exported_as_one_output_reads_as_the_root_outputs(case):
    # What `terraform output -json` prints for output "airflow_ecs" { value = module.airflow_ecs } in a caller.
    data = outputs_json(case)
    wrapped = {
        "airflow_ecs": {"value": {name: entry["value"] for name, entry in data.items()}, "sensitive": False},
        "vpc_id": {"value": "vpc-0123", "sensitive": False},
    }
    assert parse_outputs(wrapped) == parse_outputs(data)


def test_a_strategy_item_without_a_provider_is_named():
    data = outputs_json("spot_with_events")
    data["capacity_provider_strategy"]["value"] = [{"weight": 1}]
    with pytest.raises(OutputsError, match="capacity_provider_strategy item"):
        parse_outputs(data)


def test_render_command_from_a_file(capsys, tmp_path):
    out = tmp_path / "generated"
    out.mkdir()
    (out / "stale.txt").write_text("from an older render")
    source = FIXTURES / "outputs" / "spot_with_events.json"

    assert cli.main(["render", "--outputs", str(source), "--out", str(out)]) == 0

    stdout = capsys.readouterr().out
    assert stdout == (
        f"Wrote {out}/airflow.cfg, {out}/run_task_template.json.j2 and {out}/airflow_ecs.env.\n"
        f"Scheduler, either: set -a; . {out}/airflow_ecs.env; set +a   (sets [core] executor too)\n"
        f"or: cat {out}/airflow.cfg >> $AIRFLOW_HOME/airflow.cfg (once; it holds only [ecs_fargate]) and set "
        "executor = airflow_ecs.executor.EcsFargateExecutor in that file's [core] section, or export "
        "AIRFLOW__CORE__EXECUTOR=airflow_ecs.executor.EcsFargateExecutor.\n"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([*rendered("spot_with_events"), "stale.txt"])
    assert (out / "stale.txt").read_text() == "from an older render"  # not render's: left alone
    golden = FIXTURES / "golden" / "spot_with_events"
    for name in ("airflow.cfg", "airflow_ecs.env", TEMPLATE_FILE):
        expected = (golden / name).read_text().replace(GOLDEN_TEMPLATE_PATH, str(out / TEMPLATE_FILE))
        assert (out / name).read_text() == expected
    config = load_config(section_from_cfg((out / "airflow.cfg").read_text()).get)
    assert_expected(config, "spot_with_events", str(out / TEMPLATE_FILE))
    env_config = load_config(values_from_env((out / "airflow_ecs.env").read_text()).get)
    assert env_config == config


def test_render_command_from_stdin(capsys, monkeypatch, tmp_path):
    out = tmp_path / "generated"
    monkeypatch.setattr("sys.stdin", io.StringIO((FIXTURES / "outputs" / "fargate_minimal.json").read_text()))

    assert cli.main(["render", "--outputs", "-", "--out", str(out)]) == 0

    config = load_config(section_from_cfg((out / "airflow.cfg").read_text()).get)
    assert_expected(config, "fargate_minimal", str(out / TEMPLATE_FILE))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{not json",
            (
                "airflow-ecs render: terraform outputs -: not JSON (Expecting property name enclosed in double "
                "quotes at line 1)"
            ),
        ),
        (
            '{"region": {"value": "eu-west-1"}}',
            (
                "airflow-ecs render: terraform outputs: 'cluster_name' is missing; "
                "expected a str (is the root module in terraform/ applied, or, calling "
                "it as a module, is it re-exported as output 'airflow_ecs'?)"
            ),
        ),
        (
            '{"airflow_ecs": {"value": "cluster"}}',
            (
                "airflow-ecs render: terraform outputs: 'airflow_ecs' is str "
                "'cluster'; expected the whole module, as in output \"airflow_ecs\" "
                "{ value = module.airflow_ecs }"
            ),
        ),
    ],
)
def test_render_command_errors_are_one_line_and_write_nothing(capsys, monkeypatch, tmp_path, text, message):
    out = tmp_path / "generated"
    out.mkdir()
    (out / "airflow.cfg").write_text("[ecs_fargate]\ncluster = last-good\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(text))

    assert cli.main(["render", "--outputs", "-", "--out", str(out)]) == 2

    assert capsys.readouterr().err == message + "\n"
    assert [p.name for p in out.iterdir()] == ["airflow.cfg"]
    assert (out / "airflow.cfg").read_text() == "[ecs_fargate]\ncluster = last-good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["generated"]  # no staging directory left behind


# ---------------------------------------------------------------------------------------------------------
# queue profiles
# ---------------------------------------------------------------------------------------------------------


def test_profiles_render_as_one_compact_sorted_json_line():
    cfg_text = rendered("queue_profiles")["airflow.cfg"]
    (line,) = [line for line in cfg_text.splitlines() if line.startswith("profiles = ")]
    value = line.removeprefix("profiles = ")
    assert json.loads(value) == EXPECTED_PROFILES
    assert value == json.dumps(EXPECTED_PROFILES, sort_keys=True, separators=(",", ":"))
    assert section_from_cfg(cfg_text)["profiles"] == value  # configparser reads the line back whole


def test_profiles_output_order_does_not_change_the_bytes():
    data = outputs_json("queue_profiles")
    data["profiles"]["value"] = dict(reversed(list(data["profiles"]["value"].items())))
    for profile in data["profiles"]["value"].values():
        profile.update(dict(reversed(list(profile.items()))))
    assert render_files(parse_outputs(data), GOLDEN_TEMPLATE_PATH) == rendered("queue_profiles")


@pytest.mark.parametrize("value", [None, {}], ids=["absent", "empty"])
def test_no_profiles_means_no_profiles_key(value):
    data = outputs_json("queue_profiles")
    if value is None:
        del data["profiles"]
    else:
        data["profiles"]["value"] = value
    outputs = parse_outputs(data)
    assert outputs.profiles == ()
    files = render_files(outputs, GOLDEN_TEMPLATE_PATH)
    assert "profiles" not in section_from_cfg(files["airflow.cfg"])
    assert "profiles" not in values_from_env(files["airflow_ecs.env"])


def test_a_profile_sets_only_what_terraform_set():
    data = outputs_json("queue_profiles")
    data["profiles"]["value"] = {
        "lean": {"queues": ["lean"], "capacity_provider_strategy": [], "gpu": 0, "launch_type": None, "cpu": None}
    }
    assert profiles_value(parse_outputs(data).profiles) == '{"lean":{"queues":["lean"]}}'


@pytest.mark.parametrize("case", CASES)
def test_the_sourced_env_file_gives_the_cfg_values(case):
    files = rendered(case)
    assert values_from_env(files["airflow_ecs.env"]) == dict(section_from_cfg(files["airflow.cfg"]))


def test_the_env_file_reads_back_without_a_shell_as_the_shell_reads_it():
    section = [
        ("cluster", "it's mine"),
        ("subnets", "subnet-1,subnet-2"),
        ("events_queue_url", ""),
        ("profiles", '{"a b":{"queues":["x"]}}'),
    ]
    text = "# a comment\n" + "".join(
        f"AIRFLOW__ECS_FARGATE__{key.upper()}={shell_value(value)}\n" for key, value in section
    )
    read = read_env_file(text)
    assert (
        {name.removeprefix("AIRFLOW__ECS_FARGATE__").lower(): value for name, value in read.items()}
        == values_from_env(text)
        == dict(section)
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("queues", "gpu", "profiles['gpu'].queues is 'gpu'; expected a non-empty list of queue names"),
        ("queues", [], "profiles['gpu'].queues is []; expected a non-empty list of queue names"),
        ("cpu", "4096", "profiles['gpu'].cpu is str '4096'; expected a whole number or null"),
        ("memory", True, "profiles['gpu'].memory is bool True; expected a whole number or null"),
        ("gpu", 0.5, "profiles['gpu'].gpu is float 0.5; expected a whole number or null"),
        ("task_definition", 7, "profiles['gpu'].task_definition is int 7; expected a non-empty string or null"),
        ("launch_type", "", "profiles['gpu'].launch_type is str ''; expected a non-empty string or null"),
        (
            "capacity_provider_strategy",
            "airflow-queues-gpu",
            "profiles['gpu'].capacity_provider_strategy is str 'airflow-queues-gpu'; expected a list of",
        ),
        (
            "capacity_provider_strategy",
            [{"weight": 1}],
            "profiles['gpu'].capacity_provider_strategy item {'weight': 1}; expected {capacity_provider",
        ),
        (
            "capacity_provider_strategy",
            [{"capacity_provider": "x", "weight": "1"}],
            "profiles['gpu'].capacity_provider_strategy item .*; weight and base must be whole numbers",
        ),
    ],
)
def test_a_mistyped_profile_field_names_the_profile_and_field(field, value, message):
    data = outputs_json("queue_profiles")
    data["profiles"]["value"]["gpu"][field] = value
    with pytest.raises(OutputsError, match="^terraform outputs: " + message.replace("[", r"\[").replace("(", r"\(")):
        parse_outputs(data)


def test_a_profile_that_is_not_an_object_is_named():
    data = outputs_json("queue_profiles")
    data["profiles"]["value"]["heavy"] = ["heavy"]
    with pytest.raises(
        OutputsError,
        match=r"^terraform outputs: profiles\['heavy'\] is list \['heavy'\]; expected an "
        "object",
    ):
        parse_outputs(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda profiles: profiles["heavy"].update(cpu=0), r"profile 'heavy', field 'cpu': expected a positive"),
        (lambda profiles: profiles["heavy"].update(queues=["gpu"]), r"queue 'gpu' is in profiles 'gpu' and 'heavy'"),
    ],
)
def test_outputs_the_executor_would_refuse_stop_render(change, message, tmp_path):
    # Well-typed outputs, but a section the scheduler would refuse at start: render refuses it instead.
    data = outputs_json("queue_profiles")
    change(data["profiles"]["value"])
    with pytest.raises(
        OutputsError,
        match=r"^terraform outputs give a setting the executor refuses: "
        r"\[ecs_fargate\] profiles = .*" + message,
    ):
        render_files(parse_outputs(data), str(tmp_path / TEMPLATE_FILE))


# ---------------------------------------------------------------------------------------------------------
# render never loses a file it did not write
# ---------------------------------------------------------------------------------------------------------

SOURCE = FIXTURES / "outputs" / "fargate_minimal.json"
USERS_CFG = "[core]\ndags_folder = /opt/airflow/dags\nexecutor = LocalExecutor\n\n[database]\nsql_alchemy_conn = x\n"


def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_render_into_airflow_home_refuses_the_users_airflow_cfg_and_touches_nothing(capsys, tmp_path):
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "etl.py").write_text("# a DAG")
    (home / "airflow.cfg").write_text(USERS_CFG)
    before = tree(home)

    assert cli.main(["render", "--outputs", str(SOURCE), "--out", str(home)]) == 2

    assert capsys.readouterr().err == (
        f"airflow-ecs render: {home}/airflow.cfg exists and was not written by "
        "airflow-ecs render; move it away or give --out another directory "
        "(e.g. generated)\n"
    )
    assert tree(home) == before
    assert sorted(p.name for p in home.iterdir()) == ["airflow.cfg", "dags"]  # no temporary file left


def test_render_beside_other_files_keeps_them_and_its_own_input(capsys, tmp_path):
    # The hint `airflow-ecs local` prints: the outputs file sits in the directory render writes to.
    out = tmp_path / "generated"
    out.mkdir()
    source = out / "local-outputs.json"
    source.write_text(SOURCE.read_text())
    (out / "notes.txt").write_text("mine")

    assert cli.main(["render", "--outputs", str(source), "--out", str(out)]) == 0
    assert cli.main(["render", "--outputs", str(source), "--out", str(out)]) == 0  # its own files: replaced

    assert source.read_text() == SOURCE.read_text()
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["airflow.cfg", "airflow_ecs.env", TEMPLATE_FILE, "local-outputs.json", "notes.txt"]
    )


def test_render_never_writes_over_the_outputs_file_it_reads(capsys, tmp_path):
    out = tmp_path / "generated"
    out.mkdir()
    source = out / "airflow_ecs.env"  # an odd name, but render must not eat its own input
    source.write_text(SOURCE.read_text())

    assert cli.main(["render", "--outputs", str(source), "--out", str(out)]) == 2

    assert capsys.readouterr().err == (
        f"airflow-ecs render: {source} is the terraform outputs file render reads; "
        "give --out another directory (e.g. generated) or move the outputs file\n"
    )
    assert source.read_text() == SOURCE.read_text()


def test_render_does_not_write_through_a_symlink(capsys, tmp_path):
    outside = tmp_path / "elsewhere.cfg"
    outside.write_text("# Rendered by `airflow-ecs render` long ago\n")
    out = tmp_path / "generated"
    out.mkdir()
    (out / "airflow.cfg").symlink_to(outside)

    assert cli.main(["render", "--outputs", str(SOURCE), "--out", str(out)]) == 2

    assert capsys.readouterr().err.startswith(f"airflow-ecs render: {out}/airflow.cfg is a symlink;")
    assert outside.read_text() == "# Rendered by `airflow-ecs render` long ago\n"
    assert (out / "airflow.cfg").is_symlink()


def test_a_full_disk_on_the_second_file_leaves_the_previous_render_intact(capsys, monkeypatch, tmp_path):
    out = tmp_path / "generated"
    assert (
        cli.main(["render", "--outputs", str(FIXTURES / "outputs" / "spot_with_events.json"), "--out", str(out)]) == 0
    )
    before = tree(out)
    real_fdopen = os.fdopen
    opened = []

    def fdopen(descriptor, *args, **kwargs):
        file = real_fdopen(descriptor, *args, **kwargs)
        opened.append(file)
        if len(opened) == 2:

            def write(text):
                raise OSError(28, "No space left on device", str(out / ".airflow_ecs.env.tmp"))

            file.write = write
        return file

    monkeypatch.setattr("airflow_ecs.deploy.generator.os.fdopen", fdopen)
    capsys.readouterr()

    assert cli.main(["render", "--outputs", str(SOURCE), "--out", str(out)]) == 2

    assert capsys.readouterr().err == f"airflow-ecs render: {out}/.airflow_ecs.env.tmp: No space left on device\n"
    assert tree(out) == before  # the earlier render, whole; no temporary file left
    assert len(opened) == 2


def test_render_modes_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        out = tmp_path / "a" / "generated"
        assert cli.main(["render", "--outputs", str(SOURCE), "--out", str(out)]) == 0
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o755
    assert {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()} == {
        "airflow.cfg": 0o644,
        "airflow_ecs.env": 0o644,
        TEMPLATE_FILE: 0o644,
    }


def test_appending_the_rendered_cfg_to_a_users_airflow_cfg_keeps_it_loadable(tmp_path):
    out = tmp_path / "generated"
    assert cli.main(["render", "--outputs", str(SOURCE), "--out", str(out)]) == 0
    text = USERS_CFG + "\n" + (out / "airflow.cfg").read_text()
    parser = configparser.ConfigParser(interpolation=None, strict=True)  # as Airflow's: a repeated section raises
    parser.read_string(text)
    assert parser.sections() == ["core", "database", "ecs_fargate"]
    assert load_config(lambda key: parser.get("ecs_fargate", key, fallback=None)).cluster == "data-platform"


def test_render_without_a_source_says_how_to_give_one(capsys, monkeypatch, tmp_path):
    assert cli.main(["render", "--out", str(tmp_path / "g")]) == 2
    assert capsys.readouterr().err == (
        "airflow-ecs render: no terraform outputs given; use --outputs FILE "
        "(terraform output -json), --outputs - for stdin, or --dir TERRAFORM_DIR\n"
    )
    tty = io.StringIO()
    tty.isatty = lambda: True
    monkeypatch.setattr("sys.stdin", tty)
    assert cli.main(["render", "--outputs", "-", "--out", str(tmp_path / "g")]) == 2
    assert capsys.readouterr().err == (
        "airflow-ecs render: --outputs - reads stdin, which is a terminal; pipe it: "
        "terraform output -json | airflow-ecs render --outputs -\n"
    )
    assert not (tmp_path / "g").exists()


def test_render_refuses_outputs_and_dir_together(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["render", "--outputs", str(SOURCE), "--dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "airflow-ecs render: error: argument --dir: not allowed with argument --outputs"
    )


# --- teams: each team's whole section, as Airflow 3.3 names it, and [core] executor with the team mapping ---

TEAM_A_QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/airflow-queues-team-a-task-events"
EXECUTOR_WITH_TEAMS = (
    "airflow_ecs.executor.EcsFargateExecutor;team_a=airflow_ecs.executor.EcsFargateExecutor;"
    "team_b=airflow_ecs.executor.EcsFargateExecutor"
)


def test_each_team_gets_its_whole_section_with_its_task_definition_and_queue():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(rendered("teams")["airflow.cfg"])
    assert parser.sections() == ["ecs_fargate", "team_a=ecs_fargate", "team_b=ecs_fargate"]
    shared, team_a = dict(parser["ecs_fargate"]), dict(parser["team_a=ecs_fargate"])
    assert team_a["task_definition"] == "airflow-queues-team-a-worker"
    assert parser["team_b=ecs_fargate"]["task_definition"] == "airflow-queues-team-b-worker"
    # Its own events queue: the deployment's and the other team's never carry its tasks' events.
    assert team_a["events_queue_url"] == TEAM_A_QUEUE != shared["events_queue_url"]
    # No fallback to [ecs_fargate] in Airflow: everything else is written again. No profiles (their task
    # definitions run as the deployment's task role).
    assert "profiles" in shared and "profiles" not in team_a
    same = {
        key: value for key, value in shared.items() if key not in ("task_definition", "events_queue_url", "profiles")
    }
    assert {key: team_a[key] for key in same} == same
    # Each team's section passes the executor's own checks.
    assert load_config({**team_a, "run_task_template": ""}.get).task_definition == "airflow-queues-team-a-worker"


def test_the_env_file_sets_the_team_mapping_and_each_teams_variables():
    run = subprocess.run(
        ["bash", "-c", "set -a; . /dev/stdin; set +a; env -0"],
        input=rendered("teams")["airflow_ecs.env"],
        text=True,
        capture_output=True,
        env={"PATH": os.environ["PATH"]},
        check=True,
    )
    env = dict(entry.partition("=")[::2] for entry in run.stdout.split("\0") if entry)
    assert env["AIRFLOW__CORE__EXECUTOR"] == EXECUTOR_WITH_TEAMS
    assert env["AIRFLOW__CORE__MULTI_TEAM"] == "True"
    assert env["AIRFLOW__TEAM_A___ECS_FARGATE__TASK_DEFINITION"] == "airflow-queues-team-a-worker"
    assert env["AIRFLOW__TEAM_A___ECS_FARGATE__EVENTS_QUEUE_URL"] == TEAM_A_QUEUE
    assert env["AIRFLOW__TEAM_B___ECS_FARGATE__CLUSTER"] == "airflow-queues"
    assert "AIRFLOW__TEAM_A___ECS_FARGATE__PROFILES" not in env


def test_without_teams_nothing_of_multi_team_is_written():
    files = rendered("queue_profiles")
    assert "MULTI_TEAM" not in files["airflow_ecs.env"] and "=ecs_fargate]" not in files["airflow.cfg"]
    assert "AIRFLOW__CORE__EXECUTOR=airflow_ecs.executor.EcsFargateExecutor\n" in files["airflow_ecs.env"]


def test_render_says_the_team_mapping_and_what_airflow_needs_besides(capsys, tmp_path):
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(outputs_json("teams")))
    assert cli.main(["render", "--outputs", str(source), "--out", str(tmp_path / "generated")]) == 0
    out = capsys.readouterr().out
    assert f"executor = {EXECUTOR_WITH_TEAMS} and multi_team = True" in out
    assert "airflow teams create" in out and "team_name" in out and "scheduler_policy_arn" in out


@pytest.mark.parametrize(
    ("team", "value", "line"),
    [
        (
            "team-a",
            {},
            (
                r"teams\['team-a'\]: a team name must be 3 to 50 letters, digits or underscores .*"
                r"AIRFLOW__TEAM-A___ECS_FARGATE__\*"
            ),
        ),
        ("ab", {}, r"teams\['ab'\]: a team name must be 3 to 50"),
        ("team_a", ["x"], r"teams\['team_a'\] is list \['x'\]; expected an object \{task_definition_family, "),
        (
            "team_a",
            {"task_definition_family": ""},
            (
                r"teams\['team_a'\]\.task_definition_family is str ''; expected a "
                r"non-empty string$"
            ),
        ),
    ],
)
def test_a_wrong_team_output_is_one_line_naming_it(capsys, tmp_path, team, value, line):
    data = outputs_json("teams")
    data["teams"]["value"] = {team: value}
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(data))
    assert cli.main(["render", "--outputs", str(source), "--out", str(tmp_path / "generated")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    import re

    assert re.search(line, err.strip().removeprefix("airflow-ecs render: terraform outputs: ")), err
    assert not (tmp_path / "generated").exists()


# --- one events queue per scheduler ---

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/airflow-queues-task-events"


def test_each_scheduler_gets_its_own_queues_and_knows_they_are_its_own(tmp_path):
    out = tmp_path / "generated"
    write_atomically(rendered("per_scheduler_queues", str(out / TEMPLATE_FILE)), out)
    base = (out / "airflow_ecs.env").read_text()
    seen = []
    for number in (1, 2, 3):
        # Sourced as the file says: airflow_ecs.env, then the scheduler's own.
        text = base + ((out / f"airflow_ecs.scheduler-{number}.env").read_text() if number > 1 else "")
        config = load_config(values_from_env(text).get)
        assert config.events_queue_exclusive is True
        seen.append(config.events_queue_url)
    assert seen == [QUEUE, f"{QUEUE}-2", f"{QUEUE}-3"]  # one each, none shared
    second = read_env_file((out / "airflow_ecs.scheduler-2.env").read_text())
    assert second["AIRFLOW__TEAM_B___ECS_FARGATE__EVENTS_QUEUE_URL"].endswith("team-b-task-events-2")
    assert not (out / "airflow_ecs.scheduler-4.env").exists()


def test_outputs_of_a_terraform_before_per_scheduler_queues_keep_the_shared_queue_behaviour():
    # No events_queue_urls: the one queue may be read by several schedulers, so nothing says it is exclusive.
    for case in ("spot_with_events", "teams"):
        files = rendered(case)
        assert "events_queue_exclusive" not in files["airflow.cfg"]
        assert not [name for name in files if name.startswith("airflow_ecs.scheduler-")]


def test_one_queue_per_scheduler_with_one_scheduler_writes_no_scheduler_file_but_is_exclusive():
    data = outputs_json("spot_with_events")
    data["events_queue_urls"] = {"value": [data["events_queue_url"]["value"]]}
    files = render_files(parse_outputs(data), "/t.j2")
    assert "events_queue_exclusive = True" in files["airflow.cfg"].splitlines()
    assert sorted(files) == ["airflow.cfg", "airflow_ecs.env", TEMPLATE_FILE]


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ([QUEUE, QUEUE], "lists a queue twice"),
        ([f"{QUEUE}-2", QUEUE], "the first queue must be events_queue_url"),
        ([QUEUE, ""], "expected a list of queue URLs"),
        ("one-queue", "expected a list"),
    ],
)
def test_a_wrong_queue_list_is_one_line_naming_it(urls, message):
    data = outputs_json("per_scheduler_queues")
    data["events_queue_urls"]["value"] = urls
    with pytest.raises(OutputsError) as error:
        parse_outputs(data)
    assert message in str(error.value) and "events_queue_urls" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_team_with_another_number_of_queues_than_the_schedulers_is_refused():
    data = outputs_json("per_scheduler_queues")
    team = data["teams"]["value"]["team_a"]
    team["events_queue_urls"] = team["events_queue_urls"][:2]
    with pytest.raises(OutputsError, match=r"teams\['team_a'\].events_queue_urls has 2 queues and events_queue_urls 3"):
        render_files(parse_outputs(data), "/t.j2")


def test_a_scheduler_file_left_from_more_schedulers_is_removed_and_a_users_file_kept(tmp_path):
    data = outputs_json("per_scheduler_queues")
    render_to(data, tmp_path)
    assert (tmp_path / "airflow_ecs.scheduler-3.env").exists()
    (tmp_path / "airflow_ecs.scheduler-9.env").write_text("# mine\n")
    for team in data["teams"]["value"].values():
        team["events_queue_urls"] = team["events_queue_urls"][:2]
    data["events_queue_urls"]["value"] = data["events_queue_urls"]["value"][:2]
    render_to(data, tmp_path)
    assert (tmp_path / "airflow_ecs.scheduler-2.env").exists()
    assert not (tmp_path / "airflow_ecs.scheduler-3.env").exists()  # its queue is gone
    assert (tmp_path / "airflow_ecs.scheduler-9.env").read_text() == "# mine\n"


def test_next_steps_say_how_the_other_schedulers_load_their_queue(tmp_path):
    text = next_steps(tmp_path, (), 3)
    assert "airflow_ecs.scheduler-N.env" in text and "N = 2 to 3" in text
    assert "Schedulers" not in next_steps(tmp_path, (), 1)
