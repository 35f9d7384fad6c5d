"""What web booking keeps: an operation per citizen booking call (the intent recorded before the
booking system is called), and the open invitations that arrived from a booking system (R-44)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from chalicelib.core.ids import keyed_id

OpKind = Literal["book", "cancel", "rebook", "invitation"]
_IDS = uuid.UUID("5b1f8a52-64a4-4c55-9a0e-0c7c2f1e6b11")


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One booking activity by a citizen (or a guardian for a child). `requested` until the booking
    system's answer is recorded (`confirmed`); the op id is the booking system's `externalRef`, so a
    retry, a resolve or the reconciler can ask what became of it and cannot book twice."""

    op_id: str
    kind: OpKind
    state: Literal["requested", "confirmed"]
    system: str
    clinic_id: str
    clinic_name: str
    citizen_id: str
    actor_citizen_id: str
    fingerprint: str
    created_at: str
    actor_name: str | None = None  # the guardian's name in proxy mode
    slot_id: str | None = None
    booking_id: str | None = None
    invitation_id: str | None = None  # our invitation's id (= its inbox item's id)
    # the time concerned (the one booked, moved to, or cancelled), for the inbox message
    starts_at: str | None = None
    ends_at: str | None = None
    time_type_name: str | None = None
    reconcile_at: str | None = None
    result: dict[str, Any] | None = None

    def with_(self, **changes: Any) -> Operation:
        return replace(self, **changes)

    def to_record(self) -> dict[str, Any]:
        return {_camel(k): v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> Operation:
        names = {f: _camel(f) for f in cls.__dataclass_fields__}
        fields: dict[str, Any] = {f: raw[c] for f, c in names.items() if c in raw}
        return cls(**fields)


@dataclass(frozen=True)
class OfferedSlot:
    slot_id: str
    starts_at: str
    ends_at: str


@dataclass(frozen=True, kw_only=True)
class Invitation:
    """An open invitation (öppen kallelse, R-44): slots a clinic offers one citizen; booked once."""

    invitation_id: str  # ours, the inbox item's id
    system: str
    external_id: str  # the booking system's invitation id
    citizen_id: str
    clinic_id: str
    clinic_name: str
    slots: tuple[OfferedSlot, ...]
    expires_at: str
    state: Literal["open", "booking", "used"] = "open"
    op_id: str | None = None  # the booking in progress or made
    booked_slot_id: str | None = None
    booking_id: str | None = None
    received_at: str = ""

    def with_(self, **changes: Any) -> Invitation:
        return replace(self, **changes)


def op_id(scope: str, idempotency_key: str | None) -> str:
    """The same id for the same caller's retry (Idempotency-Key); a new one otherwise."""
    return keyed_id(_IDS, scope, idempotency_key)


def invitation_id(system: str, external_id: str) -> str:
    """Ours, derived from the booking system's id: a replayed invitation lands on the same key."""
    return str(uuid.uuid5(_IDS, f"invitation:{system}:{external_id}"))


def message_id(op: Operation) -> str:
    """The inbox message a confirmed operation writes: one per operation, whoever confirms it."""
    return str(uuid.uuid5(_IDS, f"message:{op.op_id}"))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)
