"""What the citizen's and the staff's side of cases share: ids, authors, reading a live case, and the two
ways a thread grows — a new case with its first message (`create`), and a message appended to a case
(`append`). Both write everything of one change in one unit of work: the message or state, its history
entry (R-28), the citizen's inbox item and any attachments, with the Idempotency-Key guard first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.arrivals import service as arrivals
from chalicelib.cases.models import Created
from chalicelib.cases.repository import CaseExists, CaseRepository
from chalicelib.core import dynamo, idempotency
from chalicelib.core.clock import Clock, epoch_seconds, iso
from chalicelib.core.concurrency import VersionConflict, retrying
from chalicelib.core.errors import Conflict, InvalidInput
from chalicelib.core.ids import keyed_id
from chalicelib.core.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from chalicelib.cases.ports import Attachments, CaseStores
    from chalicelib.guardians.service import Subject
    from chalicelib.staff.identity import StaffPrincipal

RETENTION_YEARS = 2
MAX_ID_LENGTH = 64  # ids are uuids; anything longer is not one of ours
_IDS = uuid.UUID("6b1f7a52-5f2c-4e7b-9d0e-1177e0000001")


def derived_id(scope: str, idempotency_key: str | None) -> str:
    """A new id, or the same id for the same (caller, key): retries find their first result."""
    return keyed_id(_IDS, scope, idempotency_key)


def retention_end(closed: datetime) -> int:
    """R-24: two years after the case ends (29 February → 1 March)."""
    try:
        end = closed.replace(year=closed.year + RETENTION_YEARS)
    except ValueError:
        end = closed.replace(year=closed.year + RETENTION_YEARS, month=3, day=1)
    return epoch_seconds(end)


def due(at: datetime) -> str:
    """R-20: when the clinic must have answered something that arrives at `at`."""
    from chalicelib.cases.response_time import due_at

    return iso(due_at(at))


def live(case: dict[str, Any] | None, clock: Clock) -> dict[str, Any] | None:
    if case is None or (case.get("expiresAt") and int(case["expiresAt"]) <= epoch_seconds(clock())):
        return None
    return case


def valid_case_id(case_id: str) -> bool:
    """Checked before any read: DynamoDB refuses a key over 2 KB, and a path parameter can be longer."""
    return 0 < len(case_id) <= MAX_ID_LENGTH


def citizen_author(subject: Subject) -> dict[str, Any]:
    # staff (and the child, later) can see whether the child or a guardian in proxy mode wrote,
    # and which guardian: the name as the population register had it when they wrote.
    if subject.proxy:
        author = {"kind": "guardian", "citizenId": subject.actor_citizen_id, "onBehalfOf": subject.citizen_id}
        if subject.actor_name:
            author["name"] = subject.actor_name
        return author
    return {"kind": "citizen", "citizenId": subject.citizen_id}


def staff_author(staff: StaffPrincipal, clinic_name: str) -> dict[str, Any]:
    return {"kind": "staff", "hsaId": staff.hsa_id, "name": staff.name, "clinic": clinic_name}


def staff_actor(staff: StaffPrincipal) -> dict[str, Any]:
    return {"kind": "staff", "hsaId": staff.hsa_id, "name": staff.name}


def concurrent_change() -> Conflict:
    return Conflict("Ärendet ändrades samtidigt. Försök igen.", code="concurrent-change")


def message(
    case_id: str,
    message_id: str,
    at: datetime,
    *,
    kind: str,
    author: dict[str, Any],
    body: str,
    attachment_ids: list[str],
) -> dict[str, Any]:
    return {
        "id": message_id,
        "caseId": case_id,
        "kind": kind,
        "author": author,
        "body": body,
        "attachmentIds": attachment_ids or None,
        "createdAt": iso(at),
    }


def history(at: datetime, event: str, actor: dict[str, Any], details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"event": event, "actor": actor, "at": iso(at), "details": details or None}


def attach(
    uow: UnitOfWork,
    attachments: Attachments,
    ids: list[str],
    *,
    kind: Literal["citizen", "staff"],
    uploader_id: str,
    case_id: str,
    message_id: str,
    allowed: bool,
) -> None:
    """The message's files bound to it in the same unit of work (R-22: only where the case type allows)."""
    if not ids:
        return
    if not allowed:
        raise InvalidInput("Den här ärendetypen tar inte emot bilagor.", code="attachments-not-allowed")
    from chalicelib.attachments.models import Uploader

    attachments.attach(uow, ids, Uploader(kind, uploader_id), case_id=case_id, message_id=message_id)


def commit(
    uow: UnitOfWork, *, now: datetime, guard: idempotency.Guard | None, created_id: str | None
) -> Created | None:
    """Commits `uow` with the Idempotency-Key guard first (if any). None when this attempt committed; the
    first result when the same key won, or when the new case's id (derived from the key) exists.
    Raises VersionConflict when the case changed since it was read, or DynamoDB cancelled for a
    concurrent transaction (the caller reads again); 409 when another condition failed meanwhile."""
    now_epoch = epoch_seconds(now)
    idempotency.add_guard(uow, guard, {"id": created_id} if created_id else {}, now_epoch)
    try:
        uow.commit()
    except idempotency.LostRace as lost:
        first = idempotency.winner(lost, now_epoch)
        return Created(str(first.get("id", created_id)), created=False)
    except CaseExists:
        assert created_id is not None
        return Created(created_id, created=False)
    except dynamo.TransactionConflict as conflict:
        if dynamo.is_unavailable(conflict):
            raise VersionConflict from None
        if any(r == "ConditionalCheckFailed" for r in conflict.reasons):
            raise concurrent_change() from None
        raise
    return None


def replayed(guard: idempotency.Guard | None, clock: Clock) -> Created | None:
    first = idempotency.replayed(guard, epoch_seconds(clock()))
    return Created(str(first["id"]), created=False) if first else None


def create(
    case: dict[str, Any],
    message_id: str,
    now: datetime,
    *,
    guard: idempotency.Guard | None,
    message_kind: str,
    author: dict[str, Any],
    history_actor: dict[str, Any],
    body: str,
    attachment_ids: list[str],
    uploader: tuple[Literal["citizen", "staff"], str],
    inbox_kind: arrivals.InboxKind,
    unread: bool,
    stores: CaseStores,
    also: Callable[[UnitOfWork], None] | None = None,
) -> bool:
    """A new case with its first message, history entry, inbox item and files (and what `also` adds, e.g.
    a guardian's proxy trace): one transaction. False when an idempotent retry found the case already there."""
    case_id = case["caseId"]
    uow = stores.new_uow()
    stores.cases.add_case(uow, case)
    stores.cases.add_message(
        uow,
        message(case_id, message_id, now, kind=message_kind, author=author, body=body, attachment_ids=attachment_ids),
    )
    stores.cases.add_history(uow, case_id, history(now, "created", history_actor, {"kind": case["kind"]}))
    arrivals.new_item(
        uow,
        case["citizenId"],
        item_id=case_id,
        kind=inbox_kind,
        subject=case["subject"],
        sender=case["clinicName"],
        at=now,
        unread=unread,
        case_id=case_id,
        repo=stores.arrivals,
    )
    attach(
        uow,
        stores.attachments,
        attachment_ids,
        kind=uploader[0],
        uploader_id=uploader[1],
        case_id=case_id,
        message_id=message_id,
        allowed=bool(case["attachmentsAllowed"]),
    )
    if also is not None:
        also(uow)
    return commit(uow, now=now, guard=guard, created_id=case_id) is None


class Prefetched:
    """The case as read together with the Idempotency-Key guard (one request), for the first attempt;
    later attempts (after a lost race) read the case again."""

    def __init__(self, case_id: str, guard: idempotency.Guard | None, clock: Clock, repo: CaseRepository) -> None:
        self.repo = repo
        self.case: dict[str, Any] | None = None
        self.fresh = False
        self.first: Created | None = None
        if guard is None or not valid_case_id(case_id):
            return
        case, guard_item = repo.get_case_and_guard(case_id, guard)
        first = idempotency.replayed_from(guard, guard_item, epoch_seconds(clock()))
        self.case, self.fresh = case, True
        self.first = Created(str(first["id"]), created=False) if first else None

    def take(self, case_id: str) -> dict[str, Any] | None:
        if self.fresh:
            self.fresh = False
            return self.case
        return self.repo.get_case(case_id)


def read_case(case_id: str, repo: CaseRepository, prefetched: Prefetched | None = None) -> dict[str, Any] | None:
    """The case, or None for an id that cannot be one (checked before any read)."""
    if not valid_case_id(case_id):
        return None
    return prefetched.take(case_id) if prefetched else repo.get_case(case_id)


def append(
    case_id: str,
    *,
    actor: str,
    scope: str,
    request: dict[str, Any],
    idempotency_key: str | None,
    read: Callable[[Prefetched], dict[str, Any]],
    closed: str,
    write: Callable[[UnitOfWork, dict[str, Any], str, datetime], None],
    clock: Clock,
    stores: CaseStores,
) -> Created:
    """A message appended to a case, by the citizen or by staff: the Idempotency-Key guard is read with
    the case (one request); a replay is authorized (`read`: 404/403) and answers the first result;
    otherwise each attempt reads the case, refuses a closed one, and commits what `write` adds (with a
    version check on the case), retried with fresh state when another writer got there first."""
    guard = idempotency.guard(f"case-message:{case_id}:{scope}", idempotency_key, request)
    prefetched = Prefetched(case_id, guard, clock, stores.cases)
    if prefetched.first:
        read(prefetched)
        return prefetched.first
    message_id = derived_id(f"msg:{case_id}:{actor}", idempotency_key)

    def attempt() -> Created:
        case = read(prefetched)
        if case["status"] == "closed":
            raise Conflict(closed, code="case-closed")
        now = clock()
        uow = stores.new_uow()
        write(uow, case, message_id, now)
        return commit(uow, now=now, guard=guard, created_id=message_id) or Created(message_id, True)

    return retrying(attempt, conflict=concurrent_change())


def change(attempt: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A staff change of a case's state (assign, close), retried with fresh state on a lost race."""
    return retrying(attempt, conflict=concurrent_change())
