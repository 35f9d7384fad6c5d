"""The audit table: append-only entries, one partition per subject (a citizen, or a person's lookup key).

<subject> / <at>#<id>   → the entry; `byTicket` (ticketRef) finds a support ticket's entries

Subjects: `CITIZEN#<citizen id>`, `PERSON#<lookup key>` (no account), and `PROXY#<child's citizen id>`
for what guardians did in proxy mode (R-36), read a page at a time by `page`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.audit.models import AuditEntry
from chalicelib.core import dynamo
from chalicelib.core.clock import iso
from chalicelib.core.config import settings
from chalicelib.core.ids import new_id

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork


def record_of(entry: AuditEntry) -> dict[str, Any]:
    return {
        "pk": entry.subject,
        "sk": f"{iso(entry.at)}#{new_id()}",
        "action": entry.action,
        "actorKind": entry.actor_kind,
        "actor": entry.actor,
        "at": iso(entry.at),
        "outcome": entry.outcome,
        "ticketRef": entry.ticket_ref,
        "region": entry.region,
        "details": entry.details or None,
    }


class AuditLog(Protocol):
    def append(self, uow: UnitOfWork, entry: AuditEntry) -> None:
        """The entry commits with the change it records."""

    def append_now(self, entry: AuditEntry) -> None:
        """An entry on its own: a read (R-29) or a refusal, where nothing else is written."""

    def for_subject(self, subject: str, limit: int = 100, actor_kind: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""

    def for_ticket(self, ticket_ref: str) -> list[dict[str, Any]]: ...


class AuditPages(Protocol):
    def page(
        self, subject: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of the subject's entries, newest first, and the key to continue from (None: the end)."""


class DynamoAuditLog:
    def _put(self, entry: AuditEntry) -> dict[str, Any]:
        # The condition makes an entry immutable.
        return {
            "TableName": settings().audit_table,
            "Item": dynamo.to_item(record_of(entry)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def append(self, uow: UnitOfWork, entry: AuditEntry) -> None:
        uow.add({"Put": self._put(entry)})

    def append_now(self, entry: AuditEntry) -> None:
        dynamo.client().put_item(**self._put(entry))

    def for_subject(self, subject: str, limit: int = 100, actor_kind: str | None = None) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": settings().audit_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": dynamo.values(pk=subject),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if actor_kind:
            request["FilterExpression"] = "actorKind = :kind"
            request["ExpressionAttributeValues"] = dynamo.values(pk=subject, kind=actor_kind)
        response = dynamo.client().query(**request)
        return [dynamo.from_item(i) for i in response.get("Items", [])]

    def page(
        self, subject: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of the subject's entries, newest first, and the key to continue from (one Query)."""
        request: dict[str, Any] = {
            "TableName": settings().audit_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": dynamo.values(pk=subject),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = dynamo.client().query(**request)
        return [dynamo.from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")

    def for_ticket(self, ticket_ref: str) -> list[dict[str, Any]]:
        response = dynamo.client().query(
            TableName=settings().audit_table,
            IndexName="byTicket",
            KeyConditionExpression="ticketRef = :t",
            ExpressionAttributeValues=dynamo.values(t=ticket_ref),
        )
        return [dynamo.from_item(i) for i in response.get("Items", [])]


_DYNAMO = DynamoAuditLog()
DYNAMO: AuditLog = _DYNAMO
PAGES: AuditPages = _DYNAMO


def append(uow: UnitOfWork, entry: AuditEntry) -> None:
    """`audit.append(uow, entry)`: the entry joins the unit of work of the change it records."""
    DYNAMO.append(uow, entry)
