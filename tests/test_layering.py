"""The package's layering, enforced: each layer imports only what README's "How it fits together" says it may.

An AST walk over the source (no import runs, no new dependency): every ``import`` and ``from ... import``,
at module level or inside a function (a lazy import is still a dependency). Imports done by name at run time
(``importlib.import_module`` of the CLI's command table) are not seen: they are the CLI's wiring, by design.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("airflow_ecs", "devtools")  # ours; tests/ and benchmarks/ are not packages anything may import


@dataclass(frozen=True)
class Import:
    name: str  # the dotted module imported (for `from a import b`, also a.b when that is a module of ours)
    line: int
    top_level: bool  # at module level (runs on import) rather than inside a function


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))}


MODULES = source_files()


def imports_of(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), str(path))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function.update(id(child) for child in ast.walk(node) if child is not node)
    for node in ast.walk(tree):
        top = id(node) not in in_function
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, top)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield Import(node.module, node.lineno, top)
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    yield Import(f"{node.module}.{alias.name}", node.lineno, top)


IMPORTS = {name: list(imports_of(path)) for name, path in MODULES.items()}


def within(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def reachable(start: str) -> dict[str, str]:
    """Every module of ours ``start`` imports, directly or not, each with the module that imports it."""
    seen = {start: ""}
    todo = [start]
    while todo:
        current = todo.pop()
        for found in IMPORTS[current]:
            if found.name in MODULES and found.name not in seen:
                seen[found.name] = current
                todo.append(found.name)
    return seen


def chain(seen: dict[str, str], end: str) -> str:
    path = [end]
    while seen[path[-1]]:
        path.append(seen[path[-1]])
    return " -> ".join(reversed(path))


CORE = sorted(name for name in MODULES if within(name, "airflow_ecs.core"))
# botocore's RunTask model is read (data, no AWS call) by the request checks, inside the functions that need it.
CORE_LAZY_ONLY = ("botocore",)
CORE_NEVER = ("boto3", "airflow", "threading")


def test_the_layers_exist():
    # A rename that empties a layer would make the rules below pass vacuously.
    assert {
        "airflow_ecs.core.tracking",
        "airflow_ecs.core.events",
        "airflow_ecs.aws.ecs_api",
        "airflow_ecs.executor",
        "airflow_ecs.deploy.generator",
        "airflow_ecs.cli",
        "airflow_ecs.local.server",
        "devtools.demo",
    } <= set(MODULES)


@pytest.mark.parametrize("module", CORE)
def test_core_imports_only_core_and_no_aws_airflow_or_threads(module):
    wrong = []
    for found in IMPORTS[module]:
        if (within(found.name, "airflow_ecs") and not within(found.name, "airflow_ecs.core")) or within(
            found.name, "devtools", "tests", "benchmarks"
        ):
            wrong.append(f"{found.name} (line {found.line}): core imports only core")
        elif within(found.name, *CORE_NEVER):
            wrong.append(f"{found.name} (line {found.line}): core runs without AWS, Airflow or threads")
        elif within(found.name, *CORE_LAZY_ONLY) and found.top_level:
            wrong.append(f"{found.name} (line {found.line}): only inside the function that reads its model")
    assert not wrong, f"{module}: " + "; ".join(wrong)


def test_nothing_on_the_executor_path_imports_the_local_ecs_the_cli_or_dev_tools():
    seen = reachable("airflow_ecs.executor")
    wrong = [
        chain(seen, name)
        for name in seen
        if within(name, "airflow_ecs.local", "airflow_ecs.cli", "devtools", "tests", "benchmarks")
    ]
    assert not wrong, "the scheduler would import: " + "; ".join(wrong)


@pytest.mark.parametrize("module", sorted(name for name in MODULES if within(name, "airflow_ecs.deploy")))
def test_deployment_does_not_import_the_executor(module):
    seen = reachable(module)
    wrong = [chain(seen, name) for name in seen if within(name, "airflow_ecs.executor", "airflow_ecs.glue")]
    assert not wrong, "render and Terraform need no scheduler: " + "; ".join(wrong)


@pytest.mark.parametrize("module", sorted(name for name in MODULES if within(name, "airflow_ecs")))
def test_the_runtime_package_imports_no_dev_tools_or_tests(module):
    wrong = [
        f"{found.name} (line {found.line})"
        for found in IMPORTS[module]
        if within(found.name, "devtools", "tests", "benchmarks")
    ]
    assert not wrong, f"{module} is in the wheel; devtools/, tests/ and benchmarks/ are not: {wrong}"


def test_no_import_cycles_in_the_runtime_package_or_the_dev_tools():
    # A package's __init__ importing its own modules is not a cycle of the flow; every other loop is (two modules
    # that need each other are one concern, or a third module is missing). devtools/ too: its reference_docs and
    # refusals were such a pair.
    cycles = []
    for module in MODULES:
        seen = reachable(module)
        for found in IMPORTS[module]:
            nested = module.startswith(found.name + ".") or found.name.startswith(module + ".")
            if found.name in seen and module in reachable(found.name) and found.name != module and not nested:
                cycles.append(f"{module} <-> {found.name}")
    assert not cycles, sorted(set(cycles))


def readme_layout() -> dict[str, set[str]]:
    """README's module names per directory: the block after "The package, one directory per layer"."""
    text = (REPO / "README.md").read_text()
    block = text[text.index("The package, one directory per layer") :].split("```")[1]
    listed: dict[str, set[str]] = {}
    directory = ""
    for line in block.strip("\n").splitlines():
        if line[:1].strip():  # a directory's first line: the directory, what it is, then ": its modules"
            directory, _, line = line.partition(" ")
            line = re.sub(r"\([^)]*\)", "", line).partition(":")[2]
        else:  # the list goes on
            line = re.sub(r"\([^)]*\)", "", line)
        listed.setdefault(directory, set()).update(
            word.strip() for word in line.split(",") if word.strip().isidentifier()
        )
    return listed


def test_readme_lists_every_module_of_each_layer():
    listed = readme_layout()
    for directory in [
        *(
            f"airflow_ecs/{sub.name}/"
            for sub in sorted((REPO / "airflow_ecs").iterdir())
            if (sub / "__init__.py").is_file() and sub.name != "templates"
        ),
        "devtools/",
    ]:
        files = {path.stem for path in (REPO / directory).glob("*.py") if path.stem != "__init__"}
        assert directory in listed, f"README's layout does not list {directory}"
        assert files <= listed[directory], f"README's layout misses {sorted(files - listed[directory])} of {directory}"
        assert listed[directory] <= files, (
            f"README's layout names {sorted(listed[directory] - files)} in {directory}, which has no such module"
        )


def test_the_wheel_holds_every_runtime_package_and_no_dev_tools():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    packages = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    runtime = {module_name(init.parent / "__init__.py") for init in (REPO / "airflow_ecs").rglob("__init__.py")}
    assert packages == runtime | {"airflow_ecs.templates"}, "pyproject's packages must list each subpackage, only"
