"""``make demo``: the whole path on one machine, no AWS.

local ECS (moto + process runtime) -> its outputs JSON -> the generator -> the rendered config -> a real
Airflow 3 with the executor -> the example DAG -> a table of what ran, checked against what the DAG
expects. Exits non-zero when any task ends in another state.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from airflow_ecs.local.server import add_setup_arguments
from devtools.airflow_stack import TaskRow, seconds_between

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "ecs_demo"


def expected_states(dags_folder: Path) -> dict[str, str]:
    namespace: dict = {}
    source = (dags_folder / f"{DAG_ID}.py").read_text()
    marker = source.index("EXPECTED_STATES")
    exec(source[marker:], namespace)  # noqa: S102 - our own example file, the dict literal at its end
    return namespace["EXPECTED_STATES"]


def format_table(rows: list[TaskRow], expected: dict[str, str]) -> tuple[str, list[str]]:
    header = f"{'task':<14} {'ECS task id':<38} {'state':<8} {'try':>3} {'queued s':>9} {'running s':>9}  expected"
    lines = [header, "-" * len(header)]
    wrong = []
    for row in rows:
        want = expected.get(row.task_id, "success")
        ecs_id = (row.external_executor_id or "-").rsplit("/", 1)[-1]
        queued = seconds_between(row.queued_dttm, row.start_date)
        running = seconds_between(row.start_date, row.end_date)
        mark = "" if row.state == want else "  <-- WRONG"
        if row.state != want:
            wrong.append(f"{row.name}: {row.state} (expected {want})")
        lines.append(
            f"{row.name:<14} {ecs_id:<38} {row.state!s:<8} {row.try_number:>3} "
            f"{'-' if queued is None else f'{queued:.1f}':>9} {'-' if running is None else f'{running:.1f}':>9}"
            f"  {want}{mark}"
        )
    return "\n".join(lines), wrong


def run_summary(state: object, wrong: list[str], expected: dict[str, str]) -> str:
    """The run's outcome in the demo's terms: the example DAG fails some tasks on purpose, so Airflow's "failed"
    for the run is the design working, not the demo failing."""
    meant_to_fail = sorted(task for task, want in expected.items() if want != "success")
    if str(state) == "failed" and not wrong and meant_to_fail:
        return (
            f"[demo] DAG run ended as designed (Airflow marks it failed: tasks that fail on purpose: "
            f"{', '.join(meant_to_fail)})"
        )
    return f"[demo] DAG run {state}" + (" (some tasks not as expected, below)" if wrong else "")


def run_demo(work_dir: Path, *, keep_running: bool = False, runtime: str = "process", provision: str = "auto") -> int:
    from airflow_ecs.local.containers import ContainerRuntimeUnavailable, choose_runtime
    from devtools.local_deployment import local_deployment

    try:
        runtime, why_not = choose_runtime(runtime)
    except ContainerRuntimeUnavailable as error:
        print(f"[demo] --runtime container: {error}", file=sys.stderr)
        return 2
    if why_not:
        print(f"[demo] --runtime auto: tasks run as local processes ({why_not})", flush=True)

    started = time.monotonic()
    if work_dir.exists():
        shutil.rmtree(work_dir)
    dags = REPO / "examples" / "dags"
    print(
        f"[demo] starting the local ECS (moto + {runtime} runtime; resources: {provision}), rendering the config "
        f"from its outputs, starting Airflow 3 (api-server, dag-processor, scheduler, triggerer) in {work_dir}",
        flush=True,
    )
    with local_deployment(
        work_dir, dags, start_delay=0.5, outputs_path=work_dir / "outputs.json", runtime=runtime, provision=provision
    ) as deployed:
        if deployed.local.provision_note:
            print(
                f"[demo] --provision auto: the local ECS was built by provision.py, not terraform apply "
                f"({deployed.local.provision_note})",
                flush=True,
            )
        stack = deployed.stack
        stack.wait_for_dag(DAG_ID)
        run_id = f"demo__{int(time.time())}"
        stack.trigger(DAG_ID, run_id)
        print(f"[demo] triggered {DAG_ID} ({run_id}); each task runs as its own ECS task", flush=True)
        state = stack.wait_for_run(DAG_ID, run_id, timeout=600)
        table, wrong = format_table(stack.task_rows(DAG_ID, run_id), expected_states(dags))
        print(f"\n{table}\n")
        print(
            f"{run_summary(state, wrong, expected_states(dags))} in {time.monotonic() - started:.0f}s (total, "
            f"set-up included). UI while it runs: {stack.ui_url} ; logs: {stack.home} ; config: "
            f"{work_dir / 'config'}"
        )
        if keep_running:
            input("[demo] press Enter to shut everything down ")
    if wrong:
        print("[demo] tasks not in the expected state:\n  " + "\n  ".join(wrong), file=sys.stderr)
        return 1
    print("[demo] every task ended as expected")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument("--work-dir", type=Path, default=REPO / ".demo")
    parser.add_argument("--keep-running", action="store_true", help="wait for Enter before shutting down")
    add_setup_arguments(parser)  # the local ECS's, as `airflow-ecs local` takes them
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_demo(args.work_dir, keep_running=args.keep_running, runtime=args.runtime, provision=args.provision)


if __name__ == "__main__":
    sys.exit(main())
