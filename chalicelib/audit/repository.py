"""The audit table: append-only entries, one partition per subject (a citizen, or a person's lookup key)."""

from __future__ import annotations

from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings


def put_action(entry: dict[str, Any]) -> dict[str, Any]:
    """A TransactWriteItems action appending `entry`; the condition makes an entry immutable."""
    return {
        "Put": {
            "TableName": settings().audit_table,
            "Item": dynamo.to_item(entry),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def put(entry: dict[str, Any]) -> None:
    dynamo.client().put_item(
        TableName=settings().audit_table,
        Item=dynamo.to_item(entry),
        ConditionExpression="attribute_not_exists(pk)",
    )


def query_subject(subject: str, limit: int = 100, actor_kind: str | None = None) -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": settings().audit_table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": dynamo.values(pk=subject),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if actor_kind:
        request["FilterExpression"] = "actorKind = :kind"
        request["ExpressionAttributeValues"] = dynamo.values(pk=subject, kind=actor_kind)
    response = dynamo.client().query(**request)
    return [dynamo.from_item(i) for i in response.get("Items", [])]


def query_ticket(ticket_ref: str) -> list[dict[str, Any]]:
    response = dynamo.client().query(
        TableName=settings().audit_table,
        IndexName="byTicket",
        KeyConditionExpression="ticketRef = :t",
        ExpressionAttributeValues=dynamo.values(t=ticket_ref),
    )
    return [dynamo.from_item(i) for i in response.get("Items", [])]
