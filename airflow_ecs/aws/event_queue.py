"""The events queue's SQS side: a consumer thread that long-polls, and the release and delete calls.

Reading an event is pure (``airflow_ecs.core.events``); the consumer thread only receives, and the executor
applies events in ``sync()`` and then deletes them.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from airflow_ecs.core.events import EventsReceived, ReceivedMessage, ReceiveFailed, parse_event

RECEIVE_WAIT_SECONDS = 20  # SQS long polling: one call per 20 s when nothing happens
RECEIVE_BATCH = 10  # SQS's maximum per ReceiveMessage
# Seconds before another scheduler's event is visible again: long enough that this consumer's next
# receive rarely takes it back, short enough that its owner hears of it within a heartbeat or two.
RELEASE_DELAY = 1


class EventConsumer:
    """Long-polls the queue on a daemon thread and hands what it receives to ``results``."""

    def __init__(self, sqs: Any, queue_url: str, results: queue.SimpleQueue, *, wait_seconds: int | None = None):
        self._sqs = sqs
        self._queue_url = queue_url
        self._results = results
        # Read when built, not when defined: the tests poll for 1 s, so a stopped consumer ends within 1 s.
        self._wait_seconds = RECEIVE_WAIT_SECONDS if wait_seconds is None else wait_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecs-events", daemon=True)
        self.receive_calls = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.receive_calls += 1
                response = self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=RECEIVE_BATCH,
                    WaitTimeSeconds=self._wait_seconds,
                )
            except Exception as error:  # noqa: BLE001 - the thread must survive; sync() reports it
                self._results.put(ReceiveFailed(f"{type(error).__name__}: {error}"))
                self._stop.wait(5)
                continue
            messages = tuple(
                ReceivedMessage(m["ReceiptHandle"], parse_event(m.get("Body", "")))
                for m in response.get("Messages") or []
            )
            if messages:
                self._results.put(EventsReceived(messages))

    def stop(self) -> None:
        self._stop.set()


def release_messages(sqs: Any, queue_url: str, receipt_handles: list[str], delay: int) -> None:
    """Make messages visible again after ``delay`` seconds, for the consumer that owns them.

    With several schedulers on one queue, each receives the others' events too; waiting out the queue's
    visibility timeout (30 s or more) would delay the owner by that much at every wrong delivery.
    """
    for start in range(0, len(receipt_handles), RECEIVE_BATCH):
        batch = receipt_handles[start : start + RECEIVE_BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": delay}
                for index, handle in enumerate(batch)
            ],
        )


def delete_messages(sqs: Any, queue_url: str, receipt_handles: list[str]) -> None:
    for start in range(0, len(receipt_handles), RECEIVE_BATCH):
        batch = receipt_handles[start : start + RECEIVE_BATCH]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(batch)],
        )
