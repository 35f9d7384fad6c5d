"""Audit entries (R-03, R-15, R-29): who did what to whose data, when, and under which ticket.

Entries never hold a personnummer: the subject is a citizen id, or the keyed hash of a personnummer
when the person has no account (e.g. a refused lock, R-05). A change's entry joins the change's unit
of work (`repository.append(uow, entry)`); reads and refusals are written on their own.
"""

from __future__ import annotations

from typing import Any

from chalicelib.audit import repository
from chalicelib.audit.models import ActorKind, AuditEntry, SupportRequest, citizen_subject, person_subject
from chalicelib.audit.repository import AuditLog

__all__ = [
    "ActorKind",
    "AuditEntry",
    "AuditLog",
    "SupportRequest",
    "append",
    "citizen_subject",
    "entries_for",
    "entries_for_ticket",
    "person_subject",
    "staff_reads",
]


def append(entry: AuditEntry, *, log: AuditLog = repository.DYNAMO) -> None:
    """An entry on its own (a staff read, a refusal): nothing else is written with it."""
    log.append_now(entry)


def entries_for(subject: str, limit: int = 100, *, log: AuditLog = repository.DYNAMO) -> list[dict[str, Any]]:
    return log.for_subject(subject, limit)


def entries_for_ticket(ticket_ref: str, *, log: AuditLog = repository.DYNAMO) -> list[dict[str, Any]]:
    return log.for_ticket(ticket_ref)


def staff_reads(citizen_id: str, limit: int = 200, *, log: AuditLog = repository.DYNAMO) -> list[dict[str, Any]]:
    """The citizen's access log: staff reads only, newest first, without internal details."""
    entries = log.for_subject(citizen_subject(citizen_id), limit, actor_kind="staff")
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
