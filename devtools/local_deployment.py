"""A whole deployment on this machine: the local ECS, the config rendered from its outputs by the same
generator as for AWS, and a real Airflow 3 running the executor. What ``make demo``, the end-to-end tests
and the fault-injection runs stand on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from airflow_ecs.local.containers import IMAGE_DAGS_FOLDER
from airflow_ecs.local.faults import FaultPlan
from airflow_ecs.local.server import LocalEcs
from devtools.airflow_stack import AirflowStack, free_port


def config_env(outputs: dict, out_dir: Path) -> dict[str, str]:
    """The generator's env file for these outputs, as a dict (what a container deployment would load)."""
    return rendered_env(outputs, out_dir)[0]


def rendered_env(outputs: dict, out_dir: Path) -> tuple[dict[str, str], dict[int, dict[str, str]]]:
    """The generator's env file for these outputs, and what each further scheduler's own file adds (2 -> env)."""
    from airflow_ecs.deploy.generator import read_env_file, render_files, scheduler_env_name, write_atomically
    from airflow_ecs.deploy.terraform_outputs import parse_outputs

    parsed = parse_outputs(outputs)
    files = render_files(parsed, str(out_dir / "run_task_template.json.j2"))
    write_atomically(files, out_dir)
    schedulers = {
        number: read_env_file(files[scheduler_env_name(number)])
        for number in range(2, len(parsed.events_queue_urls) + 1)
    }
    return read_env_file(files["airflow_ecs.env"]), schedulers


@dataclass
class LocalDeployment:
    stack: AirflowStack
    local: LocalEcs
    env: dict[str, str]
    # Scheduler N (2 and up) -> what its own rendered env file adds: its events queues.
    scheduler_env: dict[int, dict[str, str]] = field(default_factory=dict)

    def start_scheduler(self, number: int) -> str:
        """Start scheduler ``number`` (2 and up) as process scheduler-<number>, on its own events queue when the
        deployment has one for it (else the first's, shared). Returns the process name."""
        name = f"scheduler-{number}"
        self.stack.start_component(name, "scheduler", env=self.scheduler_env.get(number))
        return name


# The tasks' Execution API calls wait this long for an answer before retrying (Airflow's default: 5 s). One
# machine runs the api-server, the scheduler and every task; under load an answer can take longer, and a
# retried call that is not idempotent fails the task: a connection test's credentials are handed out once,
# so its retried fetch is refused (409) and the test reported failed.
EXECUTION_API_TIMEOUT = "30"


def task_settings(work: Path, dags: Path, runtime: str) -> tuple[dict[str, str], dict[str, str]]:
    """(task environment, container mounts) for tasks that run ``dags``: the process runtime's tasks find them
    and their AIRFLOW_HOME through the environment; a container gets ``dags`` mounted read-only over the image's
    own DAG folder (so a test's DAGs need no image of their own), AIRFLOW_HOME the image's."""
    common = {"AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": EXECUTION_API_TIMEOUT}
    if runtime == "container":
        return common, {str(Path(dags).resolve()): IMAGE_DAGS_FOLDER}
    return {"AIRFLOW_HOME": str(work / "task-home"), "AIRFLOW__CORE__DAGS_FOLDER": str(dags), **common}, {}


@contextmanager
def local_deployment(
    work: Path,
    dags: Path,
    *,
    env: Mapping[str, str | None] | None = None,
    secret_key: str = "local",
    start_delay: float = 0.3,
    max_concurrent: int = 8,
    stop_timeout: float = 5.0,
    outputs_path: Path | None = None,
    fault_plan: FaultPlan | None = None,
    database_url: str | None = None,
    runtime: str = "process",
    teams: Mapping[str, Mapping[str, str]] | None = None,
    provision: str = "python",
    schedulers: int = 1,
) -> Iterator[LocalDeployment]:
    """Start it all in ``work``; ``env`` adds to (or, with None, removes from) the scheduler's environment.

    With a ``fault_plan`` the executor talks to the fault layer in front of the local ECS. ``database_url``
    is Airflow's metadata database (default: SQLite in ``work``). ``runtime`` "container" runs each task in
    a container of the worker image (``task_settings``). ``provision``: how the local ECS gets its resources
    (terraform: ``terraform apply`` of terraform/; python; auto; see server.py). ``schedulers``: how many
    schedulers the caller will run, each with its own events queue (``LocalDeployment.start_scheduler``).

    ``teams`` (multi-team Airflow): team -> environment of its container. Each team gets its own task
    definition, log group and events queue on the cluster (what terraform/'s ``teams`` builds), its section in
    the rendered config. The DAG bundles that give each team its DAGs are the caller's (``env``:
    ``AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST``, each with its ``team_name``); Airflow's teams are
    created from them.
    """
    api_port = free_port()
    task_env, mounts = task_settings(work, dags, runtime)
    with (
        LocalEcs(
            execution_api_server_url=execution_api_url(api_port),
            task_environment=task_env,
            start_delay=start_delay,
            max_concurrent=max_concurrent,
            stop_timeout=stop_timeout,
            outputs_path=outputs_path,
            fault_plan=fault_plan,
            runtime=runtime,
            container_mounts=mounts,
            provision=provision,
            teams=teams,
            schedulers=schedulers,
        ) as local,
        airflow_on(
            local, work, dags, api_port=api_port, env=env, secret_key=secret_key, database_url=database_url, teams=teams
        ) as deployed,
    ):
        yield deployed


def execution_api_url(api_port: int) -> str:
    """Where the tasks reach the Execution API of an AirflowStack on ``api_port`` (AirflowStack's own URL)."""
    return f"http://127.0.0.1:{api_port}/execution/"


@contextmanager
def airflow_on(
    local: LocalEcs,
    work: Path,
    dags: Path,
    *,
    api_port: int,
    env: Mapping[str, str | None] | None = None,
    secret_key: str = "local",
    database_url: str | None = None,
    home: Path | None = None,
    teams: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[LocalDeployment]:
    """A real Airflow (home ``home``, default ``work``/airflow) on a running local ECS whose task definition
    sends tasks to ``api_port``, configured only from the files rendered from the local ECS's outputs.

    Several may run on one local ECS one after the other (one ``terraform apply`` for them all): each begins
    on an idle cluster (the tasks an earlier one left are stopped), an empty events queue and a fresh runtime.
    ``teams``: the Airflow teams it runs, whose sections are rendered; another team the local ECS holds is left
    out of its config.
    """
    stack = AirflowStack(
        home=home or work / "airflow",
        dags_folder=dags,
        database_url=database_url,
        api_port=api_port,
        sync_teams=bool(teams),
    )
    local.quiesce()
    # Rendered for the teams this Airflow runs: a team's resources on the cluster make the rendered config
    # multi-team, which an Airflow without that team in its database refuses to start with.
    outputs = dict(local.outputs)
    if "teams" in outputs:
        known = outputs["teams"]["value"]
        outputs["teams"] = {**outputs["teams"], "value": {team: known[team] for team in teams or () if team in known}}
    rendered, scheduler_env = rendered_env(outputs, work / "config")
    for extra in scheduler_env.values():
        for key in [key for key in extra if key in (env or {})]:  # what the caller sets wins, as for the first
            del extra[key]
    for team in teams or ():  # each team's executor reads its own section only
        rendered[f"AIRFLOW__{team.upper()}___ECS_FARGATE__ENDPOINT_URL"] = local.executor_endpoint_url
    rendered.update(
        {
            "AIRFLOW__ECS_FARGATE__ENDPOINT_URL": local.executor_endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": rendered.get("AIRFLOW__ECS_FARGATE__REGION", "us-east-1"),
        }
    )
    for key, value in (env or {}).items():
        if value is None:
            rendered.pop(key, None)
        else:
            rendered[key] = value
    stack.extra_env = rendered
    try:
        stack.start()
        yield LocalDeployment(stack, local, rendered, scheduler_env)
    finally:
        stack.stop()
