"""Where the AWS provider comes from (airflow_ecs.deploy.terraform_providers.discover): Terraform's order, no I/O but
the temporary directories each case builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_ecs.deploy.terraform_providers import MIRROR_ENV, discover, mirror_cli_config


def mirror(directory: Path, version: str = "5.100.0") -> Path:
    (directory / "registry.terraform.io" / "hashicorp" / "aws" / version / "linux_amd64").mkdir(parents=True)
    return directory


def never() -> bool:
    raise AssertionError("the registry must not be asked when something before it answers")


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def test_the_variable_comes_first(tmp_path, home):
    given = mirror(tmp_path / "given")
    mirror(home / ".terraform.d" / "plugins")
    found = discover({MIRROR_ENV: str(given)}, home, never, plugin_cache=tmp_path / "cache")
    assert (found.kind, found.detail) == ("mirror", str(given))
    assert "plugin_cache_dir" not in found.cli_config  # a cache cannot hold links to a mirror
    assert f'path    = "{given}"' in found.cli_config
    assert str(given) in found.describe() and "\n" not in found.describe()


def test_a_variable_naming_no_mirror_is_said_not_passed_over(tmp_path, home):
    found = discover({MIRROR_ENV: str(tmp_path / "empty")}, home, lambda: True)
    assert not found.available
    assert f"{MIRROR_ENV}={tmp_path / 'empty'}" in found.describe()


def test_a_cli_config_with_provider_installation_is_left_to_terraform(tmp_path, home):
    config = tmp_path / "cli.tfrc"
    config.write_text('provider_installation {\n  network_mirror {\n    url = "https://m.example/"\n  }\n}\n')
    mirror(home / ".terraform.d" / "plugins")
    found = discover({"TF_CLI_CONFIG_FILE": str(config)}, home, never)
    assert (found.kind, found.detail, found.cli_config) == ("cli-config", str(config), None)


def test_a_cli_config_without_provider_installation_does_not_count(tmp_path, home):
    config = tmp_path / "cli.tfrc"
    config.write_text('plugin_cache_dir = "/tmp/cache"\n')
    found = discover({"TF_CLI_CONFIG_FILE": str(config)}, home, lambda: True)
    assert found.kind == "registry"


@pytest.mark.parametrize("where", [".terraform.d/plugins", ".local/share/terraform/plugins"])
def test_terraforms_implied_mirror_directories_under_home(home, where):
    directory = mirror(home / where)
    found = discover({}, home, never)
    assert (found.kind, found.detail) == ("mirror", str(directory))


def test_xdg_data_dirs(tmp_path, home):
    directory = mirror(tmp_path / "share" / "terraform" / "plugins")
    found = discover({"XDG_DATA_DIRS": f"{tmp_path / 'nothing'}:{tmp_path / 'share'}"}, home, never)
    assert (found.kind, found.detail) == ("mirror", str(directory))


def test_the_registry_when_reachable_else_one_line_why_not(home, tmp_path):
    from_registry = discover({}, home, lambda: True, plugin_cache=tmp_path / "cache")
    assert from_registry.kind == "registry"
    assert from_registry.cli_config == f'plugin_cache_dir = "{tmp_path / "cache"}"\n'  # one download per session
    found = discover({}, home, lambda: False)
    assert not found.available
    line = found.describe()
    assert "\n" not in line and MIRROR_ENV in line and "registry.terraform.io cannot be reached" in line


def test_the_generated_config_mirrors_aws_only_and_leaves_the_rest_direct(tmp_path):
    text = mirror_cli_config(tmp_path, tmp_path / "cache")
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text
    assert f'plugin_cache_dir = "{tmp_path / "cache"}"' in text
