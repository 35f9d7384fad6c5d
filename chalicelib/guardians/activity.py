"""What guardians did in proxy mode (R-31, R-36), for the child's guardians and for the teen later on.

Every act of a guardian in the child's name — a case started, a complaint, a message, a settings change —
appends an entry under the child's `PROXY#<citizen id>` audit subject, in the same transaction as the act
itself (`record`): the act and its trace commit together or not at all, and an idempotent retry that
writes nothing records nothing. `page` reads them back by key, newest first: one Query a page, no scan,
no filtering. Names are the guardian's name from the population register at the time of the act.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.audit import repository as audit_repository
from chalicelib.audit.models import AuditEntry, proxy_subject
from chalicelib.core.cursor import decode, encode

if TYPE_CHECKING:
    from chalicelib.audit.repository import AuditLog, AuditPages
    from chalicelib.core.unit_of_work import UnitOfWork
    from chalicelib.guardians.service import Subject

ProxyAct = Literal[
    "case-started",
    "complaint-submitted",
    "message-sent",
    "settings-changed",
    "booking-made",
    "booking-cancelled",
    "booking-rebooked",
    "health-declaration-submitted",
    "sample-kit-ordered",
]
ACTION_PREFIX = "proxy."
PAGE_SIZE = 20


def record(
    uow: UnitOfWork,
    subject: Subject,
    what: ProxyAct,
    at: datetime,
    *,
    log: AuditLog,
    case_id: str | None = None,
    fields: list[str] | None = None,
) -> None:
    """The act's trace, in the act's unit of work; nothing when the citizen acts for themselves."""
    if not subject.proxy:
        return
    record_act(
        uow,
        child_id=subject.citizen_id,
        guardian_id=subject.actor_citizen_id,
        guardian_name=subject.actor_name,
        what=what,
        at=at,
        log=log,
        details={"caseId": case_id, "fields": fields},
    )


def record_act(
    uow: UnitOfWork,
    *,
    child_id: str,
    guardian_id: str,
    guardian_name: str | None,
    what: ProxyAct,
    at: datetime,
    log: AuditLog,
    details: dict[str, Any] | None = None,
) -> None:
    """As `record`, for an act finished later than its request (a booking the reconciler confirmed)."""
    kept = {"guardianName": guardian_name, **(details or {})}
    log.append(
        uow,
        AuditEntry(
            subject=proxy_subject(child_id),
            action=ACTION_PREFIX + what,
            actor_kind="citizen",
            actor=guardian_id,
            at=at,
            details={k: v for k, v in kept.items() if v is not None},
        ),
    )


def page(
    citizen_id: str,
    cursor: str | None,
    *,
    limit: int = PAGE_SIZE,
    pages: AuditPages = audit_repository.PAGES,
) -> dict[str, Any]:
    """`GET /citizens/{cid}/proxy-activity`: newest first, `limit` a page, `nextCursor` while there is more.
    The caller has resolved `citizen_id` (the child a guardian acts for, or the citizen themselves)."""
    partition = proxy_subject(citizen_id)
    entries, last = pages.page(partition, limit, decode(cursor, {"pk": partition}))
    return {"items": [_act(e) for e in entries], "nextCursor": encode(last)}


def _act(entry: dict[str, Any]) -> dict[str, Any]:
    details = entry.get("details") or {}
    return {
        "at": entry["at"],
        "guardian": {"citizenId": entry["actor"], "name": details.get("guardianName")},
        "what": str(entry["action"]).removeprefix(ACTION_PREFIX),
        "caseId": details.get("caseId"),
        "fields": details.get("fields"),
    }
