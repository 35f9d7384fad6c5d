"""Putting things in a citizen's inbox. The inbox capability grows in the cases issue; this is the
part the account lifecycle needs: telling the citizen an outcome (R-08) in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from chalicelib.core.clock import iso
from chalicelib.core.ids import new_id
from chalicelib.inbox import repository

InboxKind = Literal["case", "message", "notice", "booking"]


def new_message_action(
    citizen_id: str, *, subject: str, body: str, sender: str, at: datetime, kind: InboxKind = "message"
) -> dict[str, Any]:
    item_id = new_id()
    return repository.put_item_action(
        {
            "pk": f"CITIZEN#{citizen_id}",
            "sk": f"INBOX#{iso(at)}#{item_id}",
            "type": "inbox-item",
            "id": item_id,
            "citizenId": citizen_id,
            "kind": kind,
            "subject": subject,
            "body": body,
            "from": sender,
            "createdAt": iso(at),
            "unread": True,
        }
    )


def items(citizen_id: str, limit: int = 50) -> list[dict[str, Any]]:
    return repository.list_items(citizen_id, limit)
