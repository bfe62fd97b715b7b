from __future__ import annotations

import os
import urllib.request

import pytest

from tests.executor_harness import ecs_env, ended_executors, frozen_moto_tasks  # noqa: F401 - fixtures for every test file
from tests.xdist_order import next_file

# moto accepts any credentials; boto3 must find some before it signs a request.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def moto_server(monkeypatch):
    """A real moto server over HTTP, fresh for each test; every executor the test started is terminated
    before the server stops, and none of its threads may outlive the test."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's backends live in this process, shared by every server it starts: begin each test empty.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    try:
        with ended_executors(monkeypatch):
            yield url
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter):
    """Which AWS provider the Terraform tests used, or why they were skipped: one line, even with -q."""
    ran = any(
        "test_terraform_provider.py" in getattr(report, "nodeid", "")
        for reports in terminalreporter.stats.values()
        for report in reports
    )
    if ran:
        from tests.terraform_provider import provider_source

        terminalreporter.write_line(f"terraform tests: {provider_source().describe()}")


# make test runs the suite on several processes (pytest-xdist, with the scheduler below): each file runs whole on
# one process, so its module-scoped fixtures (a terraform apply, an Airflow deployment, a terraform init of every
# configuration) are set up once, and the files go out the slowest first, so that no process is left with a long
# file at the end. The e2e suite's two tracking modes are two files, each with its own deployment, so that they
# run side by side. Files not listed follow in their own order. The container tests come after the first wave:
# make test builds their image meanwhile, and they wait for it.
SLOWEST_FIRST = (
    "tests/test_terraform_provider.py",  # about 8 minutes on 2 loaded cores: terraform test's plans, an apply
    "tests/e2e/test_airflow_e2e.py",
    "tests/chaos/test_chaos_short.py",
    "tests/e2e/test_airflow_e2e_polling.py",
    "tests/e2e/test_two_schedulers.py",
    "tests/e2e/test_teams_e2e.py",
    "tests/e2e/test_containers.py",
)


# The container tests wait for the worker image that make test builds beside the suite (minutes on a fresh
# machine: tests/e2e/test_containers.py): until its build has ended, they are sent after every other file.
WAITS_FOR_THE_IMAGE = "tests/e2e/test_containers.py"


def not_ready() -> set[str]:
    status = os.environ.get("AIRFLOW_ECS_WORKER_IMAGE_STATUS")
    return {WAITS_FOR_THE_IMAGE} if status and not os.path.exists(status) else set()


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    # On the controller and on every worker alike (xdist checks that they all collected the same order).
    if not (getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput")):
        return
    rank = {name: index for index, name in enumerate(SLOWEST_FIRST)}
    # sorted() keeps the collected order within a file and among the unlisted files.
    items[:] = sorted(items, key=lambda item: rank.get(file_of(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config, log):
    """xdist's --dist loadfile, in the order above, except for what a process is sent next: ``next_file`` decides
    (tests/xdist_order.py says how, tests/test_xdist_order.py pins it). Every file xdist hands out goes through
    ``_assign_work_unit``, its first one to each process included."""
    if config.getoption("dist") != "loadfile":
        return None  # another --dist asked for on the command line: xdist's own
    from xdist.scheduler import LoadFileScheduling

    class SlowestFirst(LoadFileScheduling):
        def _reschedule(self, node):
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            self._assign_work_unit(node)

        def _assign_work_unit(self, node):
            chosen = next_file(list(self.workqueue), self.assigned_work.get(node, {}), not_ready())
            if chosen is None:
                return
            self.workqueue.move_to_end(chosen, last=False)  # xdist sends the queue's first
            super()._assign_work_unit(node)

    return SlowestFirst(config, log)
