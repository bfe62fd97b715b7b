"""Another scheduler's event, released back to the queue: its owner must see it again within about a second.

Several schedulers share one events queue, so each receives the others' events and hands them back with
release_messages(..., RELEASE_DELAY), as the executor does. Against moto's SQS, which keeps visibility
timeouts in real time.
"""

from __future__ import annotations

import time

from airflow_ecs.aws.event_queue import RELEASE_DELAY, release_messages
from devtools.aws_fixtures import client


def test_a_released_event_is_back_for_its_owner_within_two_seconds(moto_server):
    sqs = client(moto_server, "sqs")
    # The queue's own visibility timeout (terraform/modules/events: 60 s by default) is what a release cuts short.
    url = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    (taken,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    release_messages(sqs, url, [taken["ReceiptHandle"]], RELEASE_DELAY)
    released = time.monotonic()
    # Not at once: the releasing consumer's next receive would take it straight back.
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=3).get("Messages", [])
    waited = time.monotonic() - released
    assert [m["MessageId"] for m in again] == [taken["MessageId"]]
    assert waited < 2.0, f"the owner waited {waited:.1f} s for a released event"


def test_more_events_than_one_batch_are_all_released(moto_server):
    # SQS takes at most 10 entries per ChangeMessageVisibilityBatch: 12 events are two calls, each with its own Ids.
    sqs = client(moto_server, "sqs")
    url = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    for index in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=str(index))
    taken: dict[str, str] = {}
    for _ in range(10):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            taken[message["MessageId"]] = message["ReceiptHandle"]
        if len(taken) == 12:
            break
    assert len(taken) == 12
    calls: list[list[dict]] = []

    class Counted:  # the real client, counting the batches (SQS refuses over 10 entries or repeated Ids; moto does not)
        def change_message_visibility_batch(self, **kwargs):
            calls.append(kwargs["Entries"])
            return sqs.change_message_visibility_batch(**kwargs)

    release_messages(Counted(), url, list(taken.values()), 0)
    assert [len(entries) for entries in calls] == [10, 2]
    assert all(len({e["Id"] for e in entries}) == len(entries) for entries in calls)
    assert sorted(e["ReceiptHandle"] for entries in calls for e in entries) == sorted(taken.values())
    again: set[str] = set()
    for _ in range(10):
        again |= {m["MessageId"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])}
        if len(again) == 12:
            break
    assert again == set(taken)
