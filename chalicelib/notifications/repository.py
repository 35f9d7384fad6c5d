"""Notification items, the due index, the queue and the provider clients.

NOTIFICATION#<notification id> / NOTIFICATION     gsi1 = PROVIDERMSG#<provider message id>, NOTIFICATION
                                                  gsi4 = due marker while `sending` without a provider id
(gsi1 is set only once the provider accepted the message: delivery feedback finds the notification by
the SNS/SES message id.) Items hold ids and statuses only: never a phone number, an address or content.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core import clients, dynamo
from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError
from chalicelib.core.process import process_wide

SORT_KEY = "NOTIFICATION"


def sns() -> Any:
    return clients.provider("sns")


def ses() -> Any:
    return clients.provider("ses")


def sqs() -> Any:
    return clients.provider("sqs")


def key(notification_id: str) -> dict[str, Any]:
    return dynamo.key(f"NOTIFICATION#{notification_id}", SORT_KEY)


def stored(item: dict[str, Any]) -> dict[str, Any]:
    """The item as stored: keys and type added to the notification's attributes."""
    return {"pk": f"NOTIFICATION#{item['notificationId']}", "sk": SORT_KEY, "type": "notification", **item}


def new_action(item: dict[str, Any]) -> dict[str, Any]:
    """Transaction action: put a new notification, only if there is none at its (deterministic) key.
    This conditional put is the notification's idempotency record."""
    return {
        "Put": {
            "TableName": settings().main_table,
            "Item": dynamo.to_item(stored(item)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _conditional_update(notification_id: str, expression: str, condition: str | None, **values: Any) -> bool:
    """An update of an existing notification if `condition` holds; False when it does not."""
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "Key": key(notification_id),
        "UpdateExpression": expression,
        "ConditionExpression": f"attribute_exists(pk) AND ({condition})" if condition else "attribute_exists(pk)",
        "ExpressionAttributeNames": {"#st": "status"},
    }
    if values:
        request["ExpressionAttributeValues"] = dynamo.values(**values)
    if "#st" not in expression + (condition or ""):
        del request["ExpressionAttributeNames"]
    try:
        dynamo.client().update_item(**request)
    except Exception as error:
        if dynamo.is_condition_failure(error):
            return False
        raise
    return True


def reclaim(notification_id: str, *, now: str, lease_until: str, marker: dict[str, str]) -> bool:
    """Take a notification back up: one still `created` (queued by an earlier version), or one `sending`
    without a provider message id whose lease has run out (its sender released it after a transient
    provider error, or died). Never one the provider accepted, never one another sender holds."""
    return _conditional_update(
        notification_id,
        "SET #st = :sending, updatedAt = :now, leaseUntil = :lease, gsi4pk = :pk, gsi4sk = :sk",
        "attribute_not_exists(providerMessageId) AND (#st = :created OR (#st = :sending AND "
        "(attribute_not_exists(leaseUntil) OR leaseUntil < :now)))",
        sending="sending",
        created="created",
        now=now,
        lease=lease_until,
        pk=marker["gsi4pk"],
        sk=marker["gsi4sk"],
    )


def release(notification_id: str) -> bool:
    """The provider refused for now (throttled): give up the lease so the queue's redelivery can retry
    at once. The due marker stays: the sweeper is the backstop."""
    return _conditional_update(notification_id, "REMOVE leaseUntil", "attribute_not_exists(providerMessageId)")


def reschedule(notification_id: str, seen_marker: str, marker: str) -> bool:
    """The sweeper re-queued the notification: due again later, one attempt more."""
    return _conditional_update(
        notification_id,
        "SET gsi4sk = :marker, sweeps = if_not_exists(sweeps, :zero) + :one",
        "gsi4sk = :seen AND #st = :sending AND attribute_not_exists(providerMessageId)",
        marker=marker,
        seen=seen_marker,
        sending="sending",
        zero=0,
        one=1,
    )


def give_up(notification_id: str, seen_marker: str, at: str, reason: str) -> bool:
    """The sweeper stops trying: a technical failure, no marker any more."""
    return _conditional_update(
        notification_id,
        "SET #st = :failed, reason = :reason, updatedAt = :at REMOVE gsi4pk, gsi4sk, leaseUntil",
        "gsi4sk = :seen AND attribute_not_exists(providerMessageId)",
        failed="technical-failure",
        reason=reason,
        at=at,
        seen=seen_marker,
    )


def put_final(items: list[dict[str, Any]], *, sleep: Any = None) -> None:
    """Whole notification items (after the provider call: provider id, sent time, no lease, no due
    marker), 25 per BatchWriteItem; unprocessed ones are written again (`core.dynamo.batch_write`
    raises rather than leave one unwritten)."""
    dynamo.batch_write(
        settings().main_table, [{"PutRequest": {"Item": dynamo.to_item(stored(i))}} for i in items], sleep=sleep
    )


def set_status(notification_id: str, status: str, at: str, *, reason: str | None = None) -> bool:
    expression = "SET #st = :status, updatedAt = :at" + (", reason = :reason" if reason else "")
    values: dict[str, Any] = {"status": status, "at": at}
    if reason:
        values["reason"] = reason
    return _conditional_update(notification_id, expression, None, **values)


def due_items(shard: int, before: str, limit: int, page_size: int = 100) -> list[dict[str, Any]]:
    """Items whose notification due marker in `shard` is before `before` (ISO): range Queries of the
    sparse due index, oldest first, at most `limit` of them."""
    from chalicelib.arrivals import due

    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "IndexName": "gsi4",
        "KeyConditionExpression": "gsi4pk = :pk AND gsi4sk < :before",
        "ExpressionAttributeValues": dynamo.values(pk=due.partition(shard), before=before),
    }
    while len(found) < limit:
        response = dynamo.client().query(**request, Limit=min(page_size, limit - len(found)))
        found.extend(dynamo.from_item(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return found


def by_provider_message(provider_message_id: str) -> dict[str, Any] | None:
    response = dynamo.client().query(
        TableName=settings().main_table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk AND gsi1sk = :sk",
        ExpressionAttributeValues=dynamo.values(pk=f"PROVIDERMSG#{provider_message_id}", sk=SORT_KEY),
        Limit=1,
    )
    items = response.get("Items", [])
    return dynamo.from_item(items[0]) if items else None


def enqueue(bodies: list[dict[str, Any]]) -> list[int]:
    """One SQS message per body (ids only, never a detail), ten per SendMessageBatch. Returns the
    indexes of the bodies that were not queued (a failed entry, or a failed call for its ten)."""
    from chalicelib.core.observability import logger

    url = settings().notifications_queue
    if not url:
        raise ConfigurationError("NOTIFICATIONS_QUEUE is not set")
    queue_url = url if url.startswith("http") else _queue_url(url)  # locally the env var holds the name
    failed: list[int] = []
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        try:
            response = sqs().send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "MessageBody": json.dumps(body)} for i, body in enumerate(chunk)],
            )
        except Exception:
            logger.exception("queueing notification messages failed", extra={"count": len(chunk)})
            failed.extend(range(start, start + len(chunk)))
            continue
        failed.extend(start + int(entry["Id"]) for entry in response.get("Failed", []))
    return sorted(failed)


@process_wide
def _queue_url(name: str) -> str:
    return str(sqs().get_queue_url(QueueName=name)["QueueUrl"])
