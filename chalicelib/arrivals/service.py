"""Writing into the citizen's inbox (inkorg): case threads, messages from care, notices.

One item per thread, ordered by last activity; `unread` turns on when something arrives for the
citizen. Every arrival for the citizen gets a new `arrivalId` and, in the same write, a due marker in
the notification due index (the outbox: `due.py`): the notification path (R-11) notifies once per
arrival and clears the marker, and the sweeper finds an arrival whose notification was lost. Items of a
case that has ended expire with it (R-24). Callers add these writes to their own unit of work, so an
arrival commits with the change it announces.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from chalicelib.arrivals import due
from chalicelib.arrivals.repository import DYNAMO, Activity, ArrivalRepository
from chalicelib.core.clock import iso
from chalicelib.core.ids import new_id
from chalicelib.core.unit_of_work import UnitOfWork

InboxKind = Literal["case", "message", "notice", "booking", "invitation", "form"]


def new_item(
    uow: UnitOfWork,
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
    details: Mapping[str, Any] | None = None,
    notify_within: timedelta = due.BOUND,
    repo: ArrivalRepository = DYNAMO,
) -> dict[str, Any]:
    """A new item; `unread` means it is something new for the citizen (notified once); `details` are
    the kind's own attributes (a notice's clinic, time and place); `notify_within` bounds when the
    sweeper takes up a notification that never went (longer for bulk arrivals). Returns it."""
    created = iso(at)
    item = {
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
        **(details or {}),
    }
    repo.add_item(uow, item, notify_by=at + notify_within if unread else None)
    return item


def new_message(
    uow: UnitOfWork,
    citizen_id: str,
    *,
    subject: str,
    body: str,
    sender: str,
    at: datetime,
    kind: InboxKind = "message",
    repo: ArrivalRepository = DYNAMO,
) -> dict[str, Any]:
    """A self-contained message (no case), e.g. the support desk's answer on an unlock (R-08)."""
    return new_item(
        uow,
        citizen_id,
        item_id=new_id(),
        kind=kind,
        subject=subject,
        sender=sender,
        at=at,
        unread=True,
        body=body,
        repo=repo,
    )


def new_message_action(
    citizen_id: str, *, subject: str, body: str, sender: str, at: datetime, kind: InboxKind = "message"
) -> dict[str, Any]:
    """`new_message` as one TransactWriteItems action, for callers that still collect action lists."""
    uow = UnitOfWork()
    new_message(uow, citizen_id, subject=subject, body=body, sender=sender, at=at, kind=kind)
    return dict(uow.actions[0])


def arrived(
    uow: UnitOfWork,
    citizen_id: str,
    item_id: str,
    at: datetime,
    *,
    unread: bool | None = True,
    expires_at: int | None = None,
    repo: ArrivalRepository = DYNAMO,
) -> None:
    """The item moves to the top; `unread=True` means something arrived for the citizen (a new
    arrival id), `False` that the citizen wrote it, `None` that nothing arrived (e.g. the case closed)."""
    activity = Activity(
        updated_at=iso(at),
        unread=unread,
        arrival_id=new_id() if unread else None,
        notify_by=at + due.BOUND if unread else None,
        expires_at=expires_at,
    )
    repo.touch(uow, citizen_id, item_id, activity)


def get_item(citizen_id: str, item_id: str, *, repo: ArrivalRepository = DYNAMO) -> dict[str, Any] | None:
    """The stored item, expired or not (the reader decides)."""
    return repo.get_item(citizen_id, item_id)


def mark_read(citizen_id: str, item_id: str, *, repo: ArrivalRepository = DYNAMO) -> None:
    repo.mark_read(citizen_id, item_id)


def delete(citizen_id: str, item_id: str, *, repo: ArrivalRepository = DYNAMO) -> None:
    repo.delete_item(citizen_id, item_id)
