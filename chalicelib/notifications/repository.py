"""Notification items and the provider clients.

NOTIFICATION#<notification id> / NOTIFICATION     gsi1 = PROVIDERMSG#<provider message id>, NOTIFICATION
(gsi1 is set only once the provider accepted the message: delivery feedback finds the notification by
the SNS/SES message id.) Items hold ids and statuses only: never a phone number, an address or content.
"""

from __future__ import annotations

import json
import os
from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings

SORT_KEY = "NOTIFICATION"
_clients: dict[str, Any] = {}


def _client(service: Any) -> Any:
    """One client per service and process, created on first use (cold start)."""
    if service not in _clients:
        import boto3
        from botocore.config import Config

        # No SDK retries for the providers: a throttled send is retried through the queue.
        _clients[service] = boto3.client(
            service, config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=5)
        )
    return _clients[service]


def sns() -> Any:
    return _client("sns")


def ses() -> Any:
    return _client("ses")


def sqs() -> Any:
    return _client("sqs")


def reset_clients() -> None:
    _clients.clear()


def _key(notification_id: str) -> dict[str, Any]:
    return dynamo.key(f"NOTIFICATION#{notification_id}", SORT_KEY)


def create(item: dict[str, Any]) -> bool:
    """Puts a new notification; False if it already exists (a redelivered stream record)."""
    try:
        dynamo.client().put_item(
            TableName=settings().main_table,
            Item=dynamo.to_item(
                {"pk": f"NOTIFICATION#{item['notificationId']}", "sk": SORT_KEY, "type": "notification", **item}
            ),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except Exception as error:
        if dynamo.is_condition_failure(error):
            return False
        raise
    return True


def get(notification_id: str) -> dict[str, Any] | None:
    response = dynamo.client().get_item(TableName=settings().main_table, Key=_key(notification_id), ConsistentRead=True)
    return dynamo.from_item(response["Item"]) if "Item" in response else None


def _update(
    notification_id: str, values: dict[str, Any], condition: str | None = None, condition_values: Any = None
) -> bool:
    names = {f"#a{i}": name for i, name in enumerate(values)}
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "Key": _key(notification_id),
        "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(values))),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": dynamo.values(**{f"a{i}": v for i, v in enumerate(values.values())}),
    }
    base = "attribute_exists(pk)"
    request["ConditionExpression"] = f"{base} AND ({condition})" if condition else base
    if condition_values:
        request["ExpressionAttributeNames"].update(condition_values.get("names", {}))
        request["ExpressionAttributeValues"].update(dynamo.values(**condition_values.get("values", {})))
    try:
        dynamo.client().update_item(**request)
    except Exception as error:
        if dynamo.is_condition_failure(error):
            return False
        raise
    return True


def claim(notification_id: str, at: str) -> bool:
    """created → sending. A `sending` notification without a provider message id (the provider call
    failed or the function died during it) may be claimed again; one with an id never."""
    return _update(
        notification_id,
        {"status": "sending", "updatedAt": at},
        "#st = :created OR (#st = :sending AND attribute_not_exists(providerMessageId))",
        {"names": {"#st": "status"}, "values": {"created": "created", "sending": "sending"}},
    )


def sent(notification_id: str, provider_message_id: str, at: str) -> None:
    _update(
        notification_id,
        {
            "providerMessageId": provider_message_id,
            "sentAt": at,
            "updatedAt": at,
            "gsi1pk": f"PROVIDERMSG#{provider_message_id}",
            "gsi1sk": SORT_KEY,
        },
    )


def set_status(notification_id: str, status: str, at: str, *, reason: str | None = None) -> bool:
    values: dict[str, Any] = {"status": status, "updatedAt": at}
    if reason:
        values["reason"] = reason
    return _update(notification_id, values)


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


def enqueue(notification_ids: list[str]) -> None:
    """One SQS message per notification; the body is the id and nothing else."""
    url = os.environ["NOTIFICATIONS_QUEUE"]
    queue_url = url if url.startswith("http") else _queue_url(url)  # locally the env var holds the name
    for start in range(0, len(notification_ids), 10):
        chunk = notification_ids[start : start + 10]
        response = sqs().send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": json.dumps({"notificationId": n})} for i, n in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise RuntimeError(f"{len(response['Failed'])} notification messages were not queued")


_queue_urls: dict[str, str] = {}


def _queue_url(name: str) -> str:
    if name not in _queue_urls:
        _queue_urls[name] = sqs().get_queue_url(QueueName=name)["QueueUrl"]
    return _queue_urls[name]
