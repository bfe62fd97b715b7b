"""The local ECS built the way ``make apply`` builds it on AWS: terraform/ applied by the real hashicorp/aws
provider with every endpoint pointed at the local moto server, then ``terraform output -json``, the outputs
``airflow-ecs render`` reads. Nothing about the deployment is imitated in Python on this path.

The steps are ``make apply``'s: init, plan -out, apply exactly that plan, output -json. The provider talks to
moto through ``terraform_gaps.GapLayer`` (what moto does not keep, filled in front of it; moto is not patched).
Where the provider is (``terraform_providers.from_environment``: ``AIRFLOW_ECS_PROVIDER_MIRROR``, Terraform's
own CLI config and mirror directories, else the registry, downloaded once into a plugin cache) is said in one
line; ``why_not`` says in one line why this path cannot run here (no terraform, no terraform/ directory in an
installed wheel, no provider), and the local ECS then falls back to ``provision.py``.

``local_variables`` is pure: the tfvars of the local deployment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_ecs.deploy.terraform_providers import ProviderSource, from_environment
from airflow_ecs.deploy.terraform_runner import first_error, warnings_in

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
# The name of the local deployment: cluster airflow-ecs-local, family airflow-ecs-local-worker, and so on.
LOCAL_NAME = "airflow-ecs-local"
LOCAL_IMAGE = "local/airflow-worker:latest"  # what `make worker-image` builds for the container runtime
# Terraform's plugin cache when the provider comes from the registry: one download per machine, not per apply.
PLUGIN_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "airflow-ecs" / "terraform-plugins"


class TerraformApplyError(Exception):
    """One line: the step and Terraform's first error."""


def local_variables(
    *,
    region: str,
    execution_api_server_url: str | None,
    environment: Mapping[str, str],
    image: str = LOCAL_IMAGE,
    teams: Mapping[str, Mapping[str, str]] | None = None,
    schedulers: int = 1,
) -> dict[str, Any]:
    """The tfvars of the local deployment: the module's defaults (new VPC with NAT, flow log, events queue,
    FARGATE strategy, 1 vCPU / 2 GiB) except what a laptop has instead of AWS: the worker image is a local one
    (no ECR repository to push to) and the task environment says where this machine keeps Airflow's files.
    ``teams``: Airflow team -> the environment of its container (terraform/'s ``teams``, other fields the
    root's). ``schedulers``: one events queue each."""
    variables = {
        "region": region,
        "name": LOCAL_NAME,
        # Required by the module; a local ECS started before Airflow (``airflow-ecs local`` without the flag)
        # gets the default API server's address.
        "execution_api_server_url": execution_api_server_url or "http://127.0.0.1:8080/execution/",
        "environment": dict(environment),
        "image": image,
        "create_ecr_repository": False,
        "tags": {"airflow-ecs:deployment": "local"},
    }
    if teams:
        variables["teams"] = {team: {"environment": dict(env)} for team, env in teams.items()}
    if schedulers != 1:  # the module's default otherwise
        variables["events_queue_count"] = schedulers
    return variables


def provider_env(endpoint_url: str, region: str) -> dict[str, str]:
    """The provider's settings for the local ECS: every service's endpoint there, test keys, no metadata
    service (the module's own provider block needs no change: AWS_ENDPOINT_URL is the SDK's standard)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def why_not(source: ProviderSource | None = None, terraform_dir: Path = TERRAFORM_DIR) -> str | None:
    """Why the modules cannot be applied here (one line), or None."""
    if shutil.which("terraform") is None:
        return "no terraform on PATH"
    if not (terraform_dir / "main.tf").is_file():
        return f"no Terraform modules at {terraform_dir} (they come with a checkout of the repository)"
    source = source or provider_source()
    return None if source.available else source.describe()


_source: ProviderSource | None = None


def provider_source() -> ProviderSource:
    """Decided once per process (without a mirror, whether the registry is reachable takes a connection)."""
    global _source
    if _source is None:
        _source = from_environment(plugin_cache=PLUGIN_CACHE)
        if _source.kind == "registry":
            PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    return _source


@dataclass
class AppliedModules:
    outputs: dict[str, Any]
    seconds: float  # init + plan + apply + output, for the log line
    resources: int  # what the apply created


class TerraformWorkspace:
    """A copy of terraform/ in ``directory`` (so no state or .terraform/ lands in the checkout) and the
    Terraform runs in it, with the provider pointed at ``endpoint_url``."""

    def __init__(self, directory: Path, *, source: ProviderSource | None = None, terraform_dir: Path = TERRAFORM_DIR):
        self.directory = Path(directory)
        self.root = self.directory / "terraform"
        self.source = source or provider_source()
        self.terraform_dir = terraform_dir

    def _env(self, endpoint_url: str, region: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "TF_"))}
        env.update({"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", **provider_env(endpoint_url, region)})
        if self.source.cli_config is not None:
            config = self.directory / "terraform.tfrc"
            config.write_text(self.source.cli_config)
            env["TF_CLI_CONFIG_FILE"] = str(config)
        elif os.environ.get("TF_CLI_CONFIG_FILE"):
            env["TF_CLI_CONFIG_FILE"] = os.environ["TF_CLI_CONFIG_FILE"]
        return env

    def terraform(
        self, step: str, *args: str, env: Mapping[str, str], timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """Terraform run in the copy, whatever it exits with (``run`` and ``changes`` judge that): the one
        subprocess call of the workspace. A run that does not end within ``timeout`` is one line."""
        try:
            return subprocess.run(
                ["terraform", *args], cwd=self.root, env=dict(env), capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise TerraformApplyError(f"terraform {step}: no answer within {timeout:.0f}s") from None

    def run(self, step: str, *args: str, env: Mapping[str, str], timeout: float = 900, warn: bool = True) -> str:
        """One step that must exit 0 (and, unless ``warn`` is off, without a warning): its stdout."""
        done = self.terraform(step, *args, env=env, timeout=timeout)
        if done.returncode != 0:
            raise failed(step, done)
        warnings = warnings_in(done.stdout, done.stderr) if warn else []
        if warnings:  # the local tfvars are ours: a warning is a defect here (an undeclared variable, say)
            raise TerraformApplyError(f"terraform {step} warned: {warnings[0]}")
        return done.stdout

    def apply(self, endpoint_url: str, variables: Mapping[str, Any]) -> AppliedModules:
        """init, plan -out, apply that plan, output -json: what ``make apply`` runs."""
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.root.exists():
            shutil.copytree(
                self.terraform_dir,
                self.root,
                ignore=shutil.ignore_patterns(
                    ".terraform", "*.tfstate*", ".terraform.lock.hcl", "terraform.tfvars", "tests"
                ),
            )
        region = str(variables["region"])
        env = self._env(endpoint_url, region)
        var_file = self.directory / "local.tfvars.json"
        var_file.write_text(json.dumps(dict(variables), indent=2, sort_keys=True) + "\n")
        # init's one warning with a mirror is that the lock file holds only this platform's checksum.
        self.run("init", "init", "-input=false", "-no-color", env=env, warn=False)
        self.run("plan", "plan", "-input=false", "-no-color", f"-var-file={var_file}", "-out=local.tfplan", env=env)
        applied = self.run("apply", "apply", "-input=false", "-no-color", "local.tfplan", env=env)
        outputs = json.loads(self.run("output", "output", "-json", "-no-color", env=env))
        return AppliedModules(outputs, time.monotonic() - started, applied_count(applied))

    def changes(self, endpoint_url: str, region: str) -> str:
        """What a plan of the applied modules would change now ('' for nothing): after an apply, any change is
        drift (moto or our gap layer answering other than what was applied), which a user's next plan shows."""
        env = self._env(endpoint_url, region)
        var_file = self.directory / "local.tfvars.json"
        args = ["plan", "-input=false", "-no-color", "-detailed-exitcode", f"-var-file={var_file}"]
        done = self.terraform("plan", *args, env=env, timeout=600)
        if done.returncode == 0:
            return ""
        if done.returncode == 2:  # -detailed-exitcode: the plan holds changes
            changed = [line for line in done.stdout.splitlines() if line.lstrip().startswith(("#", "~", "+", "-"))]
            return "\n".join(changed)
        raise failed("plan", done)


def failed(step: str, done: subprocess.CompletedProcess[str]) -> TerraformApplyError:
    """A step that exited other than it should: its exit status and Terraform's first error, in one line."""
    return TerraformApplyError(
        f"terraform {step} failed (exit {done.returncode}): {first_error(done.stderr, done.stdout)}"
    )


def applied_count(stdout: str) -> int:
    """'Apply complete! Resources: 38 added, ...' -> 38."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("Apply complete! Resources: "):
            return int(line.split("Resources: ", 1)[1].split(" ", 1)[0])
    return 0
