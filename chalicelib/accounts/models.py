"""The account (konto) and its lock state. Dataclasses: the account is read on every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

LockRequester = Literal["citizen", "care"]
LockChannel = Literal["form", "self-service"]
AccountStatus = Literal["active", "inactivated"]


@dataclass(frozen=True)
class Lock:
    """R-03: who asked, which region, the signed form's reference, and when. `channel` says how: a form
    through the support desk, or the citizen's own emergency lock in the app (`self-service`, issue 12)."""

    requested_by: LockRequester
    requester: str  # "citizen" or the treating staff member's HSA-id / name from the form
    region: str
    form_ref: str
    ticket_ref: str
    actor: str
    locked_at: str
    channel: LockChannel = "form"

    def to_record(self) -> dict[str, Any]:
        return {
            "requestedBy": self.requested_by,
            "requester": self.requester,
            "region": self.region,
            "formRef": self.form_ref,
            "ticketRef": self.ticket_ref,
            "actor": self.actor,
            "lockedAt": self.locked_at,
            "channel": self.channel,
        }

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> Lock:
        return cls(
            requested_by=raw["requestedBy"],
            requester=raw["requester"],
            region=raw["region"],
            form_ref=raw["formRef"],
            ticket_ref=raw["ticketRef"],
            actor=raw["actor"],
            locked_at=raw["lockedAt"],
            channel=raw.get("channel", "form"),
        )


@dataclass(frozen=True)
class UnlockDecision:
    """R-08: the head of unit's yes or no on lifting a care-requested lock."""

    approved: bool
    head_of_unit: str
    decision_ref: str
    region: str
    ticket_ref: str
    decided_at: str

    def to_record(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "headOfUnit": self.head_of_unit,
            "decisionRef": self.decision_ref,
            "region": self.region,
            "ticketRef": self.ticket_ref,
            "decidedAt": self.decided_at,
        }

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> UnlockDecision:
        return cls(
            approved=bool(raw["approved"]),
            head_of_unit=raw["headOfUnit"],
            decision_ref=raw["decisionRef"],
            region=raw["region"],
            ticket_ref=raw["ticketRef"],
            decided_at=raw["decidedAt"],
        )


# guardians act for a child under 13; on the 13th birthday (Stockholm date) that ends.
PROXY_AGE_LIMIT = 13
THIRTEEN_NOTICE_DAYS = 30  # child and guardians are told this many days before


@dataclass(frozen=True)
class Account:
    citizen_id: str
    personnummer: str
    status: AccountStatus
    activated_at: str
    activated_by: Literal["self", "guardian"]
    first_login_at: str | None  # consent to digital communication, given at first own login
    session_epoch: int  # sessions carry the epoch they were created in; lock/inactivation bumps it
    version: int  # optimistic concurrency for lifecycle changes
    lock: Lock | None = None
    unlock_decision: UnlockDecision | None = None
    record_sealed: bool = False
    must_review_settings: bool = False
    inactivated_at: str | None = None
    last_unlocked_at: str | None = None
    record_seal_changed_at: str | None = None
    # the Stockholm date the child turns 13, while the birthday's reset is still to be done (None
    # for adults and once done). It puts the account in the birthday due index (repository.py).
    thirteen_on: str | None = None
    thirteen_notice_at: str | None = None  # when child and guardians were told, 30 days before (issue 10)

    @property
    def locked(self) -> bool:
        return self.lock is not None

    @property
    def active(self) -> bool:
        return self.status == "active"


class AccountExists(Exception):
    """The person already has an account (created concurrently): the creating write was refused."""


class AccountChanged(Exception):
    """The account was locked, inactivated or moved to another epoch between the login's check and its
    commit (R-04)."""
