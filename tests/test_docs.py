"""The user docs agree with the code: generated pages are current, hand-written pages name only what exists,
and their examples do what the text says."""

from __future__ import annotations

import ast
import inspect
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_ecs.core import diagnosis
from airflow_ecs.core.config import OPTIONS, OPTIONS_BY_NAME, load_config
from airflow_ecs.core.diagnosis import diagnose
from airflow_ecs.core.executor_config import KNOWN_KEYS, ExecutorConfigError, apply_settings, parse_executor_config
from airflow_ecs.core.fargate_sizes import FARGATE_SIZES, valid_memory
from airflow_ecs.core.run_task_request import default_template_path, load_template, render, validate
from airflow_ecs.core.task_state import judge, judge_missing
from devtools import reference_docs

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
REGENERATE = "python -m devtools.reference_docs"

SEED_KEYS = (
    "region",
    "cluster",
    "container_name",
    "task_definition",
    "launch_type",
    "platform_version",
    "assign_public_ip",
    "security_groups",
    "subnets",
    "run_task_template",
)


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells (header first, the |---| line dropped)."""
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def sections(text: str) -> dict[str, str]:
    """## or ### heading -> its body (up to the next such heading)."""
    parts = re.split(r"^#{2,3} (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


# --- generated pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", sorted(reference_docs.pages(REPO)), ids=str)
def test_generated_page_is_current(page):
    expected = reference_docs.pages(REPO)[page]
    path = REPO / page
    assert path.is_file(), f"{page} is missing; run: {REGENERATE}"
    assert path.read_text(encoding="utf-8") == expected, f"{page} is out of date; run: {REGENERATE}"


def test_check_mode_names_the_stale_page_and_exits_1(tmp_path, capsys):
    shutil.copytree(REPO / "terraform", tmp_path / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    assert reference_docs.main(["--repo", str(tmp_path)]) == 0
    assert reference_docs.main(["--repo", str(tmp_path), "--check"]) == 0

    variables = tmp_path / "terraform" / "modules" / "cluster" / "variables.tf"
    variables.write_text(
        variables.read_text() + '\nvariable "added_here" {\n  description = "New."\n  type = string\n}\n'
    )
    capsys.readouterr()
    assert reference_docs.main(["--repo", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "docs/terraform.md is out of date" in err and REGENERATE in err
    assert "configuration.md" not in err
    assert reference_docs.main(["--repo", str(tmp_path)]) == 0
    assert "| `added_here` | `string` | required | New. |" in (tmp_path / "docs" / "terraform.md").read_text()


def test_configuration_page_has_every_option_with_its_environment_variable():
    page = read("configuration.md")
    body = sections(page)
    for option in OPTIONS:
        assert option.name in body, f"no section for {option.name}"
        text = body[option.name]
        assert f"`AIRFLOW__ECS_FARGATE__{option.name.upper()}`" in text
        assert option.description in text
        kept = "kept from airflow-ecs-fargate-executor 0.12" in text
        assert kept == (option.version_added is None), option.name
    assert {o.name for o in OPTIONS if o.version_added is None} == set(SEED_KEYS)


def test_configuration_page_minimal_section_loads():
    (block,) = [b for b in code_blocks(read("configuration.md"), "ini") if "[ecs_fargate]" in b]
    section = dict(line.split(" = ", 1) for line in block.split("[ecs_fargate]\n", 1)[1].splitlines() if line)
    config = load_config(section.get)
    assert config.task_definition and config.launch_type == "FARGATE"


def test_terraform_page_documents_every_module_input_and_output():
    import hcl2

    page = read("terraform.md")
    for directory in reference_docs.module_dirs(REPO / "terraform"):
        title = "terraform/ (root module)" if directory.name == "terraform" else f"terraform/modules/{directory.name}"
        assert f"## {title}" in page
        part = page.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
        for path in directory.glob("*.tf"):
            document = hcl2.load(path.open())
            for kind in ("variable", "output"):
                for item in document.get(kind, []):
                    for name in item:
                        assert f"| `{name.strip(chr(34))}` |" in part, f"{title}: {kind} {name} undocumented"


def test_hcl_literals_are_written_back_as_hcl():
    assert reference_docs.hcl_literal('"a\\"b"') == '"a\\"b"'
    assert (
        reference_docs.hcl_literal([{"capacity_provider": '"FARGATE"', "weight": 1, "__is_block__": True}])
        == '[{capacity_provider = "FARGATE", weight = 1}]'
    )
    assert reference_docs.hcl_literal(None) == "null" and reference_docs.hcl_literal(False) == "false"
    assert reference_docs.hcl_type("${map(string)}") == "map(string)"


# --- executor_config.md ------------------------------------------------------------------------------------


def literal(node: ast.AST) -> Any:
    """A literal, where dict(k=v) counts as one: nothing is executed."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {kw.arg: literal(kw.value) for kw in node.keywords}
    if isinstance(node, ast.Dict):
        return {literal(k): literal(v) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [literal(item) for item in node.elts]
    return ast.literal_eval(node)


def executor_configs(source: str) -> list[Any]:
    """Every executor_config=... keyword and executor_config = ... assignment in a Python example."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.keyword) and node.arg == "executor_config") or (
            isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "executor_config" for t in node.targets)
        ):
            found.append(literal(node.value))
    return found


def apply_to_fargate_request(raw: Any) -> dict:
    """What the executor does with the settings, on the shipped shape of a Fargate request."""
    request = {
        "cluster": "airflow",
        "taskDefinition": "airflow-worker",
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "overrides": {"containerOverrides": [{"name": "airflow-worker", "command": ["python", "-c", "pass"]}]},
        "count": 1,
    }
    result = apply_settings(request, parse_executor_config(raw), "airflow-worker")
    validate(result)
    return result


def python_examples() -> list[tuple[str, list[Any]]]:
    blocks = [b for b in code_blocks(read("executor_config.md"), "python") if "executor_config" in b]
    return [(block, executor_configs(block)) for block in blocks]


def test_every_known_key_has_its_section():
    body = sections(read("executor_config.md"))
    for key in KNOWN_KEYS:
        assert f"`{key}`" in body, f"executor_config.md has no '## `{key}`' section"
        assert "executor_config" in body[f"`{key}`"], f"the {key} section shows no example"


def test_python_examples_are_accepted_and_refused_examples_refused():
    examples = python_examples()
    accepted = [(b, c) for b, c in examples if not b.startswith("# refused")]
    refused = [(b, c) for b, c in examples if b.startswith("# refused")]
    assert len(accepted) >= len(KNOWN_KEYS) and len(refused) >= 6
    shown_keys = set()
    for block, configs in accepted:
        assert configs, f"no executor_config found in:\n{block}"
        for raw in configs:
            apply_to_fargate_request(raw)  # raises if the docs show something the executor refuses
            shown_keys |= set(raw)
    assert shown_keys == set(KNOWN_KEYS)
    for _block, configs in refused:
        (raw,) = configs
        with pytest.raises(ExecutorConfigError):
            apply_to_fargate_request(raw)


def test_fargate_size_table_matches_the_code():
    (table,) = [t for t in tables(read("executor_config.md")) if t[0][0] == "cpu (units)"]
    documented = {}
    for cpu, memory in table[1:]:
        if match := re.fullmatch(r"(\d+)-(\d+) in steps of (\d+)", memory):
            low, high, step = map(int, match.groups())
            documented[int(cpu)] = list(range(low, high + 1, step))
        else:
            documented[int(cpu)] = [int(m) for m in memory.split(", ")]
    assert documented == {cpu: valid_memory(cpu) for cpu in FARGATE_SIZES}


# --- migrating.md ------------------------------------------------------------------------------------------


def key_tables(first_header: str) -> list[list[str]]:
    matching = [t for t in tables(read("migrating.md")) if t[0][:2] == [first_header, "airflow-ecs key"]]
    assert len(matching) == 1, f"expected one table headed '{first_header} | airflow-ecs key'"
    return matching[0][1:]


@pytest.mark.parametrize("first_header", ["0.12 key", "[aws_ecs_executor] key"])
def test_migration_tables_name_only_keys_we_have(first_header):
    for row in key_tables(first_header):
        for ours in code_spans(row[1]):
            assert ours in OPTIONS_BY_NAME, f"migrating.md names [ecs_fargate] {ours}, which does not exist"


def test_migration_from_0_12_covers_every_key_of_its_page():
    rows = key_tables("0.12 key")
    assert [code_spans(row[0])[0] for row in rows] == list(SEED_KEYS)
    assert all(code_spans(row[1]) == code_spans(row[0]) for row in rows)  # the promise: names kept


AWS_ECS_EXECUTOR_OPTIONS = Path(__file__).parent / "fixtures" / "aws_ecs_executor_options.json"


def test_migration_from_aws_ecs_executor_covers_every_key_of_its_section():
    """Against the option list of the installed provider (the dev extra has it), and the snapshot, which says
    which provider release the page was written against."""
    from airflow.providers.amazon.get_provider_info import get_provider_info

    snapshot = json.loads(AWS_ECS_EXECUTOR_OPTIONS.read_text())
    theirs = set(snapshot["aws_ecs_executor_options"])
    documented = {code_spans(row[0])[0] for row in key_tables("[aws_ecs_executor] key")}
    assert documented == theirs
    live = set(get_provider_info()["config"]["aws_ecs_executor"]["options"])
    assert live == theirs, f"apache-airflow-providers-amazon changed [aws_ecs_executor]: {sorted(live ^ theirs)}"


def test_migrated_executor_configs_are_accepted():
    (table,) = [
        t
        for t in tables(read("migrating.md"))
        if t[0] == ["AwsEcsExecutor executor_config", "airflow-ecs executor_config"]
    ]
    for theirs, ours in table[1:]:
        requests = [
            apply_to_fargate_request(executor_configs(f"executor_config = {span}")[0]) for span in code_spans(ours)
        ]
        if ours.startswith("the same, or "):  # their executor_config, unchanged, gives what our form gives
            same = apply_to_fargate_request(ast.literal_eval(code_spans(theirs)[0]))
            assert all(request == same for request in requests), theirs


def test_migrated_template_example_renders_a_valid_request(tmp_path):
    (block,) = code_blocks(read("migrating.md"), "json")
    (environment_line,) = [line.strip() for line in block.splitlines() if '"environment"' in line]
    shipped = default_template_path().read_text()
    command = '"command": {{ command | tojson }}'
    assert command in shipped and command in block
    path = tmp_path / "run_task_template.json.j2"
    path.write_text(shipped.replace(command, f"{command},\n{environment_line}"))
    config = load_config(
        {
            "region": "us-east-1",
            "cluster": "airflow",
            "container_name": "airflow-worker",
            "task_definition": "airflow-worker",
            "subnets": "subnet-0a1b2c3d",
        }.get
    )
    request = render(load_template(path), {"conf": config.template_values(), "command": ["true"]})
    validate(request)
    (container,) = request["overrides"]["containerOverrides"]
    assert container["environment"][0] == {"name": "SOME_ENV_A", "value": "a"}


# --- troubleshooting.md ------------------------------------------------------------------------------------

EXITED = "EssentialContainerExited"
ESSENTIAL = "Essential container in task exited"
# (stop code, stopped reason, container reason, exit code) -> the section that explains it.
DIAGNOSE_SAMPLES = [
    (
        ("TaskFailedToStart", "CannotPullContainerError: pull image manifest has been retried 5 time(s)", None, None),
        "CannotPullContainerError: image not pulled",
    ),
    (
        ("TaskFailedToStart", "Timeout waiting for network interface provisioning to complete.", None, None),
        "Network interface could not be set up",
    ),
    (
        ("TaskFailedToStart", "ResourceInitializationError: unable to pull secrets or registry auth", None, None),
        "ResourceInitializationError: secrets or registry auth",
    ),
    (("SpotInterruption", "Your Spot Task was interrupted.", None, None), "SpotInterruption"),
    (("TerminationNotice", "Task stopped due to a termination notice", None, None), "TerminationNotice"),
    ((EXITED, ESSENTIAL, "OutOfMemoryError: Container killed due to memory usage", 137), "OutOfMemoryError"),
    (("TaskFailedToStart", "Task failed to start", None, None), "TaskFailedToStart"),
    (("UserInitiated", "Task stopped by user", None, None), "UserInitiated: stopped before the container ran"),
    ((EXITED, ESSENTIAL, None, None), "No exit code"),
    ((EXITED, ESSENTIAL, None, 0), "Exit code 0"),
    ((EXITED, ESSENTIAL, None, 137), "Exit code 137"),
    ((EXITED, ESSENTIAL, None, 143), "Exit code 143"),
    ((EXITED, ESSENTIAL, None, 1), "Exit code 1"),
    ((EXITED, ESSENTIAL, None, 127), "Exit code 126 or 127"),
    ((EXITED, ESSENTIAL, None, 126), "Exit code 126 or 127"),
    ((EXITED, ESSENTIAL, None, 2), "Any other exit code"),
    ((None, None, None, 3), "Any other exit code"),
]


def documented_causes() -> dict[str, list[re.Pattern]]:
    """Section heading -> the event-log lines it explains, as patterns ('…' any text, '<code>' a number)."""
    found = {}
    for heading, body in sections(read("troubleshooting.md")).items():
        patterns = []
        for template in re.findall(r"^Event log: `([^`]+)`", body, flags=re.MULTILINE):
            pattern = re.escape(template).replace("…", ".*").replace("<code>", r"\d+")
            patterns.append(re.compile(pattern))
        found[heading] = patterns
    return found


@pytest.mark.parametrize(("inputs", "heading"), DIAGNOSE_SAMPLES, ids=[s[1] + f" {s[0][3]}" for s in DIAGNOSE_SAMPLES])
def test_each_diagnosis_has_its_troubleshooting_section(inputs, heading):
    causes = documented_causes()
    assert heading in causes, f"troubleshooting.md has no '### {heading}'"
    cause = diagnose(*inputs).cause
    assert any(p.fullmatch(cause) for p in causes[heading]), f"'### {heading}' does not show {cause!r}"


def test_samples_reach_every_branch_of_diagnose():
    """Each return of diagnose() is reached by a sample, so a new branch without a section fails here."""
    source, first = inspect.getsourcelines(diagnosis.diagnose)
    returns = {first - 1 + n.lineno for n in ast.walk(ast.parse("".join(source))) if isinstance(n, ast.Return)}
    code = diagnosis.diagnose.__code__
    reached: set[int] = set()

    def trace(frame, event, arg):
        if frame.f_code is code:
            reached.add(frame.f_lineno)
            return trace
        return None

    sys.settrace(trace)
    try:
        for inputs, _ in DIAGNOSE_SAMPLES:
            diagnose(*inputs)
    finally:
        sys.settrace(None)
    assert returns and not returns - reached, f"no sample reaches diagnosis.py lines {sorted(returns - reached)}"


def test_task_state_causes_have_their_sections():
    causes = documented_causes()
    sidecar_only = {"lastStatus": "STOPPED", "stopCode": EXITED, "containers": [{"name": "proxy", "exitCode": 0}]}
    cause = judge(sidecar_only, "airflow-worker").diagnosis.cause
    assert any(p.fullmatch(cause) for p in causes["No container named like `container_name`"])
    cause = judge_missing(seen_running=False).diagnosis.cause
    assert any(p.fullmatch(cause) for p in causes["MISSING"])


def test_docs_index_links_every_page():
    index = read("README.md")
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not link {page.name}"
    for link in re.findall(r"\]\(([\w.]+\.md)\)", index):
        assert (DOCS / link).is_file() or link == "benchmarks.md", f"docs/README.md links missing {link}"
