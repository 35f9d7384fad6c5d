"""Inbox items live in the citizen's partition; gsi1 orders them by last activity (newest first).

CITIZEN#<citizen id> / INBOX#<item id>    gsi1 = INBOX#<citizen id>, <updatedAt>#<item id>
                                          gsi4 = the arrival's notification due marker while one is
                                          pending (chalicelib/notifications/due.py)
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings


def item_key(citizen_id: str, item_id: str) -> dict[str, Any]:
    return dynamo.key(f"CITIZEN#{citizen_id}", f"INBOX#{item_id}")


def order_keys(citizen_id: str, updated_at: str, item_id: str) -> dict[str, str]:
    return {"gsi1pk": f"INBOX#{citizen_id}", "gsi1sk": f"{updated_at}#{item_id}"}


def put_item_action(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": settings().main_table,
            "Item": dynamo.to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def touch_action(
    citizen_id: str, item_id: str, updated_at: str, *, unread: bool | None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Moves an item to the top of the inbox (and flags it unread when something arrived for the citizen)."""
    values: dict[str, Any] = {"updatedAt": updated_at, "gsi1sk": f"{updated_at}#{item_id}", **(extra or {})}
    if unread is not None:
        values["unread"] = unread
    names = {f"#a{i}": name for i, name in enumerate(values)}
    return {
        "Update": {
            "TableName": settings().main_table,
            "Key": item_key(citizen_id, item_id),
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(values))),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dynamo.values(**{f"a{i}": v for i, v in enumerate(values.values())}),
        }
    }


def page(citizen_id: str, limit: int, start: dict[str, Any] | None, now_epoch: int) -> tuple[list[dict[str, Any]], Any]:
    """One Query per page; expired items (R-24) are filtered out, DynamoDB Local never deletes them."""
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "FilterExpression": "attribute_not_exists(expiresAt) OR expiresAt > :now",
        "ExpressionAttributeValues": dynamo.values(pk=f"INBOX#{citizen_id}", now=now_epoch),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = start
    response = dynamo.client().query(**request)
    return [dynamo.from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")


def get_item(citizen_id: str, item_id: str) -> dict[str, Any] | None:
    item = (
        dynamo.client()
        .get_item(TableName=settings().main_table, Key=item_key(citizen_id, item_id), ConsistentRead=True)
        .get("Item")
    )
    return dynamo.from_item(item) if item else None


def mark_read(citizen_id: str, item_id: str) -> None:
    dynamo.client().update_item(
        TableName=settings().main_table,
        Key=item_key(citizen_id, item_id),
        UpdateExpression="SET unread = :f",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues=dynamo.values(f=False),
    )


def delete_item(citizen_id: str, item_id: str) -> None:
    dynamo.client().delete_item(TableName=settings().main_table, Key=item_key(citizen_id, item_id))


# ---------------------------------------------------------------- the arrival's due marker


def arrival_claimed_action(
    citizen_id: str, item_id: str, arrival_id: str, notification_ids: list[str]
) -> dict[str, Any]:
    """Transaction action: the arrival's notifications are claimed. Clears the due marker and records
    which notifications the arrival got, only if this arrival is still the pending one."""
    return {
        "Update": {
            "TableName": settings().main_table,
            "Key": item_key(citizen_id, item_id),
            "UpdateExpression": "SET notificationIds = :ids REMOVE gsi4pk, gsi4sk, notifySweeps",
            "ConditionExpression": "arrivalId = :arrival AND attribute_exists(gsi4pk)",
            "ExpressionAttributeValues": dynamo.values(ids=notification_ids, arrival=arrival_id),
        }
    }


def _marker_update(
    citizen_id: str, item_id: str, arrival_id: str, seen_marker: str, expression: str, **values: Any
) -> bool:
    """An update of the marker the sweeper read, if it is still that one (same arrival, same due)."""
    try:
        dynamo.client().update_item(
            TableName=settings().main_table,
            Key=item_key(citizen_id, item_id),
            UpdateExpression=expression,
            ConditionExpression="arrivalId = :arrival AND gsi4sk = :seen",
            ExpressionAttributeValues=dynamo.values(arrival=arrival_id, seen=seen_marker, **values),
        )
    except Exception as error:
        if dynamo.is_condition_failure(error):
            return False
        raise
    return True


def reschedule_arrival(citizen_id: str, item_id: str, arrival_id: str, seen_marker: str, marker: str) -> bool:
    """The sweeper re-queued the arrival: due again later, one attempt more."""
    return _marker_update(
        citizen_id,
        item_id,
        arrival_id,
        seen_marker,
        "SET gsi4sk = :marker, notifySweeps = if_not_exists(notifySweeps, :zero) + :one",
        marker=marker,
        zero=0,
        one=1,
    )


def abandon_arrival(citizen_id: str, item_id: str, arrival_id: str, seen_marker: str, at: str) -> bool:
    """The sweeper gave up on the arrival: no marker any more, and when it gave up."""
    return _marker_update(
        citizen_id,
        item_id,
        arrival_id,
        seen_marker,
        "SET notifyAbandonedAt = :at REMOVE gsi4pk, gsi4sk",
        at=at,
    )
