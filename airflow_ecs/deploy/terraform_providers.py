"""Where the AWS provider comes from, decided the way Terraform decides it, in one line.

Terraform installs a provider from (https://developer.hashicorp.com/terraform/cli/config/config-file):
1. the ``provider_installation`` block of the CLI config (``TF_CLI_CONFIG_FILE``, else ``~/.terraformrc``),
   when there is one: only what it says;
2. else the implied local mirror directories (``terraform.d/plugins`` beside the configuration,
   ``~/.terraform.d/plugins``, ``$XDG_DATA_HOME/terraform/plugins`` and each ``$XDG_DATA_DIRS/terraform/plugins``)
   for the providers found there, and the registry for the rest.

We add one documented variable in front: ``AIRFLOW_ECS_PROVIDER_MIRROR``, a directory in the filesystem-mirror
layout (``registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/``), for a machine whose mirror is in none
of those places (the CI image keeps it in /opt/tf-plugins; the Makefile passes it). ``discover`` is pure:
the environment, the files and the reachability of the registry are its arguments.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

MIRROR_ENV = "AIRFLOW_ECS_PROVIDER_MIRROR"
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
REGISTRY_HOST = "registry.terraform.io"


@dataclass(frozen=True)
class ProviderSource:
    """How ``terraform init`` gets hashicorp/aws: ``kind`` is mirror, cli-config, registry or none."""

    kind: str
    detail: str  # the directory, the file, or why there is none
    cli_config: str | None = None  # the CLI config text to run Terraform with; None: the user's own, untouched

    @property
    def available(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        if self.kind == "mirror":
            return f"AWS provider from the filesystem mirror {self.detail}"
        if self.kind == "cli-config":
            return f"AWS provider as the CLI config {self.detail} says (its provider_installation block)"
        if self.kind == "registry":
            return f"AWS provider from the registry ({REGISTRY_HOST} is reachable)"
        return (
            f"no AWS provider: {self.detail}; set {MIRROR_ENV} to a filesystem mirror holding "
            f"{AWS_PROVIDER}, or give Terraform a CLI config with a provider_installation block"
        )


def mirror_versions(directory: Path) -> list[str]:
    """The hashicorp/aws versions a filesystem mirror holds (unpacked or packed layout)."""
    base = directory / AWS_PROVIDER
    if not base.is_dir():
        return []
    return sorted(entry.name for entry in base.iterdir() if entry.is_dir() or entry.suffix == ".json")


def implied_mirror_dirs(env: Mapping[str, str], home: Path, workdir: Path | None = None) -> list[Path]:
    """Terraform's implied local mirror directories on Linux/macOS, in its order."""
    data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    data_dirs = [Path(p) for p in (env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":") if p]
    dirs = [workdir / "terraform.d" / "plugins"] if workdir else []
    return (
        dirs
        + [home / ".terraform.d" / "plugins", data_home / "terraform" / "plugins"]
        + [d / "terraform" / "plugins" for d in data_dirs]
    )


def cli_config_path(env: Mapping[str, str], home: Path) -> Path:
    return Path(env["TF_CLI_CONFIG_FILE"]) if env.get("TF_CLI_CONFIG_FILE") else home / ".terraformrc"


_INSTALLATION = re.compile(r"^\s*provider_installation\s*\{", re.MULTILINE)


def mirror_cli_config(directory: Path, plugin_cache: Path | None = None) -> str:
    """A CLI config that installs hashicorp/aws from ``directory`` and everything else as usual."""
    cache = f'plugin_cache_dir = "{plugin_cache}"\n' if plugin_cache else ""
    return (
        f"provider_installation {{\n"
        f'  filesystem_mirror {{\n    path    = "{directory}"\n    include = ["{AWS_PROVIDER}"]\n  }}\n'
        f'  direct {{\n    exclude = ["{AWS_PROVIDER}"]\n  }}\n}}\n{cache}'
    )


def discover(
    env: Mapping[str, str], home: Path, registry_reachable: Callable[[], bool], plugin_cache: Path | None = None
) -> ProviderSource:
    """Terraform's own order, with ``AIRFLOW_ECS_PROVIDER_MIRROR`` first."""
    given = env.get(MIRROR_ENV)
    if given:
        directory = Path(given)
        if not mirror_versions(directory):
            return ProviderSource("none", f"{MIRROR_ENV}={given} holds no {AWS_PROVIDER}")
        # No plugin cache with a mirror: init links the unpacked mirror directly, and Terraform's cache cannot
        # hold a link to a mirror ("file exists" on the next init).
        return ProviderSource("mirror", str(directory), mirror_cli_config(directory))
    config = cli_config_path(env, home)
    try:
        text = config.read_text()
    except OSError:
        text = ""
    if _INSTALLATION.search(text):
        return ProviderSource("cli-config", str(config))
    for directory in implied_mirror_dirs(env, home):
        if mirror_versions(directory):
            # Terraform would find it by itself; naming it keeps the other providers on the registry as usual.
            return ProviderSource("mirror", str(directory), mirror_cli_config(directory))
    if registry_reachable():
        cache = f'plugin_cache_dir = "{plugin_cache}"\n' if plugin_cache else ""
        return ProviderSource("registry", REGISTRY_HOST, cache)
    return ProviderSource(
        "none",
        f"no mirror in {MIRROR_ENV}, the CLI config ({config}) or Terraform's implied "
        f"mirror directories, and {REGISTRY_HOST} cannot be reached",
    )


def registry_reachable(timeout: float = 3.0) -> bool:
    """A TCP connection to the registry's HTTPS port: enough to know init would not hang on DNS or a firewall."""
    try:
        with socket.create_connection((REGISTRY_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def from_environment(plugin_cache: Path | None = None) -> ProviderSource:
    return discover(os.environ, Path.home(), registry_reachable, plugin_cache)
