"""The audit log's in-memory twin: entries in the order they were committed."""

from __future__ import annotations

from typing import Any

from chalicelib.audit.models import AuditEntry
from chalicelib.audit.repository import record_of
from chalicelib.core.unit_of_work import UnitOfWork
from tests.unit.fakes.unit_of_work import staged


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, uow: UnitOfWork, entry: AuditEntry) -> None:
        staged(uow).stage(lambda: self.entries.append(entry))

    def append_now(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def for_subject(self, subject: str, limit: int = 100, actor_kind: str | None = None) -> list[dict[str, Any]]:
        found = [
            record_of(e) for e in reversed(self.entries) if e.subject == subject and actor_kind in (None, e.actor_kind)
        ]
        return found[:limit]

    def for_ticket(self, ticket_ref: str) -> list[dict[str, Any]]:
        return [record_of(e) for e in self.entries if e.ticket_ref == ticket_ref]

    def actions(self) -> list[tuple[str, str]]:
        """(action, outcome) of every entry, oldest first."""
        return [(e.action, e.outcome) for e in self.entries]
