"""``LocalEcs``: moto's server on 127.0.0.1, our runtime beside it, and the provisioned resources.

How the resources are made (``provision``): "terraform" applies terraform/ into it, as ``make apply`` does on
AWS (terraform_apply.py); "python" creates the same shapes with boto3 calls (provision.py: fast, needs no
Terraform); "auto" applies the modules where Terraform and the AWS provider can be had, else says in one line
why not and uses provision.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from airflow_ecs.local.containers import ContainerRunner, ContainerRuntimeUnavailable, check_podman
from airflow_ecs.local.faults import FaultPlan, FaultProxy, FaultyEvents
from airflow_ecs.local.provision import provision, provision_team
from airflow_ecs.local.runtime import LocalRuntime
from airflow_ecs.local.terraform_apply import (
    LOCAL_NAME,
    TerraformApplyError,
    TerraformWorkspace,
    local_variables,
    why_not,
)

REGION = "us-east-1"


class PortUnavailable(Exception):
    """The port the executor is to reach the local ECS on cannot be listened on."""

    def __init__(self, port: int, reason: str):
        super().__init__(f"cannot listen on 127.0.0.1:{port} ({reason})")
        self.port, self.reason = port, reason


class LocalEcs:
    def __init__(
        self,
        *,
        port: int = 0,
        region: str = REGION,
        execution_api_server_url: str | None = None,
        task_environment: Mapping[str, str] | None = None,
        outputs_path: str | Path | None = None,
        start_delay: float = 0.5,
        max_concurrent: int = 8,
        stop_timeout: float = 10.0,
        fault_plan: FaultPlan | None = None,
        runtime: str = "process",
        container_mounts: Mapping[str, str] | None = None,
        provision: str = "python",
        terraform_work: str | Path | None = None,
        teams: Mapping[str, Mapping[str, str]] | None = None,
        schedulers: int = 1,
    ):
        """``runtime``: "process" (each container a local process) or "container" (a podman container of the
        task definition's image, with ``container_mounts`` (host path -> container path) mounted read-only).
        ``provision``: terraform, python or auto (above); ``terraform_work``: where the Terraform workspace
        and its state go (default: a temporary directory, removed at stop). ``teams``: Airflow team -> the
        environment of its container, each team's resources (terraform/'s ``teams``) provisioned with the
        deployment's. ``schedulers``: how many schedulers will run, each with its own events queue (terraform/'s
        events_queue_count; each team's likewise)."""
        if runtime not in ("process", "container"):
            raise ValueError(f"runtime {runtime!r}: expected process or container")
        if provision not in ("terraform", "python", "auto"):
            raise ValueError(f"provision {provision!r}: expected terraform, python or auto")
        self.provision = provision
        self.schedulers = schedulers
        self.provisioned_by = ""  # "terraform" or "python" once started
        self.provision_note = ""  # with auto: why the modules were not applied
        self.terraform_work = Path(terraform_work) if terraform_work else None
        self.teams = {team: dict(env) for team, env in (teams or {}).items()}
        self._own_terraform_work = False
        self.gaps: Any = None
        self.runtime_kind = runtime
        self.container_mounts = dict(container_mounts or {})
        self.port = port
        self.region = region
        self.execution_api_server_url = execution_api_server_url
        self.task_environment = dict(task_environment or {})
        self.outputs_path = Path(outputs_path) if outputs_path else None
        self.start_delay, self.max_concurrent, self.stop_timeout = start_delay, max_concurrent, stop_timeout
        self.endpoint_url = ""  # moto itself: only moto's own API (/moto-api/...) is reached there
        # Every AWS call goes through the gap layer (terraform_gaps.GapLayer: what moto does not do, filled in
        # front of it), ``client()``'s and Terraform's; the executor's through the fault layer in front of that
        # (``executor_endpoint_url``): always for RunTask's clientToken idempotency, which ECS has and moto
        # lacks; with a plan, for its faults too.
        self.fault_plan = fault_plan
        self.faults: FaultProxy | None = None
        self.event_faults: FaultyEvents | None = None
        self.outputs: dict[str, Any] = {}
        self.runtime: LocalRuntime | None = None
        self._server: Any = None

    def client(self, service: str) -> Any:
        """A client of the local ECS as AWS users see it: through the gap layer."""
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.gaps.url,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def start(self) -> LocalEcs:
        from moto.moto_api import state_manager
        from moto.server import ThreadedMotoServer

        from airflow_ecs.local.terraform_gaps import GapLayer

        if self.runtime_kind == "container":
            check_podman()  # before anything starts: one line saying what is missing

        # One access-log line per AWS call would bury what the demo prints.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Task states are ours to set: moto must not move them on by itself at each DescribeTasks.
        state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**12})
        # moto on any free port; ``port`` is the one users and the executor see: the layer in front of it.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")).close()
        # Before anything is registered (every task definition must be: terraform_gaps.py), and for as long as
        # the local ECS runs: a later plan, destroy or DescribeTaskDefinition reads through it.
        self.gaps = GapLayer(self.endpoint_url).start()
        # The port first: a busy one is said at once, not after a minute of terraform apply.
        try:
            self.faults = FaultProxy(self.gaps.url, self.fault_plan or FaultPlan(), port=self.port).start()
        except OSError as error:  # EADDRINUSE, or a port that is not ours to bind
            raise PortUnavailable(self.port, error.strerror or str(error)) from error
        self.outputs = self._provision()
        clients = self.client
        if self.outputs_path:  # only once the port is ours: a busy port must not leave a dead server's outputs
            self.outputs_path.parent.mkdir(parents=True, exist_ok=True)
            self.outputs_path.write_text(json.dumps(self.outputs, indent=2, sort_keys=True) + "\n")
        if self.fault_plan is not None:
            self.event_faults = FaultyEvents(self.client("events"), self.fault_plan)
            event_faults = self.event_faults

            def clients(service: str) -> Any:
                return event_faults if service == "events" else self.client(service)

        self._runtime_clients = clients
        self.runtime = self._new_runtime()
        self.runtime.start()
        return self

    def _provision(self) -> dict[str, Any]:
        use_terraform = self.provision == "terraform"
        if self.provision == "auto":
            self.provision_note = why_not() or ""
            use_terraform = not self.provision_note
        if not use_terraform:
            self.provisioned_by = "python"
            outputs = provision(
                self.client,
                self.region,
                execution_api_server_url=self.execution_api_server_url,
                task_environment=self.task_environment,
                events_queues=self.schedulers,
            )
            for team, environment in self.teams.items():
                outputs["teams"]["value"][team] = provision_team(self.client, outputs, team, environment=environment)
            return outputs
        if self.terraform_work is None:
            self.terraform_work = Path(tempfile.mkdtemp(prefix="airflow-ecs-local-terraform-"))
            self._own_terraform_work = True
        applied = TerraformWorkspace(self.terraform_work).apply(
            self.gaps.url,
            local_variables(
                region=self.region,
                execution_api_server_url=self.execution_api_server_url,
                environment=self.task_environment,
                teams=self.teams,
                schedulers=self.schedulers,
            ),
        )
        print(
            f"[local-ecs] terraform apply of terraform/ ({LOCAL_NAME}): {applied.resources} resources in "
            f"{applied.seconds:.0f}s",
            flush=True,
        )
        self.provisioned_by = "terraform"
        return applied.outputs

    def _new_runtime(self) -> LocalRuntime:
        containers = ContainerRunner(mounts=self.container_mounts) if self.runtime_kind == "container" else None
        return LocalRuntime(
            region=self.region,
            clients=self._runtime_clients,
            containers=containers,
            start_delay=self.start_delay,
            max_concurrent=self.max_concurrent,
            stop_timeout=self.stop_timeout,
        )

    def quiesce(self, timeout: float = 30.0) -> None:
        """An idle cluster, an empty events queue and a fresh runtime for the next Airflow on this local ECS:
        the tasks still running are stopped (as StopTask does), and once they have ended the queue is purged
        and the runtime replaced, so nothing an earlier deployment launched reaches the next one's executor
        or its tests' counts. A no-op on a local ECS that has run nothing."""
        if self.runtime is None or not self.runtime.tasks:
            return
        ecs = self.client("ecs")
        live = [task for task in list(self.runtime.tasks.values()) if not task.done]
        for task in live:
            ecs.stop_task(cluster=task.moto_task.cluster_arn, task=task.arn, reason="the local ECS is handed over")
        deadline = time.monotonic() + timeout
        while any(not task.done for task in live) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.runtime.stop()
        sqs = self.client("sqs")
        for queue_url in self.events_queue_urls():
            sqs.purge_queue(QueueUrl=queue_url)
        self.runtime = self._new_runtime()
        self.runtime.start()

    def events_queue_urls(self) -> list[str]:
        """Every scheduler's events queue (the first is events_queue_url), and each team's."""
        first = (self.outputs.get("events_queue_url") or {}).get("value")
        urls = list((self.outputs.get("events_queue_urls") or {}).get("value") or ([first] if first else []))
        for team in ((self.outputs.get("teams") or {}).get("value") or {}).values():
            if team.get("events_queue_url"):
                urls += team.get("events_queue_urls") or [team["events_queue_url"]]
        return urls

    @property
    def executor_endpoint_url(self) -> str:
        """Where the executor should send its AWS calls: the fault layer (in front of the gap layer)."""
        return self.faults.url if self.faults is not None else ""  # None only before start()

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        if self.event_faults is not None:
            self.event_faults.stop()
        if self.faults is not None:
            self.faults.stop()
        if self.gaps is not None:
            self.gaps.stop()
        if self._server is not None:
            self._server.stop()
        if self._own_terraform_work and self.terraform_work is not None:
            shutil.rmtree(self.terraform_work, ignore_errors=True)

    def __enter__(self) -> LocalEcs:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Terraform's events_queue_count and provision.py allow 1 to 5: one events queue per scheduler, and EventBridge
# allows five targets per rule.
MAX_SCHEDULERS = 5


def scheduler_count(text: str) -> int:
    """``--schedulers``: a whole number from 1 to MAX_SCHEDULERS, or argparse's one line naming the value."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_SCHEDULERS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a whole number from 1 to {MAX_SCHEDULERS} (one events queue per scheduler; "
            f"EventBridge allows {MAX_SCHEDULERS} targets per rule)"
        )
    return count


def further_scheduler_lines(schedulers: int, out_dir: str) -> list[str]:
    """Where each further scheduler's env file will be once render has run (the first's queue is in
    airflow_ecs.env): one line per scheduler 2 to N."""
    from airflow_ecs.deploy.generator import scheduler_env_name

    return [
        f"  scheduler {number}: set -a; . {out_dir}/airflow_ecs.env; . {out_dir}/{scheduler_env_name(number)}; set +a"
        for number in range(2, schedulers + 1)
    ]


def add_arguments(parser: argparse.ArgumentParser, command_name: str) -> None:
    parser.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--outputs",
        default="generated/local-outputs.json",
        help="where to write the outputs JSON (terraform output -json shape)",
    )
    parser.add_argument("--execution-api-server-url", help="Airflow's execution API as the tasks reach it")
    parser.add_argument("--start-delay", type=float, default=0.5, help="seconds a task spends provisioning")
    parser.add_argument("--max-concurrent", type=int, default=8, help="tasks running at once; more wait")
    add_setup_arguments(parser)


def add_setup_arguments(parser: argparse.ArgumentParser) -> None:
    """``--runtime`` and ``--provision``, declared once: ``airflow-ecs local``'s and the demo's (devtools/demo.py)."""
    parser.add_argument(
        "--runtime",
        choices=("process", "container", "auto"),
        default="process",
        help="run each task as a local process, as a podman container of the worker image "
        "(make worker-image), or auto: containers when podman has the image",
    )
    parser.add_argument(
        "--provision",
        choices=("auto", "terraform", "python"),
        default="auto",
        help="how the local ECS gets its cluster, task definition and queue: terraform applies "
        "terraform/ into it as make apply does on AWS (about 1-2 min; needs terraform and the "
        "AWS provider), python creates the same shapes at once, auto: terraform when it can",
    )
    parser.add_argument(
        "--schedulers",
        type=scheduler_count,
        default=1,
        metavar="N",
        help=f"how many Airflow schedulers will use it, 1 to {MAX_SCHEDULERS} (default 1): one events queue each "
        "(terraform/'s events_queue_count); render then writes airflow_ecs.scheduler-N.env for schedulers 2 to N",
    )


def run(args: argparse.Namespace) -> int:
    import importlib.util

    from airflow_ecs.local.containers import choose_runtime

    if importlib.util.find_spec("moto") is None:
        print(
            "airflow-ecs local: moto is not installed; the local ECS needs it: pip install 'airflow-ecs[local]'",
            file=sys.stderr,
        )
        return 2
    try:
        runtime, why_not = choose_runtime(args.runtime)
    except ContainerRuntimeUnavailable as error:
        print(f"airflow-ecs local --runtime container: {error}", file=sys.stderr)
        return 2
    if why_not:
        print(f"[local-ecs] --runtime auto: tasks run as local processes ({why_not})", flush=True)
    local = LocalEcs(
        port=args.port,
        execution_api_server_url=args.execution_api_server_url,
        outputs_path=args.outputs,
        start_delay=args.start_delay,
        max_concurrent=args.max_concurrent,
        runtime=runtime,
        provision=args.provision,
        schedulers=args.schedulers,
    )
    try:
        local.start()
    except TerraformApplyError as error:
        local.stop()
        print(f"airflow-ecs local --provision {args.provision}: {error}", file=sys.stderr)
        return 2
    except PortUnavailable as error:
        local.stop()
        print(
            f"airflow-ecs local: cannot listen on 127.0.0.1:{error.port} ({error.reason}); stop what "
            "uses it or give another --port (0: any free port)",
            file=sys.stderr,
        )
        return 2
    # Before the message that says Ctrl-C stops it: a Ctrl-C right after it stops the local ECS cleanly.
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    if local.provision_note:
        print(f"[local-ecs] --provision auto: provision.py, not terraform apply ({local.provision_note})", flush=True)
    print(
        f"local ECS on {local.executor_endpoint_url} ({runtime} runtime, provisioned by {local.provisioned_by}); "
        f"outputs in {args.outputs}. "
        f"Render the config with:\n"
        f"  airflow-ecs render --outputs {args.outputs} --out generated\n"
        f"and set AIRFLOW__ECS_FARGATE__ENDPOINT_URL={local.executor_endpoint_url}. Ctrl-C stops it.",
        flush=True,
    )
    if args.schedulers > 1:
        print(
            "\n".join(
                [
                    (
                        f"{args.schedulers} schedulers, each with its own events queue. The first loads generated/"
                        "airflow_ecs.env; after that render, the others load their own env file too:"
                    ),
                    *further_scheduler_lines(args.schedulers, "generated"),
                ]
            ),
            flush=True,
        )
    stopped.wait()
    local.stop()
    return 0
