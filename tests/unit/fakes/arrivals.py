"""The inbox write side's in-memory twin: items by (citizen, item id), writes staged in the unit of work."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from chalicelib.arrivals.repository import Activity
from chalicelib.core.unit_of_work import UnitOfWork
from tests.unit.fakes.unit_of_work import staged


class ItemMissing(Exception):
    """The update of an item that does not exist (DynamoDB: its `attribute_exists(pk)` condition failed)."""


class InMemoryArrivals:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.due: dict[tuple[str, str], datetime] = {}  # the outbox: arrivals whose notification is pending

    def add_item(self, uow: UnitOfWork, item: dict[str, Any], *, notify_by: datetime | None) -> None:
        key = (item["citizenId"], item["id"])

        def apply() -> None:
            self.items[key] = {k: v for k, v in copy.deepcopy(item).items() if v is not None}
            if notify_by:
                self.due[key] = notify_by

        staged(uow).stage(apply, check=lambda: ItemMissing() if key in self.items else None)

    def touch(self, uow: UnitOfWork, citizen_id: str, item_id: str, activity: Activity) -> None:
        key = (citizen_id, item_id)

        def apply() -> None:
            self.items[key].update(activity.changes())
            if activity.notify_by:
                self.due[key] = activity.notify_by

        staged(uow).stage(apply, check=lambda: None if key in self.items else ItemMissing())

    def get_item(self, citizen_id: str, item_id: str) -> dict[str, Any] | None:
        item = self.items.get((citizen_id, item_id))
        return copy.deepcopy(item) if item else None

    def mark_read(self, citizen_id: str, item_id: str) -> None:
        self.items[(citizen_id, item_id)]["unread"] = False

    def delete_item(self, citizen_id: str, item_id: str) -> None:
        self.items.pop((citizen_id, item_id), None)
        self.due.pop((citizen_id, item_id), None)
