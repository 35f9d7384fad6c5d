"""The staff directory (STAFF#<hsa-id> / STAFF), loaded from the region's catalogue (seeded locally)."""

from __future__ import annotations

from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings


def get(hsa_id: str) -> dict[str, Any] | None:
    item = dynamo.client().get_item(TableName=settings().main_table, Key=dynamo.key(f"STAFF#{hsa_id}", "STAFF"))
    return dynamo.from_item(item["Item"]) if "Item" in item else None


def put(member: dict[str, Any]) -> None:
    dynamo.client().put_item(
        TableName=settings().main_table,
        Item=dynamo.to_item({"pk": f"STAFF#{member['hsaId']}", "sk": "STAFF", "type": "staff", **member}),
    )
