"""Audit entries (R-03, R-15, R-29): who did what to whose data, when, and under which ticket.

Entries never hold a personnummer: the subject is a citizen id, or the keyed hash of a personnummer
when the person has no account (e.g. a refused lock, R-05). A guardian's act in proxy mode is also
recorded under `PROXY#<child's citizen id>` (R-36: the guardians' and the teen's activity view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ActorKind = Literal["support-desk", "staff", "citizen", "system", "care-system"]


def citizen_subject(citizen_id: str) -> str:
    return f"CITIZEN#{citizen_id}"


def person_subject(lookup_key: str) -> str:
    return f"PERSON#{lookup_key}"


def proxy_subject(citizen_id: str) -> str:
    """What guardians did in proxy mode for this child (R-36): its own partition, so that the guardians'
    and the teen's activity view reads exactly those entries, by key, newest first."""
    return f"PROXY#{citizen_id}"


@dataclass(frozen=True)
class SupportRequest:
    """Who at the support desk acts, for which region, under which ticket (R-03, R-15)."""

    ticket_ref: str
    region: str
    actor: str


@dataclass(frozen=True)
class AuditEntry:
    subject: str
    action: str
    actor_kind: ActorKind
    actor: str
    at: datetime
    outcome: str = "ok"
    ticket_ref: str | None = None
    region: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def by_support_desk(
        cls,
        subject: str,
        action: str,
        request: SupportRequest,
        *,
        at: datetime,
        details: dict[str, Any] | None = None,
        outcome: str = "ok",
    ) -> AuditEntry:
        """A support-desk action, audited with its ticket and region (R-03, R-15)."""
        return cls(
            subject=subject,
            action=action,
            actor_kind="support-desk",
            actor=request.actor,
            at=at,
            outcome=outcome,
            ticket_ref=request.ticket_ref,
            region=request.region,
            details=details or {},
        )

    @classmethod
    def refusal(
        cls,
        subject: str,
        action: str,
        request: SupportRequest,
        *,
        code: str,
        at: datetime,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """A refused support-desk action is audited too, with its ticket (R-03, R-15)."""
        return cls.by_support_desk(subject, action, request, at=at, details=details, outcome=f"refused:{code}")
