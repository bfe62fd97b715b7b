"""Terraform with the real hashicorp/aws provider, for the tests: one copy of terraform/, one ``init`` per
configuration (in parallel), one CLI config, and moto's server as the AWS the provider talks to.

The provider comes from ``airflow_ecs.deploy.terraform_providers.from_environment`` (Terraform's own order, plus
``AIRFLOW_ECS_PROVIDER_MIRROR``); where there is none, every test using it is skipped with that one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from airflow_ecs.deploy.terraform_providers import ProviderSource, from_environment

REPO = Path(__file__).resolve().parent.parent
TF_DIR = REPO / "terraform"
# Two cores: more Terraform processes at once only queue up, and each provider process holds ~200 MB.
PARALLEL = 3

_source: ProviderSource | None = None


def provider_source() -> ProviderSource:
    """Decided once per test session (the registry check may take a few seconds)."""
    global _source
    if _source is None:
        # From the registry, one download for every init (and every test session), not one per configuration.
        cache = Path(tempfile.gettempdir()) / "airflow-ecs-terraform-plugins"
        cache.mkdir(exist_ok=True)
        _source = from_environment(plugin_cache=cache)
    return _source


def moto_env(endpoint_url: str, region: str = "us-east-1") -> dict[str, str]:
    """The provider's settings for moto: every service's endpoint there, test keys, no metadata service."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> Result:
        assert self.returncode == 0, f"terraform {' '.join(self.args)} exit {self.returncode}:\n{self.stderr[-4000:]}"
        return self


@dataclass
class Workspace:
    """A copy of terraform/ (so no .terraform/ or lock file lands in the repo) and how to run Terraform in it."""

    root: Path
    source: ProviderSource
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, base: Path, source: ProviderSource, extra_env: Mapping[str, str] = ()) -> Workspace:
        root = base / "terraform"
        shutil.copytree(
            TF_DIR,
            root,
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl", "terraform.tfvars"),
        )
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "TF_"))}
        env.update({"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", **dict(extra_env)})
        if source.cli_config is not None:
            config = base / "terraform.tfrc"
            config.write_text(source.cli_config)
            env["TF_CLI_CONFIG_FILE"] = str(config)
        elif "TF_CLI_CONFIG_FILE" in os.environ:
            env["TF_CLI_CONFIG_FILE"] = os.environ["TF_CLI_CONFIG_FILE"]
        return cls(root, source, env)

    def path(self, relative: str) -> Path:
        return self.root / relative if relative else self.root

    def run(self, relative: str, *args: str, env: Mapping[str, str] = (), timeout: float = 600) -> Result:
        process = subprocess.run(
            ["terraform", *args],
            cwd=self.path(relative),
            env={**self.env, **dict(env)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(args, process.returncode, process.stdout, process.stderr)

    def init_all(self, directories: Iterable[str]) -> None:
        def init(relative: str) -> Result:
            return self.run(relative, "init", "-backend=false", "-input=false", "-no-color")

        # The plugin cache is not safe for concurrent writers: the first init fills it, the others only link.
        first, *rest = list(directories)
        init(first).check()
        for result in parallel(init, rest):
            result.check()


def parallel(function, items: Iterable, workers: int = PARALLEL) -> list:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def configurations() -> list[str]:
    """The root, every module and every example, relative to terraform/ ('' is the root)."""
    found = [""]
    for group in ("modules", "examples"):
        found += sorted(f"{group}/{p.name}" for p in (TF_DIR / group).iterdir() if any(p.glob("*.tf")))
    return found


def warnings(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() + result.stderr.splitlines() if line.startswith("Warning:")]
