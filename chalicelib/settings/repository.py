"""Keys and DynamoDB calls for settings.

CITIZEN#<citizen id> / SETTINGS → the citizen's settings, `version` for optimistic concurrency
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings as config


def settings_key(citizen_id: str) -> dict[str, Any]:
    return dynamo.key(f"CITIZEN#{citizen_id}", "SETTINGS")


def get(citizen_id: str) -> dict[str, Any] | None:
    response = dynamo.client().get_item(
        TableName=config().main_table, Key=settings_key(citizen_id), ConsistentRead=True
    )
    item = response.get("Item")
    return dynamo.from_item(item) if item else None


def put_action(citizen_id: str, record: dict[str, Any], expected_version: int) -> dict[str, Any]:
    """Replace the item if it is still at `expected_version` (0: it must not exist yet)."""
    item = {
        "pk": f"CITIZEN#{citizen_id}",
        "sk": "SETTINGS",
        "citizenId": citizen_id,
        **record,
        "version": expected_version + 1,
    }
    action: dict[str, Any] = {"TableName": config().main_table, "Item": dynamo.to_item(item)}
    if expected_version == 0:
        action["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        action["ConditionExpression"] = "version = :expected"
        action["ExpressionAttributeValues"] = dynamo.values(expected=expected_version)
    return {"Put": action}


def put(citizen_id: str, record: dict[str, Any], expected_version: int) -> bool:
    """The conditional put on its own; False when someone changed the settings meanwhile."""
    action = put_action(citizen_id, record, expected_version)["Put"]
    try:
        dynamo.client().put_item(**action)
    except Exception as error:
        if dynamo.is_condition_failure(error):
            return False
        raise
    return True
