"""The executor's book of launched tasks: found by Airflow key, by ECS task ARN and by startedBy."""

from __future__ import annotations

import pytest

from airflow_ecs.run_task_request import TaskIdentity
from airflow_ecs.tracking import RECENTLY_FINISHED, TaskBook, TrackedTask

ARN = "arn:aws:ecs:us-east-1:123456789012:task/airflow/{}"


def tracked(name: str, started_by: str | None = None, arn: str | None = None) -> TrackedTask:
    identity = TaskIdentity("etl", name, "manual__1", -1, 1, f"ti-{name}")
    return TrackedTask(key=("etl", name, "manual__1", 1, -1), identity=identity,
                       started_by=started_by or f"ti-{name}", request_json="{}", arn=arn)


@pytest.fixture
def book() -> TaskBook:
    return TaskBook()


def test_a_task_is_found_by_key_and_started_by_before_it_has_an_arn(book):
    task = tracked("a")
    book.add(task)
    assert book.get(task.key) is task
    assert book.by_started_by("ti-a") is task
    assert book.by_arn(ARN.format("1")) is None
    assert len(book) == 1
    assert book.arns() == []


def test_an_adopted_task_with_an_arn_is_found_by_it(book):
    task = tracked("a", arn=ARN.format("1"))
    task.request_json = None
    book.add(task)
    assert book.by_arn(ARN.format("1")) is task
    assert book.arns() == [ARN.format("1")]


def test_set_arn_indexes_the_task(book):
    task = tracked("a")
    book.add(task)
    book.set_arn(task, ARN.format("1"))
    assert task.arn == ARN.format("1")
    assert book.by_arn(ARN.format("1")) is task
    assert not book.recently_finished(ARN.format("1"))


def test_a_relaunch_moves_the_index_to_the_new_arn_and_remembers_the_old(book):
    task = tracked("a")
    book.add(task)
    book.set_arn(task, ARN.format("1"))
    book.set_arn(task, ARN.format("2"))
    assert book.by_arn(ARN.format("1")) is None
    assert book.by_arn(ARN.format("2")) is task
    assert book.recently_finished(ARN.format("1"))
    assert book.arns() == [ARN.format("2")]


def test_clearing_the_arn_while_relaunching(book):
    task = tracked("a")
    book.add(task)
    book.set_arn(task, ARN.format("1"))
    book.set_arn(task, None)
    assert task.arn is None
    assert book.by_arn(ARN.format("1")) is None
    assert book.by_started_by("ti-a") is task
    assert book.recently_finished(ARN.format("1"))


def test_remove_forgets_every_index_and_remembers_the_arn(book):
    task = tracked("a")
    book.add(task)
    book.set_arn(task, ARN.format("1"))
    assert book.remove(task.key) is task
    assert book.get(task.key) is None
    assert book.by_arn(ARN.format("1")) is None
    assert book.by_started_by("ti-a") is None
    assert len(book) == 0
    assert book.recently_finished(ARN.format("1"))


def test_remove_of_an_unknown_key(book):
    assert book.remove(("nope",)) is None


def test_removing_an_old_try_keeps_the_new_try_that_shares_its_started_by(book):
    old, new = tracked("a", started_by="airflow-same"), tracked("b", started_by="airflow-same")
    book.add(old)
    book.add(new)
    book.remove(old.key)
    assert book.by_started_by("airflow-same") is new


def test_tasks_are_kept_apart(book):
    tasks = [tracked(name, arn=ARN.format(i)) for i, name in enumerate("abc")]
    for task in tasks:
        book.add(task)
    for i, task in enumerate(tasks):
        assert book.get(task.key) is task
        assert book.by_arn(ARN.format(i)) is task
        assert book.by_started_by(task.started_by) is task
    assert sorted(book.arns()) == sorted(ARN.format(i) for i in range(3))


def test_iterating_allows_removal(book):
    for name in "abcd":
        book.add(tracked(name))
    for task in book:
        book.remove(task.key)
    assert len(book) == 0


def test_recently_finished_is_bounded_and_forgets_the_oldest(book):
    extra = 5
    for i in range(RECENTLY_FINISHED + extra):
        task = tracked(f"t{i}", arn=ARN.format(i))
        book.add(task)
        book.remove(task.key)
    assert len(book._finished) == RECENTLY_FINISHED
    assert not any(book.recently_finished(ARN.format(i)) for i in range(extra))
    assert book.recently_finished(ARN.format(extra))
    assert book.recently_finished(ARN.format(RECENTLY_FINISHED + extra - 1))


def test_a_new_task_starts_with_no_history():
    task = tracked("a")
    assert (task.launch, task.attempts, task.failures, task.version) == (0, 0, 0, -1)
    assert not task.seen_running and not task.stopping and not task.on_fallback
