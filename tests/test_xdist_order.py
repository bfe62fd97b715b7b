"""make test's order of test files over the xdist processes (tests/xdist_order.py), without xdist: the slowest
file first; a process down to its last test gets the next file; a process that has not started gets the
quickest waiting file; one with more than one test to go gets nothing."""

from __future__ import annotations

import pytest

from tests.xdist_order import next_file

# The queue as make test starts it, the slowest first and the quickest last (the names are only labels here).
WAITING = ["e2e_polling.py", "two_schedulers.py", "teams_e2e.py", "test_config.py", "test_docs.py"]


def file_tests(ran: int, to_go: int) -> dict[str, bool]:
    """A file's tests: ``ran`` have run, ``to_go`` have not."""
    return {f"t{i}": i < ran for i in range(ran + to_go)}


@pytest.mark.parametrize(
    ("held", "sent"),
    [
        pytest.param({}, "e2e_polling.py", id="a process with nothing yet gets the slowest"),
        pytest.param({"provider.py": file_tests(0, 40)}, None, id="a whole file to go: nothing"),
        pytest.param({"provider.py": file_tests(30, 2)}, None, id="two tests to go: nothing yet"),
        pytest.param({"provider.py": file_tests(39, 1)}, "e2e_polling.py", id="down to its last test: the slowest"),
        pytest.param({"provider.py": file_tests(40, 0)}, "e2e_polling.py", id="all run: the slowest"),
        pytest.param({"chaos.py": file_tests(0, 1)}, "test_docs.py", id="a single test not started: the quickest"),
        pytest.param(
            {"chaos.py": file_tests(1, 0), "test_docs.py": file_tests(0, 1)},
            "e2e_polling.py",
            id="started, last test of its second file: the slowest",
        ),
        pytest.param(
            {"chaos.py": file_tests(0, 1), "test_docs.py": file_tests(0, 1)},
            None,
            id="two single tests to go: nothing",
        ),
        pytest.param(
            {"a.py": file_tests(3, 1), "b.py": file_tests(0, 1)},
            None,
            id="the tests to go are counted over all its files",
        ),
    ],
)
def test_which_file_a_process_is_sent(held, sent):
    assert next_file(WAITING, held) == sent


@pytest.mark.parametrize("held", [{}, {"chaos.py": file_tests(0, 1)}, {"provider.py": file_tests(40, 0)}])
def test_nothing_is_sent_when_nothing_waits(held):
    assert next_file([], held) is None


def test_a_single_waiting_file_goes_to_whoever_asks_first():
    assert next_file(["only.py"], {"chaos.py": file_tests(0, 1)}) == "only.py"
    assert next_file(["only.py"], {"provider.py": file_tests(39, 1)}) == "only.py"


def test_make_tests_start_on_three_processes():
    """xdist sends each process a file, then asks again for each (its _reschedule): the two long files run side
    by side with chaos, whose process takes the quickest files meanwhile rather than the next long one."""
    queue = ["provider.py", "e2e_events.py", "chaos.py", *WAITING]
    counts = {"provider.py": 40, "e2e_events.py": 12, "chaos.py": 1}
    held: list[dict[str, dict[str, bool]]] = [{}, {}, {}]
    for process in [0, 1, 2, 0, 1, 2]:
        chosen = next_file(queue, held[process])
        if chosen is not None:
            queue.remove(chosen)
            held[process][chosen] = file_tests(0, counts.get(chosen, 1))
    assert [list(files) for files in held] == [["provider.py"], ["e2e_events.py"], ["chaos.py", "test_docs.py"]]
    assert queue[0] == "e2e_polling.py"  # for whichever long file ends first


def test_a_file_not_ready_goes_after_every_other():
    """The container tests while the worker image is being built: sent only when nothing else waits."""
    queue = ["containers.py", *WAITING]
    assert next_file(queue, {}, not_ready={"containers.py"}) == "e2e_polling.py"
    assert next_file(queue, {"chaos.py": file_tests(0, 1)}, not_ready={"containers.py"}) == "test_docs.py"
    assert next_file(["containers.py"], {}, not_ready={"containers.py"}) == "containers.py"
    assert next_file(queue, {}, not_ready=set()) == "containers.py"  # once built, in its place
