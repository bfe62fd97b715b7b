"""Which test file a pytest-xdist process is sent next: make test's decision, which tests/conftest.py wires to xdist.

Pure (no xdist, no pytest): in go the files still waiting, in the queue's order (slowest first, SLOWEST_FIRST in
tests/conftest.py), and what the process holds (each file it was sent: test -> whether it has run); out comes
the waiting file to send it, or None while it has enough to go on with.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

Held = Mapping[str, Mapping[str, bool]]  # file -> test -> has run


def next_file(waiting: Sequence[str], held: Held, not_ready: Collection[str] = ()) -> str | None:
    """A process runs a test only once it holds the one after it (for teardown), so a process down to its last
    test, or holding a single-test file, needs another file before it can go on (xdist's own waits until 2 are
    left: one more file queued, which a long file then waits behind). One that has run part of what it holds, or
    holds nothing yet, gets the slowest waiting; one that has not started (a single-test file at the start, such
    as chaos) gets the quickest, so that no long file waits behind another on one process while the others run
    out of work. ``not_ready``: files whose tests would wait for something still being made (the container
    tests, for the worker image make test builds beside them): they go last, after every other waiting file,
    so that no process sits waiting while others could run."""
    if not waiting:
        return None
    waiting = [name for name in waiting if name not in not_ready] or list(waiting)
    tests = [ran for file_tests in held.values() for ran in file_tests.values()]
    if tests.count(False) > 1:
        return None
    if tests and not any(tests):
        return waiting[-1]
    return waiting[0]
