"""Inbox items live in the citizen's partition, sorted by creation time (newest last)."""

from __future__ import annotations

from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings


def put_item_action(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": settings().main_table,
            "Item": dynamo.to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def list_items(citizen_id: str, limit: int = 50) -> list[dict[str, Any]]:
    response = dynamo.client().query(
        TableName=settings().main_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues=dynamo.values(pk=f"CITIZEN#{citizen_id}", prefix="INBOX#"),
        ScanIndexForward=False,
        Limit=limit,
    )
    return [dynamo.from_item(i) for i in response.get("Items", [])]
