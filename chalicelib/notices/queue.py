"""The notice release queue: one message per shard and run, `{"shard": n, "dueBy": "<ISO>"}` (ids and
times only), so the 18:00 burst is released by up to one worker per shard at once."""

from __future__ import annotations

import json
from datetime import datetime

from chalicelib.core.clients import provider
from chalicelib.core.clock import iso
from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError
from chalicelib.core.process import process_wide


class NotQueued(Exception):
    """SQS refused some of the run's messages: the schedule's invocation fails and is retried."""


def send(shards: list[int], due_by: datetime) -> None:
    url = _queue_url()
    bodies = [{"shard": shard, "dueBy": iso(due_by)} for shard in shards]
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        answer = provider("sqs").send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": json.dumps(body)} for i, body in enumerate(chunk)]
        )
        if answer.get("Failed"):
            raise NotQueued(f"{len(answer['Failed'])} of {len(chunk)} release messages")


def parse(body: str) -> tuple[int, datetime]:
    """(shard, due by) of a message; ValueError when it is not one of ours."""
    raw = json.loads(body)
    shard, due_by = raw["shard"], datetime.fromisoformat(str(raw["dueBy"]).replace("Z", "+00:00"))
    if not isinstance(shard, int) or isinstance(shard, bool) or due_by.tzinfo is None:
        raise ValueError("not a release message")
    return shard, due_by


@process_wide
def _queue_url() -> str:
    name = settings().notice_release_queue
    if not name:
        raise ConfigurationError("NOTICE_RELEASE_QUEUE is not set")
    # Locally the env var holds the queue's name; in AWS its URL.
    return name if name.startswith("http") else str(provider("sqs").get_queue_url(QueueName=name)["QueueUrl"])
