"""The inbox's read side: a page of the citizen's items from gsi1 (keys: `arrivals.repository`)."""

from __future__ import annotations

from typing import Any

from chalicelib.arrivals.repository import cursor_scope, index_partition
from chalicelib.core import dynamo
from chalicelib.core.config import settings

__all__ = ["cursor_scope", "page"]


def page(citizen_id: str, limit: int, start: dict[str, Any] | None, now_epoch: int) -> tuple[list[dict[str, Any]], Any]:
    """One Query per page; expired items (R-24) are filtered out, DynamoDB Local never deletes them."""
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "FilterExpression": "attribute_not_exists(expiresAt) OR expiresAt > :now",
        "ExpressionAttributeValues": dynamo.values(pk=index_partition(citizen_id), now=now_epoch),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = start
    response = dynamo.client().query(**request)
    return [dynamo.from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")
