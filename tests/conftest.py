from __future__ import annotations

import os
import urllib.request

import pytest

from tests.executor_harness import ecs_env, ended_executors, frozen_moto_tasks  # noqa: F401 - fixtures for every test file

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


# make test runs the suite on several processes (pytest-xdist, --dist loadgroup --no-loadscope-reorder): each
# group below runs on one process, in this order, the slowest first, so that no process is left with a long
# test at the end. A file is a group: its module-scoped fixtures are set up once. The e2e module's two
# tracking modes stay in one group because both stand on one terraform apply (its `applied` fixture): split
# across processes, each would apply the modules again. Files not listed follow in their own order. The
# container tests come after the first wave: make test builds their image meanwhile, and they wait for it.
SLOWEST_FIRST = (
    "tests/chaos/test_chaos_short.py",
    "tests/e2e/test_airflow_e2e.py",
    "tests/test_terraform_provider.py",
    "tests/e2e/test_two_schedulers.py",
    "tests/e2e/test_teams_e2e.py",
    "tests/e2e/test_containers.py",
)


def xdist_group(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    if not getattr(config.option, "numprocesses", None):
        return
    rank = {group: index for index, group in enumerate(SLOWEST_FIRST)}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))
    # sorted() keeps the collected order within a group and among the unlisted files.
    items[:] = sorted(items, key=lambda item: rank.get(xdist_group(item), len(rank)))
