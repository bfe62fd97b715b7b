"""Another scheduler's event, released back to the queue: its owner must see it again within about a second.

Several schedulers share one events queue, so each receives the others' events and hands them back with
release_messages(..., RELEASE_DELAY), as the executor does. Against moto's SQS, which keeps visibility
timeouts in real time.
"""

from __future__ import annotations

import time

from airflow_ecs.events import RELEASE_DELAY, release_messages
from tests.aws_fixtures import client


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
