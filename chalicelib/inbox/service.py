"""The citizen's inbox (inkorg): everything sent to them — case threads, messages from care, notices.

One item per thread, ordered by last activity; `unread` turns on when something arrives for the
citizen and off when they open it. Every arrival for the citizen gets a new `arrivalId` and, in the
same write, a due marker in the notification due index (the outbox: `chalicelib/notifications/due.py`):
the notification path (R-11) notifies once per arrival and clears the marker, and the sweeper finds an
arrival whose notification was lost. Items of a case that has ended expire with it (R-24).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from chalicelib.core.clock import Clock, epoch_seconds, iso
from chalicelib.core.cursor import decode, encode
from chalicelib.core.ids import new_id
from chalicelib.inbox import repository
from chalicelib.notifications import due

InboxKind = Literal["case", "message", "notice", "booking"]
PAGE_SIZE = 20


def new_item(
    citizen_id: str,
    *,
    item_id: str,
    kind: InboxKind,
    subject: str,
    sender: str,
    at: datetime,
    unread: bool,
    case_id: str | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    created = iso(at)
    arrival = due.marker(due.inbox_name(citizen_id, item_id), at + due.BOUND) if unread else {}
    return repository.put_item_action(
        {
            "pk": f"CITIZEN#{citizen_id}",
            "sk": f"INBOX#{item_id}",
            "type": "inbox-item",
            "id": item_id,
            "citizenId": citizen_id,
            "kind": kind,
            "subject": subject,
            "from": sender,
            "body": body,
            "caseId": case_id,
            "createdAt": created,
            "updatedAt": created,
            "unread": unread,
            "arrivalId": new_id() if unread else None,  # something new for the citizen: notify once
            **repository.order_keys(citizen_id, created, item_id),
            **arrival,
        }
    )


def new_message_action(
    citizen_id: str, *, subject: str, body: str, sender: str, at: datetime, kind: InboxKind = "message"
) -> dict[str, Any]:
    """A self-contained message (no case), e.g. the support desk's answer on an unlock (R-08)."""
    return new_item(
        citizen_id, item_id=new_id(), kind=kind, subject=subject, sender=sender, at=at, unread=True, body=body
    )


def arrived_action(
    citizen_id: str, item_id: str, at: datetime, *, unread: bool | None = True, expires_at: int | None = None
) -> dict[str, Any]:
    """The item moves to the top; `unread=True` means something arrived for the citizen (a new
    arrival id), `False` that the citizen wrote it, `None` that nothing arrived (e.g. the case closed)."""
    extra: dict[str, Any] = {"expiresAt": expires_at} if expires_at else {}
    if unread:
        extra["arrivalId"] = new_id()
        extra["notifySweeps"] = 0  # the sweeper's attempts count per arrival
        extra.update(due.marker(due.inbox_name(citizen_id, item_id), at + due.BOUND))
    return repository.touch_action(citizen_id, item_id, iso(at), unread=unread, extra=extra or None)


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
    start = decode(cursor, {"gsi1pk": f"INBOX#{citizen_id}", "pk": f"CITIZEN#{citizen_id}"})
    items, last = repository.page(citizen_id, limit, start, epoch_seconds(clock()))
    return {"items": [summary(i) for i in items], "nextCursor": encode(last)}


def get(citizen_id: str, item_id: str, *, clock: Clock) -> dict[str, Any] | None:
    item = repository.get_item(citizen_id, item_id)
    if item is None or (item.get("expiresAt") and int(item["expiresAt"]) <= epoch_seconds(clock())):
        return None
    return item


def mark_read(citizen_id: str, item_id: str) -> None:
    repository.mark_read(citizen_id, item_id)


def items(citizen_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """All live items, newest first (tests and tools; the API pages with `page`)."""
    from chalicelib.core.clock import system_clock

    return page(citizen_id, None, clock=system_clock, limit=limit)["items"]


def delete(citizen_id: str, item_id: str) -> None:
    repository.delete_item(citizen_id, item_id)
