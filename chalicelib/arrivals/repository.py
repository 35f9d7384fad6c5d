"""Inbox items: keys, item shape and every write. Items live in the citizen's partition; gsi1 orders them
by last activity (newest first); gsi4 holds an arrival's notification due marker (`due.py`).

CITIZEN#<citizen id> / INBOX#<item id>    gsi1 = INBOX#<citizen id>, <updatedAt>#<item id>
                                          gsi4 = the arrival's due marker while its notification is pending
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.arrivals import due
from chalicelib.core import dynamo
from chalicelib.core.config import settings
from chalicelib.core.unit_of_work import UnitOfWork


def item_key(citizen_id: str, item_id: str) -> dict[str, Any]:
    return dynamo.key(f"CITIZEN#{citizen_id}", f"INBOX#{item_id}")  # as `add_item` writes them


def order_keys(citizen_id: str, updated_at: str, item_id: str) -> dict[str, str]:
    return {"gsi1pk": index_partition(citizen_id), "gsi1sk": f"{updated_at}#{item_id}"}


def index_partition(citizen_id: str) -> str:
    """The citizen's inbox in gsi1 (the read side pages it)."""
    return f"INBOX#{citizen_id}"


def cursor_scope(citizen_id: str) -> dict[str, str]:
    """What a page cursor of this citizen's inbox must name (a cursor of another inbox is refused)."""
    return {"gsi1pk": index_partition(citizen_id), "pk": f"CITIZEN#{citizen_id}"}


def _due_marker(citizen_id: str, item_id: str, notify_by: datetime) -> dict[str, str]:
    return due.marker(due.inbox_name(citizen_id, item_id), notify_by)


@dataclass(frozen=True)
class Activity:
    """Something happened in an item's thread: the item moves to the top, and changes as said here."""

    updated_at: str
    unread: bool | None  # None: as it was
    arrival_id: str | None  # a new arrival for the citizen (notified once), if any
    notify_by: datetime | None  # the new arrival's notification is due by then
    expires_at: int | None  # the thread ended

    def changes(self) -> dict[str, Any]:
        """The item's own attributes that change (the indexes' keys aside)."""
        changed: dict[str, Any] = {"updatedAt": self.updated_at}
        if self.expires_at:
            changed["expiresAt"] = self.expires_at
        if self.arrival_id:
            changed["arrivalId"] = self.arrival_id
        if self.unread is not None:
            changed["unread"] = self.unread
        return changed


class ArrivalRepository(Protocol):
    """The inbox items' writes and reads by key (the service is typed against this)."""

    def add_item(self, uow: UnitOfWork, item: dict[str, Any], *, notify_by: datetime | None) -> None: ...

    def touch(self, uow: UnitOfWork, citizen_id: str, item_id: str, activity: Activity) -> None: ...

    def get_item(self, citizen_id: str, item_id: str) -> dict[str, Any] | None: ...

    def mark_read(self, citizen_id: str, item_id: str) -> None: ...

    def delete_item(self, citizen_id: str, item_id: str) -> None: ...


class DynamoArrivals:
    def add_item(self, uow: UnitOfWork, item: dict[str, Any], *, notify_by: datetime | None) -> None:
        """A new item (its id must be new); with `notify_by` it is an arrival, due for notification."""
        citizen_id, item_id = item["citizenId"], item["id"]
        stored = {
            "pk": f"CITIZEN#{citizen_id}",
            "sk": f"INBOX#{item_id}",
            "type": "inbox-item",
            **item,
            **order_keys(citizen_id, item["updatedAt"], item_id),
            **(_due_marker(citizen_id, item_id, notify_by) if notify_by else {}),
        }
        uow.add(
            {
                "Put": {
                    "TableName": settings().main_table,
                    "Item": dynamo.to_item(stored),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )

    def touch(self, uow: UnitOfWork, citizen_id: str, item_id: str, activity: Activity) -> None:
        """Moves an existing item to the top (and flags it unread / a new arrival, when so)."""
        values = {**activity.changes(), "gsi1sk": f"{activity.updated_at}#{item_id}"}
        if activity.arrival_id:
            values["notifySweeps"] = 0  # the sweeper's attempts count per arrival
        if activity.notify_by:
            values.update(_due_marker(citizen_id, item_id, activity.notify_by))
        names = {f"#a{i}": name for i, name in enumerate(values)}
        uow.add(
            {
                "Update": {
                    "TableName": settings().main_table,
                    "Key": item_key(citizen_id, item_id),
                    "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(values))),
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": dynamo.values(**{f"a{i}": v for i, v in enumerate(values.values())}),
                }
            }
        )

    def get_item(self, citizen_id: str, item_id: str) -> dict[str, Any] | None:
        item = (
            dynamo.client()
            .get_item(TableName=settings().main_table, Key=item_key(citizen_id, item_id), ConsistentRead=True)
            .get("Item")
        )
        return dynamo.from_item(item) if item else None

    def mark_read(self, citizen_id: str, item_id: str) -> None:
        dynamo.client().update_item(
            TableName=settings().main_table,
            Key=item_key(citizen_id, item_id),
            UpdateExpression="SET unread = :f",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=dynamo.values(f=False),
        )

    def delete_item(self, citizen_id: str, item_id: str) -> None:
        dynamo.client().delete_item(TableName=settings().main_table, Key=item_key(citizen_id, item_id))


DYNAMO = DynamoArrivals()


# ---------------------------------------------------------------- the arrival's due marker


def claim(uow: UnitOfWork, citizen_id: str, item_id: str, arrival_id: str, notification_ids: list[str]) -> None:
    """The arrival's notifications are claimed (see `arrival_claimed_action`)."""
    uow.add(arrival_claimed_action(citizen_id, item_id, arrival_id, notification_ids))


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
