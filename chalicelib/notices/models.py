"""A booking event as the booking system sent it, and the notice we keep per booking. Plain dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

Status = Literal["booked", "rebooked", "cancelled"]
State = Literal["pending", "released", "cancelled"]
Systems = ("PASiS", "PMO")

_IDS = uuid.UUID("5b0c4f64-5f0e-4d55-9c59-6f2a1e0c9a41")  # namespace of notice and message ids


@dataclass(frozen=True)
class Booking:
    """One booking event (API.md, Machine clients), validated."""

    system: str
    booking_id: str
    personnummer: str
    clinic_id: str
    starts_at: datetime
    ends_at: datetime | None
    booked_at: datetime
    sequence: int
    status: Status
    subject: str | None
    body: str | None
    place: str | None
    enclosures: bool


@dataclass(frozen=True)
class Content:
    """What the notice says: the copy of the paper notice (R-40)."""

    subject: str
    body: str
    clinic_name: str
    starts_at: str
    ends_at: str | None
    place: str | None


@dataclass(frozen=True)
class FollowUp:
    """The unread follow-up: due at `due_at`; then `read` or `unread` (reported at `reported_at`)."""

    due_at: str
    state: Literal["due", "read", "unread", "cancelled"] = "due"
    reported_at: str | None = None


@dataclass(frozen=True)
class Notice:
    """One booking's notice. Never holds a personnummer: `person_key` is its keyed hash, `citizen_id` the
    account (None without one)."""

    system: str
    booking_id: str
    notice_id: str
    person_key: str
    citizen_id: str | None
    clinic_id: str
    status: Status  # the last event applied
    version: str
    state: State
    content: Content | None  # None for a booking we only ever heard was cancelled
    release_at: str | None
    digital: bool
    paper_notice: bool
    paper_reason: str | None
    received_at: str
    released_at: str | None = None
    item_id: str | None = None  # the inbox item the release wrote
    follow_up: FollowUp | None = None
    messages: tuple[str, ...] = field(default_factory=tuple)  # inbox items about later changes

    def with_(self, **changes: Any) -> Notice:
        return replace(self, **changes)

    def to_record(self) -> dict[str, Any]:
        """The stored attributes, camelCase like every other item in the table."""
        return _camel(asdict(self) | {"messages": list(self.messages)})

    @staticmethod
    def from_record(raw: dict[str, Any]) -> Notice:
        values = _snake(raw)
        content, follow_up = values.get("content"), values.get("follow_up")
        names = {f for f in Notice.__dataclass_fields__}
        fields = {name: values.get(name) for name in names}  # DynamoDB leaves out what is None
        return Notice(
            **fields
            | {
                "content": Content(**content) if content else None,
                "follow_up": FollowUp(**follow_up) if follow_up else None,
                "messages": tuple(values.get("messages") or ()),
                "digital": bool(values.get("digital")),
                "paper_notice": bool(values.get("paper_notice")),
            }
        )


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    def name(key: str) -> str:
        head, *rest = key.split("_")
        return head + "".join(part.title() for part in rest)

    return {name(k): _camel(v) if isinstance(v, dict) else v for k, v in values.items()}


def _snake(values: dict[str, Any]) -> dict[str, Any]:
    def name(key: str) -> str:
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)

    return {name(k): _snake(v) if isinstance(v, dict) else v for k, v in values.items()}


def notice_id(system: str, booking_id: str) -> str:
    """The same booking always has the same notice id, so a replayed first event finds its notice."""
    return str(uuid.uuid5(_IDS, f"notice:{system}:{booking_id}"))


def item_id(notice: Notice, purpose: str) -> str:
    """An inbox item's id derived from the notice and the event version that wrote it: a replay of the
    same write hits the same key (and its put-if-absent condition)."""
    return str(uuid.uuid5(_IDS, f"{purpose}:{notice.notice_id}:{notice.version}"))
