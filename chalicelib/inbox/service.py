"""The citizen's inbox (inkorg), read side: a page of items (one Query), one item (marks it read).
What arrives is written by `chalicelib.arrivals`."""

from __future__ import annotations

from typing import Any

from chalicelib.arrivals import service as arrivals
from chalicelib.core.clock import Clock, epoch_seconds
from chalicelib.core.cursor import decode, encode
from chalicelib.inbox import repository

PAGE_SIZE = 20


def summary(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "kind": item["kind"],
        "subject": item["subject"],
        "from": item["from"],
        "createdAt": item["createdAt"],
        "updatedAt": item.get("updatedAt", item["createdAt"]),
        "unread": bool(item.get("unread")),
        "caseId": item.get("caseId"),
    }


def page(citizen_id: str, cursor: str | None, *, clock: Clock, limit: int = PAGE_SIZE) -> dict[str, Any]:
    start = decode(cursor, repository.cursor_scope(citizen_id))
    items, last = repository.page(citizen_id, limit, start, epoch_seconds(clock()))
    return {"items": [summary(i) for i in items], "nextCursor": encode(last)}


def get(citizen_id: str, item_id: str, *, clock: Clock) -> dict[str, Any] | None:
    item = arrivals.get_item(citizen_id, item_id)
    if item is None or (item.get("expiresAt") and int(item["expiresAt"]) <= epoch_seconds(clock())):
        return None
    return item


def mark_read(citizen_id: str, item_id: str) -> None:
    arrivals.mark_read(citizen_id, item_id)


def items(citizen_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """All live items, newest first (tests and tools; the API pages with `page`)."""
    from chalicelib.core.clock import system_clock

    return page(citizen_id, None, clock=system_clock, limit=limit)["items"]
