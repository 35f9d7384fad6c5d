"""Keys and DynamoDB calls for cases, their messages and their append-only history.

CASE#<id> / CASE                  the case; gsi2 = clinic's cases by status; gsi3 (sparse) = due time
CASE#<id> / MSG#<at>#<message id>  a message (never changed: R-25)
CASE#<id> / HIST#<at>#<id>         a history entry (never changed: R-28)
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings


def case_key(case_id: str) -> dict[str, Any]:
    return dynamo.key(f"CASE#{case_id}", "CASE")


def status_index(clinic_id: str, status: str, created_at: str, case_id: str) -> dict[str, str]:
    return {"gsi2pk": f"CLINICCASES#{clinic_id}#{status}", "gsi2sk": f"{created_at}#{case_id}"}


def due_index(clinic_id: str, due_at: str, case_id: str) -> dict[str, str]:
    return {"gsi3pk": f"DUE#{clinic_id}", "gsi3sk": f"{due_at}#{case_id}"}


def put_new(item: dict[str, Any]) -> dict[str, Any]:
    """A Put action that never overwrites (ids are unique; a retried create finds its first result)."""
    return {
        "Put": {
            "TableName": settings().main_table,
            "Item": dynamo.to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def update_case_action(
    case_id: str,
    expected_version: int,
    *,
    set_values: dict[str, Any],
    remove: tuple[str, ...] = (),
    require_open: bool = True,
) -> dict[str, Any]:
    names: dict[str, str] = {"#v": "version", "#st": "status"}
    vals: dict[str, Any] = {"expected": expected_version, "one": 1, "closed": "closed"}
    sets = ["#v = #v + :one"]
    for i, (name, value) in enumerate(set_values.items()):
        names[f"#s{i}"] = name
        vals[f"s{i}"] = value
        sets.append(f"#s{i} = :s{i}")
    expression = "SET " + ", ".join(sets)
    if remove:
        for i, name in enumerate(remove):
            names[f"#r{i}"] = name
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    condition = "#v = :expected" + (" AND #st <> :closed" if require_open else "")
    return {
        "Update": {
            "TableName": settings().main_table,
            "Key": case_key(case_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dynamo.values(**vals),
        }
    }


def get_case(case_id: str) -> dict[str, Any] | None:
    item = dynamo.client().get_item(TableName=settings().main_table, Key=case_key(case_id), ConsistentRead=True)
    return dynamo.from_item(item["Item"]) if "Item" in item else None


def get_case_with(case_id: str, other: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The case and one other item (e.g. an idempotency guard) in one consistent BatchGetItem."""
    table = settings().main_table
    found = dynamo.batch_get([(table, case_key(case_id)), (table, other)])
    return found.get(dynamo.ref(table, case_key(case_id))), found.get(dynamo.ref(table, other))


def get_thread(case_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """The case, its messages and its history in one Query (oldest first)."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": dynamo.values(pk=f"CASE#{case_id}"),
        "ConsistentRead": True,
    }
    while True:
        response = dynamo.client().query(**request)
        items.extend(dynamo.from_item(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    case = next((i for i in items if i["sk"] == "CASE"), None)
    messages = [i for i in items if i["sk"].startswith("MSG#")]
    history = [i for i in items if i["sk"].startswith("HIST#")]
    return case, messages, history


def clinic_cases(
    clinic_id: str, status: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], Any]:
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "IndexName": "gsi2",
        "KeyConditionExpression": "gsi2pk = :pk",
        "ExpressionAttributeValues": dynamo.values(pk=f"CLINICCASES#{clinic_id}#{status}"),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = start
    response = dynamo.client().query(**request)
    return [dynamo.from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")


def overdue_cases(
    clinic_id: str, now_iso: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], Any]:
    """Unanswered, open cases whose due time has passed: a range read of the sparse due index."""
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "IndexName": "gsi3",
        "KeyConditionExpression": "gsi3pk = :pk AND gsi3sk < :now",
        "ExpressionAttributeValues": dynamo.values(pk=f"DUE#{clinic_id}", now=now_iso),
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = start
    response = dynamo.client().query(**request)
    return [dynamo.from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")


def count_overdue(clinic_id: str, now_iso: str) -> int:
    request: dict[str, Any] = {
        "TableName": settings().main_table,
        "IndexName": "gsi3",
        "KeyConditionExpression": "gsi3pk = :pk AND gsi3sk < :now",
        "ExpressionAttributeValues": dynamo.values(pk=f"DUE#{clinic_id}", now=now_iso),
        "Select": "COUNT",
    }
    total = 0
    while True:
        response = dynamo.client().query(**request)
        total += int(response.get("Count", 0))
        if "LastEvaluatedKey" not in response:
            return total
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def delete_thread(case_id: str) -> list[dict[str, Any]]:
    """Deletes everything left in the case's partition (retention); returns what was deleted."""
    _, messages, history = get_thread(case_id)
    items = messages + history
    table = settings().main_table
    for start in range(0, len(items), 25):
        dynamo.client().batch_write_item(
            RequestItems={
                table: [{"DeleteRequest": {"Key": dynamo.key(i["pk"], i["sk"])}} for i in items[start : start + 25]]
            }
        )
    return items
