"""Cases (ärenden): a citizen and a clinic talk securely (R-20..R-29).

Every change to a case is one transaction: the new message or state, its history entry (R-28), the
citizen's inbox item and any attachments — all or nothing. Messages and history are never changed
(R-25, R-28). Creating calls take an Idempotency-Key: a guard item at a key derived from it commits in
the same transaction (`core/idempotency`), so a retry answers the first result and writes nothing.
Appending to a case re-reads and retries when someone else changed the case first (`core/concurrency`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from chalicelib.accounts import service as accounts
from chalicelib.audit import service as audit
from chalicelib.cases import repository
from chalicelib.clinics import service as clinics
from chalicelib.core import dynamo, idempotency
from chalicelib.core.clock import Clock, epoch_seconds, iso, stockholm_date
from chalicelib.core.concurrency import VersionConflict, retrying
from chalicelib.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chalicelib.core.ids import new_id
from chalicelib.core.observability import metrics
from chalicelib.guardians.service import Subject
from chalicelib.inbox import service as inbox
from chalicelib.population.port import PopulationRegister
from chalicelib.staff.identity import StaffPrincipal

StaffMessageKind = Literal["answer", "partial-answer", "counter-question"]
COMPLAINT_CASE_TYPE = "synpunkter-klagomal"
RETENTION_YEARS = 2
MAX_ID_LENGTH = 64  # ids are uuids; anything longer is not one of ours
_IDS = uuid.UUID("6b1f7a52-5f2c-4e7b-9d0e-1177e0000001")

# who may send which kind of message.
ROLES_FOR_KIND: dict[str, tuple[str, ...]] = {
    "answer": ("case-handler",),
    "counter-question": ("case-handler",),
    "partial-answer": ("case-receiver", "case-handler"),
}


def _id(scope: str, idempotency_key: str | None) -> str:
    """A new id, or the same id for the same (caller, key): retries find their first result."""
    return str(uuid.uuid5(_IDS, f"{scope}:{idempotency_key}")) if idempotency_key else new_id()


def _retention_end(closed: datetime) -> int:
    """R-24: two years after the case ends (29 February → 1 March)."""
    try:
        end = closed.replace(year=closed.year + RETENTION_YEARS)
    except ValueError:
        end = closed.replace(year=closed.year + RETENTION_YEARS, month=3, day=1)
    return epoch_seconds(end)


def _due(at: datetime) -> datetime:
    from chalicelib.cases.response_time import due_at

    return due_at(at)


def _live(case: dict[str, Any] | None, clock: Clock) -> dict[str, Any] | None:
    if case is None or (case.get("expiresAt") and int(case["expiresAt"]) <= epoch_seconds(clock())):
        return None
    return case


def _history(
    case_id: str, at: datetime, event: str, actor: dict[str, Any], details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return repository.put_new(
        {
            "pk": f"CASE#{case_id}",
            "sk": f"HIST#{iso(at)}#{new_id()}",
            "type": "case-history",
            "event": event,
            "actor": actor,
            "at": iso(at),
            "details": details or None,
        }
    )


def _message_item(
    case_id: str,
    message_id: str,
    at: datetime,
    *,
    kind: str,
    author: dict[str, Any],
    body: str,
    attachment_ids: list[str],
) -> dict[str, Any]:
    return repository.put_new(
        {
            "pk": f"CASE#{case_id}",
            "sk": f"MSG#{iso(at)}#{message_id}",
            "type": "case-message",
            "id": message_id,
            "caseId": case_id,
            "kind": kind,
            "author": author,
            "body": body,
            "attachmentIds": attachment_ids or None,
            "createdAt": iso(at),
        }
    )


def _citizen_author(subject: Subject) -> dict[str, Any]:
    # staff can see whether the child or a guardian in proxy mode wrote.
    if subject.proxy:
        return {"kind": "guardian", "citizenId": subject.actor_citizen_id, "onBehalfOf": subject.citizen_id}
    return {"kind": "citizen", "citizenId": subject.citizen_id}


def _staff_author(staff: StaffPrincipal, clinic_name: str) -> dict[str, Any]:
    return {"kind": "staff", "hsaId": staff.hsa_id, "name": staff.name, "clinic": clinic_name}


def _attachments(
    ids: list[str], *, kind: Literal["citizen", "staff"], uploader_id: str, case_id: str, message_id: str, allowed: bool
) -> list[dict[str, Any]]:
    if not ids:
        return []
    if not allowed:
        raise InvalidInput("Den här ärendetypen tar inte emot bilagor.", code="attachments-not-allowed")
    from chalicelib.attachments.models import Uploader
    from chalicelib.attachments.service import attach_actions

    return attach_actions(ids, Uploader(kind, uploader_id), case_id=case_id, message_id=message_id)


def _concurrent_change() -> Conflict:
    return Conflict("Ärendet ändrades samtidigt. Försök igen.", code="concurrent-change")


@dataclass(frozen=True)
class Created:
    id: str
    created: bool  # False: an idempotent retry found the first result


def _commit(
    actions: list[dict[str, Any]],
    *,
    now: datetime,
    guard: idempotency.Guard | None = None,
    created_id: str | None = None,
    versioned: int | None = None,
) -> Created | None:
    """Commits `actions` (with the idempotency guard first, if any). Returns the first result when the
    same Idempotency-Key won; raises VersionConflict when the version-checked action at index
    `versioned` lost a race (or DynamoDB cancelled for a concurrent transaction): the caller reads again.
    `created_id` is the id the call creates: a new case whose id already exists is a replay too."""
    now_epoch = epoch_seconds(now)
    result = {"id": created_id} if created_id else {}
    try:
        dynamo.transact_write(idempotency.with_guard(guard, result, actions, now_epoch))
    except dynamo.TransactionConflict as conflict:
        first = idempotency.lost_race(guard, conflict, now_epoch)
        if first is not None:
            return Created(str(first.get("id", created_id)), created=False)
        offset = 1 if guard else 0
        if dynamo.is_unavailable(conflict) or (versioned is not None and conflict.failed(versioned + offset)):
            raise VersionConflict from None
        if created_id and versioned is None and conflict.failed(offset):
            return Created(created_id, created=False)  # the new case's id (derived from the key) exists
        if any(r == "ConditionalCheckFailed" for r in conflict.reasons):
            raise _concurrent_change() from None
        raise
    return None


def _replayed(guard: idempotency.Guard | None, clock: Clock) -> Created | None:
    first = idempotency.replayed(guard, epoch_seconds(clock()))
    return Created(str(first["id"]), created=False) if first else None


def _staff_actor(staff: StaffPrincipal) -> dict[str, Any]:
    return {"kind": "staff", "hsaId": staff.hsa_id, "name": staff.name}


def _create(
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
    inbox_kind: inbox.InboxKind,
    unread: bool,
) -> bool:
    """A new case with its first message, history entry, inbox item and files: one transaction.
    False when an idempotent retry found the case already there."""
    case_id = case["caseId"]
    replay = _commit(
        [
            repository.put_new(case),
            _message_item(
                case_id, message_id, now, kind=message_kind, author=author, body=body, attachment_ids=attachment_ids
            ),
            _history(case_id, now, "created", history_actor, {"kind": case["kind"]}),
            inbox.new_item(
                case["citizenId"],
                item_id=case_id,
                kind=inbox_kind,
                subject=case["subject"],
                sender=case["clinicName"],
                at=now,
                unread=unread,
                case_id=case_id,
            ),
            *_attachments(
                attachment_ids,
                kind=uploader[0],
                uploader_id=uploader[1],
                case_id=case_id,
                message_id=message_id,
                allowed=bool(case["attachmentsAllowed"]),
            ),
        ],
        now=now,
        guard=guard,
        created_id=case_id,
    )
    return replay is None


# ---------------------------------------------------------------- citizen side


def start_case(
    subject: Subject,
    *,
    clinic_id: str,
    case_type_id: str,
    title: str,
    body: str,
    attachment_ids: list[str],
    idempotency_key: str | None,
    clock: Clock,
) -> Created:
    clinic = clinics.get(clinic_id)
    case_type = clinic.case_type(case_type_id)
    if case_type is None or not case_type.active:
        raise InvalidInput("Mottagningen tar inte emot den här typen av ärenden.", code="case-type-not-offered")
    return _open_case(
        subject,
        clinic=clinic,
        case_type_id=case_type.id,
        case_type_name=case_type.name,
        title=title,
        body=body,
        attachment_ids=attachment_ids,
        attachments_allowed=case_type.attachments_allowed,
        idempotency_key=idempotency_key,
        clock=clock,
    )


def _open_case(
    subject: Subject,
    *,
    clinic: clinics.Clinic,
    case_type_id: str,
    case_type_name: str,
    title: str,
    body: str,
    attachment_ids: list[str],
    attachments_allowed: bool,
    idempotency_key: str | None,
    clock: Clock,
    kind: str = "case",
    complaint: dict[str, Any] | None = None,
) -> Created:
    scope = f"{kind}:{subject.actor_citizen_id}:{subject.citizen_id}"
    guard = idempotency.guard(
        scope,
        idempotency_key,
        {
            "clinic": clinic.clinic_id,
            "caseType": case_type_id,
            "subject": title,
            "body": body,
            "attachments": attachment_ids,
            "complaint": complaint,
        },
    )
    if first := _replayed(guard, clock):
        return first
    now = clock()
    case_id = _id(f"case:{subject.actor_citizen_id}", idempotency_key)
    message_id = _id(f"first:{case_id}", "first")
    due = iso(_due(now))
    author = _citizen_author(subject)
    case = {
        "pk": f"CASE#{case_id}",
        "sk": "CASE",
        "type": "case",
        "caseId": case_id,
        "kind": kind,
        "clinicId": clinic.clinic_id,
        "clinicName": clinic.name,
        "caseTypeId": case_type_id,
        "caseTypeName": case_type_name,
        "citizenId": subject.citizen_id,
        "subject": title,
        "status": "open",
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "dueAt": due,
        "startedBy": author,
        "attachmentsAllowed": attachments_allowed,
        "complaint": complaint,
        "version": 1,
        **repository.status_index(clinic.clinic_id, "open", iso(now), case_id),
        **repository.due_index(clinic.clinic_id, due, case_id),
    }
    created = _create(
        case,
        message_id,
        now,
        message_kind="citizen-message",
        author=author,
        history_actor=author,
        body=body,
        attachment_ids=attachment_ids,
        uploader=("citizen", subject.citizen_id),
        inbox_kind="case",
        unread=False,
        guard=guard,
    )
    if created:
        metrics.add_metric(name="CaseStarted", unit="Count", value=1)
    return Created(case_id, created)


def complain(
    subject: Subject,
    *,
    clinic_id: str | None,
    board_region: str | None,
    location: str | None,
    event_date: date,
    care_process: bool,
    body: str,
    idempotency_key: str | None,
    clock: Clock,
) -> Created:
    """R-27: never anonymous (a logged-in citizen); the patient board with a free-text location when the
    clinic is unknown; for a whole care process the event date is when it started."""
    if event_date > stockholm_date(clock()):
        raise InvalidInput("Datumet för händelsen kan inte ligga i framtiden.", code="event-date-in-future")
    complaint = {"eventDate": event_date.isoformat(), "concernsCareProcess": care_process}
    if clinic_id:
        clinic = clinics.get(clinic_id)
        case_type = clinic.case_type(COMPLAINT_CASE_TYPE)
        if case_type is None or not case_type.active:
            raise InvalidInput(
                "Mottagningen tar inte emot synpunkter och klagomål här. Du kan vända dig till patientnämnden.",
                code="complaints-not-offered",
            )
        type_id, type_name, allowed = case_type.id, case_type.name, case_type.attachments_allowed
    else:
        clinic = clinics.patient_board(board_region or "")
        complaint["location"] = location
        type_id, type_name, allowed = COMPLAINT_CASE_TYPE, "Synpunkter och klagomål", False
    return _open_case(
        subject,
        clinic=clinic,
        case_type_id=type_id,
        case_type_name=type_name,
        title="Synpunkter och klagomål",
        body=body,
        attachment_ids=[],
        attachments_allowed=allowed,
        idempotency_key=idempotency_key,
        clock=clock,
        kind="complaint",
        complaint=complaint,
    )


class _Prefetched:
    """The case as read together with the Idempotency-Key guard (one request), for the first attempt;
    later attempts (after a lost race) read the case again."""

    def __init__(self, case_id: str, guard: idempotency.Guard | None, clock: Clock) -> None:
        self.case: dict[str, Any] | None = None
        self.fresh = False
        self.first: Created | None = None
        if guard is None or not _valid_case_id(case_id):
            return
        case, guard_item = repository.get_case_with(case_id, guard.key)
        first = idempotency.replayed_from(guard, guard_item, epoch_seconds(clock()))
        self.case, self.fresh = case, True
        self.first = Created(str(first["id"]), created=False) if first else None

    def take(self, case_id: str) -> dict[str, Any] | None:
        if self.fresh:
            self.fresh = False
            return self.case
        return repository.get_case(case_id)


def _read_case(case_id: str, prefetched: _Prefetched | None) -> dict[str, Any] | None:
    """The case, or None for an id that cannot be one (checked before any read: DynamoDB refuses a key
    over 2 KB with an error, and a path parameter can be longer)."""
    if not _valid_case_id(case_id):
        return None
    return prefetched.take(case_id) if prefetched else repository.get_case(case_id)


def _valid_case_id(case_id: str) -> bool:
    return 0 < len(case_id) <= MAX_ID_LENGTH


def _citizen_case(
    subject: Subject, case_id: str, clock: Clock, prefetched: _Prefetched | None = None
) -> dict[str, Any]:
    case = _live(_read_case(case_id, prefetched), clock)
    if case is None or case["citizenId"] != subject.citizen_id:
        raise NotFound("Ärendet finns inte.", code="case-not-found")
    return case


def citizen_message(
    subject: Subject, case_id: str, *, body: str, attachment_ids: list[str], idempotency_key: str | None, clock: Clock
) -> Created:
    def actions(case: dict[str, Any], message_id: str, now: datetime) -> list[dict[str, Any]]:
        due = iso(_due(now))  # the clinic owes an answer again
        return [
            _message_item(
                case_id,
                message_id,
                now,
                kind="citizen-message",
                author=author,
                body=body,
                attachment_ids=attachment_ids,
            ),
            repository.update_case_action(
                case_id,
                int(case["version"]),
                set_values={
                    "updatedAt": iso(now),
                    "dueAt": due,
                    **repository.due_index(case["clinicId"], due, case_id),
                },
            ),
            inbox.arrived_action(subject.citizen_id, case_id, now, unread=False),
            _history(case_id, now, "message", author, {"messageId": message_id, "kind": "citizen-message"}),
            *_attachments(
                attachment_ids,
                kind="citizen",
                uploader_id=subject.citizen_id,
                case_id=case_id,
                message_id=message_id,
                allowed=bool(case.get("attachmentsAllowed")),
            ),
        ]

    author = _citizen_author(subject)
    return _append(
        case_id,
        actor=subject.actor_citizen_id,
        scope=f"{subject.actor_citizen_id}:{subject.citizen_id}",
        request={"body": body, "attachments": attachment_ids},
        idempotency_key=idempotency_key,
        read=lambda prefetched: _citizen_case(subject, case_id, clock, prefetched),
        closed="Ärendet är avslutat. Starta ett nytt ärende.",
        actions=actions,
        clock=clock,
    )


def _append(
    case_id: str,
    *,
    actor: str,
    scope: str,
    request: dict[str, Any],
    idempotency_key: str | None,
    read: Callable[[_Prefetched], dict[str, Any]],
    closed: str,
    actions: Callable[[dict[str, Any], str, datetime], list[dict[str, Any]]],
    clock: Clock,
) -> Created:
    """A message appended to a case, by the citizen or by staff: the Idempotency-Key guard is read with
    the case (one request); a replay is authorized (`read`: 404/403) and answers the first result;
    otherwise each attempt reads the case, refuses a closed one, and commits `actions` with a version
    check on the case, retried with fresh state when another writer got there first."""
    guard = idempotency.guard(f"case-message:{case_id}:{scope}", idempotency_key, request)
    prefetched = _Prefetched(case_id, guard, clock)
    if prefetched.first:
        read(prefetched)
        return prefetched.first
    message_id = _id(f"msg:{case_id}:{actor}", idempotency_key)

    def attempt() -> Created:
        case = read(prefetched)
        if case["status"] == "closed":
            raise Conflict(closed, code="case-closed")
        now = clock()
        committed = _commit(actions(case, message_id, now), now=now, guard=guard, created_id=message_id, versioned=1)
        return committed or Created(message_id, True)

    return retrying(attempt, conflict=_concurrent_change())


def citizen_view(subject: Subject, case_id: str, *, clock: Clock) -> dict[str, Any]:
    case, messages, _ = repository.get_thread(case_id)
    case = _live(case, clock)
    if case is None or case["citizenId"] != subject.citizen_id:
        raise NotFound("Ärendet finns inte.", code="case-not-found")
    return {
        "caseId": case_id,
        "clinicId": case["clinicId"],
        "clinicName": case["clinicName"],
        "caseTypeName": case["caseTypeName"],
        "status": "closed" if case["status"] == "closed" else "open",
        "subject": case["subject"],
        "createdAt": case["createdAt"],
        "messages": [_message_out(m, for_staff=False) for m in messages],
    }


def _message_out(message: dict[str, Any], *, for_staff: bool) -> dict[str, Any]:
    author = message["author"]
    if author["kind"] == "staff":
        shown = {"kind": "staff", "name": author.get("name"), "clinic": author.get("clinic")}
        if for_staff:
            shown["hsaId"] = author.get("hsaId")
    else:
        shown = {"kind": author["kind"]}
        if for_staff and author["kind"] == "guardian":
            shown["guardianCitizenId"] = author.get("citizenId")
    return {
        "id": message["id"],
        "kind": message["kind"],
        "author": shown,
        "body": message["body"],
        "createdAt": message["createdAt"],
        "attachmentIds": message.get("attachmentIds") or [],
    }


# ---------------------------------------------------------------- staff side


def _staff_case(
    staff: StaffPrincipal, case_id: str, clock: Clock, *roles: str, prefetched: _Prefetched | None = None
) -> dict[str, Any]:
    case = _live(_read_case(case_id, prefetched), clock)
    if case is None or not any(clinic == case["clinicId"] for clinic, _ in staff.roles):
        raise NotFound("Ärendet finns inte.", code="case-not-found")  # R-21: other clinics' cases do not exist
    staff.require(case["clinicId"], *roles)
    return case


def staff_list(
    staff: StaffPrincipal, clinic_id: str, status: str, *, cursor: dict[str, Any] | None, clock: Clock, limit: int = 50
) -> tuple[list[dict[str, Any]], Any]:
    staff.require(clinic_id, "case-receiver", "case-handler")
    if status == "overdue":
        items, last = repository.overdue_cases(clinic_id, iso(clock()), limit, cursor)
        metrics.add_metric(name="OverdueCasesListed", unit="Count", value=len(items))
    elif status in ("open", "assigned", "closed"):
        items, last = repository.clinic_cases(clinic_id, status, limit, cursor)
    else:
        raise InvalidInput("status ska vara open, assigned, overdue eller closed.", code="invalid-status")
    now = iso(clock())
    return [_case_summary(c, now) for c in items if _live(c, clock)], last


def _case_summary(case: dict[str, Any], now_iso: str) -> dict[str, Any]:
    unanswered = "gsi3pk" in case
    return {
        "caseId": case["caseId"],
        "kind": case["kind"],
        "subject": case["subject"],
        "caseTypeName": case["caseTypeName"],
        "status": case["status"],
        "createdAt": case["createdAt"],
        "updatedAt": case["updatedAt"],
        "dueAt": case.get("dueAt") if unanswered else None,
        "overdue": unanswered and case["status"] != "closed" and case.get("dueAt", "~") < now_iso,
        "handlerHsaId": case.get("handlerHsaId"),
        "startedBy": case["startedBy"]["kind"],
    }


def staff_view(staff: StaffPrincipal, case_id: str, *, register: PopulationRegister, clock: Clock) -> dict[str, Any]:
    """A case with its whole history. Every call is an audited read of the citizen's data (R-29)."""
    case = _staff_case(staff, case_id, clock, "case-receiver", "case-handler")
    _, messages, history = repository.get_thread(case_id)
    account = accounts.get(case["citizenId"])
    person = register.find(account.personnummer) if account else None
    record_access(
        staff,
        case["citizenId"],
        clinic_id=case["clinicId"],
        clinic_name=case["clinicName"],
        what="case",
        reference=case_id,
        clock=clock,
    )
    return {
        **_case_summary(case, iso(clock())),
        "clinicId": case["clinicId"],
        "complaint": case.get("complaint"),
        "citizen": {
            "citizenId": case["citizenId"],
            "name": person.name if person else None,
            "personnummer": person.personnummer if person else None,
            "protectedIdentity": bool(person and person.protected),  # staff see the marker
            "accountLocked": bool(account and account.locked),  # staff see the lock
        },
        "messages": [_message_out(m, for_staff=True) for m in messages],
        "history": [
            {"event": h["event"], "at": h["at"], "actor": h["actor"], "details": h.get("details")} for h in history
        ],
    }


def record_access(
    staff: StaffPrincipal, citizen_id: str, *, clinic_id: str, clinic_name: str, what: str, reference: str, clock: Clock
) -> None:
    """R-29: who (name, HSA-id), at which clinic, read what, when, and why."""
    audit.append(
        audit.AuditEntry(
            subject=audit.citizen_subject(citizen_id),
            action=f"read.{what}",
            actor_kind="staff",
            actor=staff.hsa_id,
            at=clock(),
            details={
                "staffName": staff.name,
                "clinicId": clinic_id,
                "clinicName": clinic_name,
                "reference": reference,
                "purpose": "ärendehantering",
            },
        )
    )


def assign(staff: StaffPrincipal, case_id: str, handler_hsa_id: str, *, clock: Clock) -> dict[str, Any]:
    from chalicelib.staff import service as directory

    def attempt() -> dict[str, Any]:
        case = _staff_case(staff, case_id, clock, "case-receiver")
        if case["status"] == "closed":
            raise Conflict("Ärendet är avslutat.", code="case-closed")
        done = {"caseId": case_id, "status": "assigned", "handlerHsaId": handler_hsa_id}
        if case["status"] == "assigned" and case.get("handlerHsaId") == handler_hsa_id:
            return done  # already so: a repeated call writes nothing
        if not directory.has_role(handler_hsa_id, case["clinicId"], "case-handler"):
            raise InvalidInput("Mottagaren är inte ärendehanterare på mottagningen.", code="not-a-case-handler")
        now = clock()
        actions = [
            repository.update_case_action(
                case_id,
                int(case["version"]),
                set_values={
                    "status": "assigned",
                    "handlerHsaId": handler_hsa_id,
                    "updatedAt": iso(now),
                    **repository.status_index(case["clinicId"], "assigned", case["createdAt"], case_id),
                },
            ),
            _history(case_id, now, "assigned", _staff_actor(staff), {"handlerHsaId": handler_hsa_id}),
        ]
        _commit(actions, now=now, versioned=0)
        return done

    return retrying(attempt, conflict=_concurrent_change())


def staff_message(
    staff: StaffPrincipal,
    case_id: str,
    *,
    kind: StaffMessageKind,
    body: str,
    attachment_ids: list[str],
    idempotency_key: str | None,
    clock: Clock,
) -> Created:
    def actions(case: dict[str, Any], message_id: str, now: datetime) -> list[dict[str, Any]]:
        set_values: dict[str, Any] = {"updatedAt": iso(now)}
        remove: tuple[str, ...] = ()
        if kind in ("answer", "counter-question"):  # answered, or waiting for the citizen: no longer due
            remove = ("gsi3pk", "gsi3sk")
            if kind == "answer":
                set_values["answeredAt"] = iso(now)
        # a locked citizen still receives answers to earlier cases; the inbox keeps them.
        return [
            _message_item(
                case_id,
                message_id,
                now,
                kind=kind,
                author=_staff_author(staff, case["clinicName"]),
                body=body,
                attachment_ids=attachment_ids,
            ),
            repository.update_case_action(case_id, int(case["version"]), set_values=set_values, remove=remove),
            inbox.arrived_action(case["citizenId"], case_id, now, unread=True),
            _history(case_id, now, "message", _staff_actor(staff), {"messageId": message_id, "kind": kind}),
            *_attachments(
                attachment_ids,
                kind="staff",
                uploader_id=staff.hsa_id,
                case_id=case_id,
                message_id=message_id,
                allowed=True,
            ),
        ]

    return _append(
        case_id,
        actor=staff.hsa_id,
        scope=f"staff:{staff.hsa_id}",
        request={"kind": kind, "body": body, "attachments": attachment_ids},
        idempotency_key=idempotency_key,
        read=lambda prefetched: _staff_case(staff, case_id, clock, *ROLES_FOR_KIND[kind], prefetched=prefetched),
        closed="Ärendet är avslutat. Nya meddelanden går inte att skicka.",
        actions=actions,
        clock=clock,
    )


def close(staff: StaffPrincipal, case_id: str, *, clock: Clock) -> dict[str, Any]:
    def attempt() -> dict[str, Any]:
        case = _staff_case(staff, case_id, clock, "case-receiver", "case-handler")
        if case["status"] == "closed":
            return {"caseId": case_id, "status": "closed", "closedAt": case["closedAt"]}
        now = clock()
        expires = _retention_end(now)
        actions = [
            repository.update_case_action(
                case_id,
                int(case["version"]),
                set_values={
                    "status": "closed",
                    "closedAt": iso(now),
                    "updatedAt": iso(now),
                    "expiresAt": expires,
                    **repository.status_index(case["clinicId"], "closed", case["createdAt"], case_id),
                },
                remove=("gsi3pk", "gsi3sk"),
            ),
            inbox.arrived_action(case["citizenId"], case_id, now, unread=None, expires_at=expires),
            _history(case_id, now, "closed", _staff_actor(staff)),
        ]
        _commit(actions, now=now, versioned=0)
        return {"caseId": case_id, "status": "closed", "closedAt": iso(now)}

    return retrying(attempt, conflict=_concurrent_change())


def start_conversation(
    staff: StaffPrincipal,
    clinic_id: str,
    *,
    personnummer: str,
    title: str,
    body: str,
    attachment_ids: list[str],
    idempotency_key: str | None,
    clock: Clock,
) -> Created:
    """Care writes first (R-06: not to a citizen without an activated account, nor to a locked one)."""
    staff.require(clinic_id, "case-receiver", "case-handler")
    guard = idempotency.guard(
        f"conversation:{staff.hsa_id}:{clinic_id}",
        idempotency_key,
        {"personnummer": personnummer, "subject": title, "body": body, "attachments": attachment_ids},
    )
    if first := _replayed(guard, clock):
        return first
    clinic = clinics.get(clinic_id)
    account = accounts.find_by_personnummer(personnummer)
    if account is None or not account.active:
        raise Conflict(
            "Invånaren har inget aktiverat konto i e-tjänsterna och kan inte nås här.", code="citizen-not-activated"
        )
    if account.locked:
        raise Forbidden(
            "Invånarens inloggning är låst. Nya meddelanden kan inte skickas via e-tjänsterna.", code="citizen-locked"
        )
    now = clock()
    case_id = _id(f"conversation:{staff.hsa_id}", idempotency_key)
    message_id = _id(f"first:{case_id}", "first")
    author = _staff_author(staff, clinic.name)
    case = {
        "pk": f"CASE#{case_id}",
        "sk": "CASE",
        "type": "case",
        "caseId": case_id,
        "kind": "conversation",
        "clinicId": clinic.clinic_id,
        "clinicName": clinic.name,
        "caseTypeId": "meddelande",
        "caseTypeName": "Meddelande från vården",
        "citizenId": account.citizen_id,
        "subject": title,
        "status": "assigned",
        "handlerHsaId": staff.hsa_id,
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "startedBy": _staff_actor(staff),
        "attachmentsAllowed": True,
        "version": 1,
        **repository.status_index(clinic.clinic_id, "assigned", iso(now), case_id),
    }
    created = _create(
        case,
        message_id,
        now,
        message_kind="staff-message",
        author=author,
        history_actor=_staff_actor(staff),
        body=body,
        attachment_ids=attachment_ids,
        uploader=("staff", staff.hsa_id),
        inbox_kind="message",
        unread=True,
        guard=guard,
    )
    return Created(case_id, created)


def may_see(staff: StaffPrincipal, case_id: str, clock: Clock) -> dict[str, Any] | None:
    """The case if the staff member reads cases at its clinic (R-21), else None."""
    case = _live(_read_case(case_id, None), clock)
    if case and staff.has_role(case["clinicId"], "case-receiver", "case-handler"):
        return case
    return None


def citizen_may_see(subject: Subject, case_id: str, clock: Clock) -> bool:
    case = _live(_read_case(case_id, None), clock)
    return bool(case and case["citizenId"] == subject.citizen_id)
