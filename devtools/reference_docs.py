"""The reference pages generated from their one source, so they cannot drift from it.

``docs/configuration.md`` comes from ``config.OPTIONS``; ``docs/terraform.md`` from the ``variable`` and
``output`` blocks of terraform/ and terraform/modules/* (parsed with python-hcl2); ``docs/refusals.md`` from
running ``refusals.catalogue()`` (that module holds the entries and imports nothing of this one).

    python -m devtools.reference_docs           # (re)write the pages
    python -m devtools.reference_docs --check   # exit 1 naming each page that is out of date

Each page is a pure function of its source; only ``main`` reads and writes files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from airflow_ecs.core.config import OPTIONS, SECTION, Option
from devtools.refusals import INTRO as REFUSALS_INTRO
from devtools.refusals import Refusal, catalogue

REPO = Path(__file__).resolve().parents[1]
COMMAND = "python -m devtools.reference_docs"
CONFIGURATION_PAGE = Path("docs/configuration.md")
TERRAFORM_PAGE = Path("docs/terraform.md")
REFUSALS_PAGE = Path("docs/refusals.md")
SEED_PACKAGE = "airflow-ecs-fargate-executor 0.12"


def _generated_notice(source: str) -> str:
    return f"<!-- Generated from {source} by `{COMMAND}`; edit the source, not this file. -->"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    # A backtick inside would end the code span early; none of our values has one, but stay correct.
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def env_var(option: Option) -> str:
    return f"AIRFLOW__{SECTION.upper()}__{option.name.upper()}"


def origin(option: Option) -> str:
    return f"kept from {SEED_PACKAGE}" if option.version_added is None else f"new in {option.version_added}"


def _default_text(option: Option) -> str:
    if option.required:
        return "required"
    if option.default in (None, ""):
        return "(empty)"
    return _code(option.default)


# --- docs/configuration.md ---------------------------------------------------------------------------------


def configuration_page(options: Sequence[Option] = OPTIONS) -> str:
    lines = [
        f"# Configuration reference: `[{SECTION}]`",
        "",
        _generated_notice("`airflow_ecs/core/config.py` (`OPTIONS`)"),
        "",
        (
            f"Every key of the `[{SECTION}]` section of `airflow.cfg`. Each can also be set as an environment variable "
            f"`AIRFLOW__{SECTION.upper()}__<KEY>` (the key in upper case), which wins over `airflow.cfg` as in any "
            "Airflow section. The scheduler refuses to start on an unknown key or a bad value and logs one line "
            "naming it. `airflow config list --section ecs_fargate` prints the same keys with their defaults."
        ),
        "",
        "`airflow-ecs render` writes this section from the Terraform outputs; you rarely write it by hand.",
        "",
        "| Key | Type | Default | Origin |",
        "|---|---|---|---|",
    ]
    for option in options:
        lines.append(
            f"| [`{option.name}`](#{option.name}) | {option.type} | {_cell(_default_text(option))} | {origin(option)} |"
        )
    required = [option for option in options if option.required or option.name == "task_definition"]
    lines += [
        "",
        "The smallest working section (the shipped run_task template also needs `task_definition`):",
        "",
        "```ini",
        "[core]",
        "executor = airflow_ecs.executor.EcsFargateExecutor",
        "",
        f"[{SECTION}]",
        *(f"{option.name} = {option.example}" for option in required),
        "```",
        "",
        "## AWS credentials",
        "",
        (
            "In this order: `aws_conn_id`, an Airflow `aws` connection; else "
            "`aws_profile`; else boto3's standard chain "
            "(the scheduler's role on ECS or EKS, environment variables). With the amazon provider installed "
            "(`pip install 'airflow-ecs[amazon]'`) the connection is read by its AwsBaseHook, as AwsEcsExecutor and "
            "every Airflow AWS hook read it: `role_arn` with `assume_role_method` (`assume_role`, "
            "`assume_role_with_web_identity`, `assume_role_with_saml`), `region_name`, `endpoint_url`, "
            "`service_config` and the other extras. Without the provider, login and password are the access key and "
            "secret, and the extra may hold only `aws_session_token`, "
            "`region_name`, `profile_name` and `endpoint_url`. "
            "Every client (ECS, SQS, CloudWatch Logs) shares one set of credentials, refreshed before they expire and "
            "read again when AWS answers ExpiredToken, so an assumed role or a rotated key never stops the scheduler. "
            "For example, a connection that assumes the scheduler's role:"
        ),
        "",
        "```sh",
        (
            "airflow connections add aws_ecs --conn-type aws "
            '--conn-extra \'{"role_arn": "arn:aws:iam::123456789012:role/airflow-scheduler", "region_name": '
            '"eu-west-1"}\''
        ),
        "```",
        "",
        (
            "and `aws_conn_id = aws_ecs`. A connection the executor cannot read, or credentials AWS refuses, stop the "
            "start with one line naming the connection (no secret is logged)."
        ),
        "",
        "## Teams (multi-team Airflow)",
        "",
        (
            "With `[core] multi_team = True` each team's executor is an `EcsFargateExecutor` of its own, e.g. "
            "`[core] executor = "
            "airflow_ecs.executor.EcsFargateExecutor;team_a=airflow_ecs.executor.EcsFargateExecutor` "
            "(Airflow wants a global executor first). A team's executor reads "
            f"only its team's section: `[team_a={SECTION}]` in `airflow.cfg`, or `AIRFLOW__TEAM_A___{SECTION.upper()}__"
            "<KEY>` (three underscores after the team), with no fallback to the global section; the unknown-key check "
            "reads the same. `aws_conn_id` is looked up among the team's connections. When the section sets no "
            "`execution_api_server_url`, the team's `[core] execution_api_server_url` (if it has one) is given to its "
            "containers. Its ECS tasks carry the tag `airflow:team`, and its metrics the tag `team`. "
            "`airflow-ecs check` checks each team's section after the deployment's (the teams with a section, with "
            f"`AIRFLOW__<TEAM>___{SECTION.upper()}__*` variables, or whose executor in `[core] executor` is ours), "
            "each line naming its team; a team's section the scheduler would refuse is that one line, naming "
            f"`[<team>={SECTION}]`."
        ),
        "",
        (
            "From Terraform: `teams` in terraform/ (see "
            "[terraform/README.md](../terraform/README.md#teams)) gives each "
            "team, on the shared cluster and network, its own task definition, task and execution roles, log group, "
            "events queue and scheduler policy, and `airflow-ecs render` writes everything the executors read: a "
            f"`[<team>={SECTION}]` section per team (the deployment's settings with the team's task definition and "
            "events queue, and no queue profiles, whose task definitions run as the deployment's task role), and "
            "`[core] executor` with the team mapping plus `multi_team = True` (set by `airflow_ecs.env`; for "
            "`airflow.cfg`, render prints the line to put in `[core]`)."
        ),
        "",
        (
            "Each team's events must reach that team's executor only: each team has its own `events_queue_url`, fed by "
            "its own EventBridge rule on its own task definition family, and the deployment's rule matches only the "
            "deployment's families. With several schedulers, each has its own queue of each team's events too "
            "(Terraform's `events_queue_count`; render writes one env file per further scheduler). (Executors "
            "sharing one queue still work with `events_queue_exclusive = False`: each hands back the events of "
            "tasks it does not own, at the cost of a few receives per event.)"
        ),
        "",
        (
            "What Airflow itself needs besides: each team in its database (`airflow teams create team_a`, or "
            "`airflow teams sync` from the bundle config), and each team's "
            "DAGs in a DAG bundle with its `team_name` in "
            "`[dag_processor] dag_bundle_config_list`. The team's containers parse the same bundle: give them the same "
            "`dag_bundle_config_list` (the team's `environment` in Terraform, or the image's airflow.cfg) and "
            "`[core] multi_team = True` (Terraform sets it on every team's task definition). To keep a team's executor "
            "to its own resources, give the team an `aws` connection whose `role_arn` is a role carrying the team's "
            "`scheduler_policy_arn` (output `teams`), and set `aws_conn_id` in its section."
        ),
        "",
        "## Keys",
    ]
    for option in options:
        lines += [
            "",
            f"### {option.name}",
            "",
            option.description,
            "",
            f"- Type: {option.type}",
            f"- Default: {_default_text(option)}",
        ]
        if option.example is not None:
            lines.append(f"- Example: `{option.name} = {option.example}`")
        lines += [
            f"- Environment variable: `{env_var(option)}`",
            f"- Origin: {origin(option)}",
        ]
    return "\n".join(lines) + "\n"


# --- docs/terraform.md -------------------------------------------------------------------------------------


def _unquote(value: str) -> str:
    """python-hcl2 (>= 7) keeps a string literal's quotes and HCL escapes: '"a\\"b"' -> 'a"b'."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value[1:-1]
    return value


def _expression(value: str) -> str | None:
    """The text of an HCL expression as python-hcl2 gives it ('${map(string)}'), or None for a literal."""
    if value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return None


def hcl_literal(value: Any) -> str:
    """A parsed HCL value written back as HCL (strings quoted, objects as {k = v})."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        expression = _expression(value)
        return expression if expression is not None else json.dumps(_unquote(value))
    if isinstance(value, list):
        return "[" + ", ".join(hcl_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = [(k, v) for k, v in value.items() if not str(k).startswith("__")]  # hcl2's __is_block__ markers
        return "{" + ", ".join(f"{_unquote(str(k))} = {hcl_literal(v)}" for k, v in items) + "}"
    return str(value)


def hcl_type(value: Any) -> str:
    if value is None:
        return "any"
    if isinstance(value, str):
        return _expression(value) or _unquote(value)
    return hcl_literal(value)


def _blocks(documents: Iterable[dict], kind: str) -> list[tuple[str, dict]]:
    return [
        (_unquote(str(name)), body)
        for document in documents
        for item in document.get(kind, [])
        for name, body in item.items()
    ]


def load_module(directory: Path) -> list[dict]:
    """The parsed *.tf files of one module, in file name order (declaration order within a file)."""
    import hcl2  # a dev/docs dependency, not needed at run time

    documents = []
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            documents.append(hcl2.load(handle))
    return documents


def module_section(title: str, readme_link: str | None, documents: list[dict]) -> list[str]:
    lines = [f"## {title}", ""]
    if readme_link:
        lines += [f"What it creates: [{readme_link}]({readme_link}).", ""]
    variables = _blocks(documents, "variable")
    outputs = _blocks(documents, "output")
    lines += ["### Inputs", ""]
    if variables:
        lines += ["| Name | Type | Default | Description |", "|---|---|---|---|"]
        for name, body in variables:
            default = "required" if "default" not in body else _code(hcl_literal(body["default"]))
            lines.append(
                f"| `{name}` | {_cell(_code(hcl_type(body.get('type'))))} | {_cell(default)} "
                f"| {_cell(_unquote(str(body.get('description', ''))))} |"
            )
    else:
        lines.append("None.")
    lines += ["", "### Outputs", ""]
    if outputs:
        lines += ["| Name | Description |", "|---|---|"]
        for name, body in outputs:
            sensitive = " (sensitive)" if body.get("sensitive") is True else ""
            lines.append(f"| `{name}` | {_cell(_unquote(str(body.get('description', ''))))}{sensitive} |")
    else:
        lines.append("None.")
    lines.append("")
    return lines


def module_dirs(tf_dir: Path) -> list[Path]:
    modules = tf_dir / "modules"
    found = sorted(p for p in modules.iterdir() if p.is_dir() and any(p.glob("*.tf"))) if modules.is_dir() else []
    return [tf_dir, *found]


def terraform_page(tf_dir: Path) -> str:
    """Inputs and outputs of the root module and of each module under modules/."""
    directories = module_dirs(tf_dir)
    names = ["terraform/ (root module)" if d == tf_dir else f"terraform/modules/{d.name}" for d in directories]
    lines = [
        "# Terraform module reference",
        "",
        _generated_notice(
            'the `variable` and `output` blocks of `terraform/**/*.tf` and the "Checks" section of '
            "`terraform/README.md`"
        ),
        "",
        (
            "Apply the root module (`make apply`); it composes the others and its outputs are what "
            '`airflow-ecs render` reads. The modules can also be used on their own. "required" means the input '
            "has no default."
        ),
        "",
    ]
    checks = checks_section(tf_dir)
    lines += [f"- [{name}](#{_anchor(name)})" for name in [*([checks[0][3:]] if checks else []), *names]]
    lines.append("")
    lines += checks
    for directory, name in zip(directories, names, strict=True):
        readme = directory / "README.md"
        link = f"../{readme.relative_to(tf_dir.parent).as_posix()}" if readme.is_file() else None
        lines += module_section(name, link, load_module(directory))
    return "\n".join(lines).rstrip("\n") + "\n"


def checks_section(tf_dir: Path) -> list[str]:
    """terraform/README.md's "## Checks" section (what is proven on one machine, what only AWS can prove), its
    links made relative to docs/; empty without one."""
    readme = tf_dir / "README.md"
    if not readme.is_file():
        return []
    lines = readme.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## Checks")), None)
    if start is None:
        return []
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    prefix = f"../{tf_dir.name}/"
    relink = re.compile(r"\]\((?!https?:|#|\.\./|/)([^)]+)\)")
    return [relink.sub(lambda m: f"]({prefix}{m.group(1)})", line) for line in lines[start:end]] + [""]


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


# --- docs/refusals.md --------------------------------------------------------------------------------------


def refusals_page(refusals: Iterable[Refusal], intro: str = REFUSALS_INTRO) -> str:
    """One table per section: each input beside the line the code says for it (``refusals.catalogue()``)."""
    lines = [_generated_notice("devtools/refusals.py"), "", intro]
    current = None
    for refusal in refusals:
        if refusal.section != current:
            current = refusal.section
            lines += [f"## {current}", "", "| Input | Line |", "|---|---|"]
        lines.append(f"| {_cell(_code(refusal.given))} | {_cell(refusal.line)} |")
    # A blank line ends each table before the next heading.
    out: list[str] = []
    for line in lines:
        if line.startswith("## ") and out and out[-1] != "":
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n"


# --- files -------------------------------------------------------------------------------------------------


def pages(repo: Path = REPO) -> dict[Path, str]:
    """Relative path -> content of every generated page."""
    return {
        CONFIGURATION_PAGE: configuration_page(),
        TERRAFORM_PAGE: terraform_page(repo / "terraform"),
        REFUSALS_PAGE: refusals_page(catalogue()),
    }


def stale_pages(repo: Path = REPO) -> list[Path]:
    """The generated pages whose checked-in file differs from what the generator makes now."""
    stale = []
    for relative, content in pages(repo).items():
        path = repo / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            stale.append(relative)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Generate the reference pages under docs/.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    parser.add_argument("--repo", type=Path, default=REPO, help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages(args.repo)
        for relative in stale:
            print(f"{relative} is out of date; run: {COMMAND}", file=sys.stderr)
        return 1 if stale else 0
    for relative, content in pages(args.repo).items():
        path = args.repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
