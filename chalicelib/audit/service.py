"""Audit entries (R-03, R-15, R-29): who did what to whose data, when, and under which ticket.

Entries never hold a personnummer: the subject is a citizen id, or the keyed hash of a personnummer
when the person has no account (e.g. a refused lock, R-05).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from chalicelib.audit import repository
from chalicelib.core.clock import iso
from chalicelib.core.ids import new_id

ActorKind = Literal["support-desk", "staff", "citizen", "system", "care-system"]


def citizen_subject(citizen_id: str) -> str:
    return f"CITIZEN#{citizen_id}"


def person_subject(lookup_key: str) -> str:
    return f"PERSON#{lookup_key}"


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

    def to_record(self) -> dict[str, Any]:
        return {
            "pk": self.subject,
            "sk": f"{iso(self.at)}#{new_id()}",
            "action": self.action,
            "actorKind": self.actor_kind,
            "actor": self.actor,
            "at": iso(self.at),
            "outcome": self.outcome,
            "ticketRef": self.ticket_ref,
            "region": self.region,
            "details": self.details or None,
        }


def append_action(entry: AuditEntry) -> dict[str, Any]:
    """The entry as a transaction action, so it commits with the change it records."""
    return repository.put_action(entry.to_record())


def append(entry: AuditEntry) -> None:
    repository.put(entry.to_record())


def entries_for(subject: str, limit: int = 100) -> list[dict[str, Any]]:
    return repository.query_subject(subject, limit)


def entries_for_ticket(ticket_ref: str) -> list[dict[str, Any]]:
    return repository.query_ticket(ticket_ref)


def staff_reads(citizen_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The citizen's access log: staff reads only, newest first, without internal details."""
    entries = repository.query_subject(citizen_subject(citizen_id), limit, actor_kind="staff")
    return [
        {
            "at": e["at"],
            "staffName": (e.get("details") or {}).get("staffName", e["actor"]),
            "staffHsaId": e["actor"],
            "clinicId": (e.get("details") or {}).get("clinicId"),
            "clinicName": (e.get("details") or {}).get("clinicName"),
            "what": e["action"].removeprefix("read."),
        }
        for e in entries
    ]


def support_desk_refusal(
    subject: str,
    action: str,
    *,
    actor: str,
    ticket_ref: str,
    region: str,
    code: str,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """A refused support-desk action is audited too, with its ticket (R-03, R-15)."""
    append(
        AuditEntry(
            subject=subject,
            action=action,
            actor_kind="support-desk",
            actor=actor,
            at=at,
            outcome=f"refused:{code}",
            ticket_ref=ticket_ref,
            region=region,
            details=details or {},
        )
    )
