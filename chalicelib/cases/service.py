"""Cases (ärenden), the citizen's side: start a case, complain, write in a case, read it (R-20..R-29).
The staff's side is `staff_service.py`; what both share is `threads.py`.

Every change to a case is one transaction: the new message or state, its history entry (R-28), the
citizen's inbox item and any attachments — all or nothing. Messages and history are never changed
(R-25, R-28). Creating calls take an Idempotency-Key: a guard item at a key derived from it commits in
the same transaction (`core/idempotency`), so a retry answers the first result and writes nothing.
Appending to a case re-reads and retries when someone else changed the case first (`core/concurrency`).

Collaborators come in one `stores: CaseStores` (`ports.py`), the DynamoDB-backed `STORES` by default;
the unit tests hand in-memory twins (`tests/unit/fakes/cases.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.arrivals import service as arrivals
from chalicelib.cases import threads
from chalicelib.cases.models import Created
from chalicelib.cases.ports import STORES, CaseStores
from chalicelib.cases.repository import CaseRepository
from chalicelib.clinics import components
from chalicelib.core import idempotency
from chalicelib.core.clock import Clock, iso, stockholm_date
from chalicelib.core.errors import InvalidInput, NotFound
from chalicelib.core.observability import metrics
from chalicelib.guardians import activity
from chalicelib.guardians.service import Subject

if TYPE_CHECKING:
    from chalicelib.clinics.service import Clinic
    from chalicelib.core.unit_of_work import UnitOfWork

__all__ = [
    "Created",
    "citizen_may_see",
    "citizen_message",
    "citizen_view",
    "complain",
    "open_case",
    "replayed_case",
    "start_case",
]

COMPLAINT_CASE_TYPE = "synpunkter-klagomal"


def start_case(
    subject: Subject,
    *,
    clinic_id: str,
    case_type_id: str,
    title: str | None,
    body: str | None,
    attachment_ids: list[str],
    idempotency_key: str | None,
    clock: Clock,
    stores: CaseStores = STORES,
    answers: Mapping[str, Any] | None = None,
) -> Created:
    clinic = stores.clinics.get(clinic_id)
    case_type = clinic.case_type(case_type_id)
    if case_type is None or not case_type.active:
        raise InvalidInput("Mottagningen tar inte emot den här typen av ärenden.", code="case-type-not-offered")
    # a local e-service's answers are checked against its form's current version and kept with it
    subject_line, text, extra = components.prepare_case(
        case_type.form,
        case_type_name=case_type.name,
        title=title,
        body=body,
        answers=answers,
        attachment_ids=attachment_ids,
    )
    return open_case(
        subject,
        clinic=clinic,
        case_type_id=case_type.id,
        case_type_name=case_type.name,
        title=subject_line,
        body=text,
        attachment_ids=attachment_ids,
        attachments_allowed=case_type.attachments_allowed,
        idempotency_key=idempotency_key,
        clock=clock,
        stores=stores,
        extra=extra,
    )


def _scope(kind: str, subject: Subject) -> str:
    return f"{kind}:{subject.actor_citizen_id}:{subject.citizen_id}"


def replayed_case(
    subject: Subject, *, kind: str, idempotency_key: str | None, request: Mapping[str, Any], clock: Clock
) -> Created | None:
    """The first result of a retry, before anything is checked again: for kinds whose checks read data that
    may change in between (the medication list, the population register's address), so that a retry
    answers what the first try did rather than a new verdict. Pass the same `request` to `open_case`."""
    return threads.replayed(idempotency.guard(_scope(kind, subject), idempotency_key, request), clock)


def open_case(
    subject: Subject,
    *,
    clinic: Clinic,
    case_type_id: str,
    case_type_name: str,
    title: str,
    body: str,
    attachment_ids: list[str],
    attachments_allowed: bool,
    idempotency_key: str | None,
    clock: Clock,
    stores: CaseStores,
    kind: str = "case",
    complaint: dict[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    also: Callable[[UnitOfWork, str], None] | None = None,
    request: Mapping[str, Any] | None = None,
) -> Created:
    """Opens a case for `subject` at `clinic`: one transaction (case, first message, history, inbox item,
    attachments, guard). `kind` names what started it (a case, a complaint, a form's answers, a
    prescription renewal, ...); `extra` are the kind's own fields, stored on the case and part of the
    Idempotency-Key's fingerprint (e.g. `{"form": ...}` with the answers and the form version they
    answered); `also(uow, case_id)` adds the kind's own writes to the same transaction (e.g. a sent
    form marked answered by this case, conditionally). `request`, when given, is what the key's
    fingerprint covers instead: the request as the caller got it, for a kind that checks it against
    data that may change between a try and its retry (see `replayed_case`)."""
    scope = _scope(kind, subject)
    guard = idempotency.guard(
        scope,
        idempotency_key,
        request
        if request is not None
        else {
            "clinic": clinic.clinic_id,
            "caseType": case_type_id,
            "subject": title,
            "body": body,
            "attachments": attachment_ids,
            "complaint": complaint,
            **({"extra": dict(extra)} if extra else {}),
        },
    )
    if first := threads.replayed(guard, clock):
        return first
    now = clock()
    # Derived from the guard's scope: one key used for a case and then a renewal (or for a guardian's own
    # case and then the child's) names two cases, never the first one again.
    case_id = threads.derived_id(f"case:{scope}", idempotency_key)
    message_id = threads.derived_id(f"first:{case_id}", "first")
    author = threads.citizen_author(subject)
    case = {
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
        "dueAt": threads.due(now),  # the clinic owes an answer
        "startedBy": author,
        "attachmentsAllowed": attachments_allowed,
        "complaint": complaint,
        **(extra or {}),
    }

    def with_trace(uow: UnitOfWork) -> None:
        # what a guardian did in the child's name, for the other guardian and the teen to see
        activity.record(
            uow,
            subject,
            "complaint-submitted" if kind == "complaint" else "case-started",
            now,
            log=stores.access_log,
            case_id=case_id,
        )
        if also is not None:
            also(uow, case_id)

    created = threads.create(
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
        stores=stores,
        also=with_trace,
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
    stores: CaseStores = STORES,
) -> Created:
    """R-27: never anonymous (a logged-in citizen); the patient board with a free-text location when the
    clinic is unknown; for a whole care process the event date is when it started."""
    if event_date > stockholm_date(clock()):
        raise InvalidInput("Datumet för händelsen kan inte ligga i framtiden.", code="event-date-in-future")
    complaint = {"eventDate": event_date.isoformat(), "concernsCareProcess": care_process}
    if clinic_id:
        clinic = stores.clinics.get(clinic_id)
        case_type = clinic.case_type(COMPLAINT_CASE_TYPE)
        if case_type is None or not case_type.active:
            raise InvalidInput(
                "Mottagningen tar inte emot synpunkter och klagomål här. Du kan vända dig till patientnämnden.",
                code="complaints-not-offered",
            )
        type_id, type_name, allowed = case_type.id, case_type.name, case_type.attachments_allowed
    else:
        clinic = stores.clinics.patient_board(board_region or "")
        complaint["location"] = location
        type_id, type_name, allowed = COMPLAINT_CASE_TYPE, "Synpunkter och klagomål", False
    return open_case(
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
        stores=stores,
        kind="complaint",
        complaint=complaint,
    )


def _citizen_case(
    subject: Subject, case_id: str, clock: Clock, repo: CaseRepository, prefetched: threads.Prefetched | None = None
) -> dict[str, Any]:
    case = threads.live(threads.read_case(case_id, repo, prefetched), clock)
    if case is None or case["citizenId"] != subject.citizen_id:
        raise NotFound("Ärendet finns inte.", code="case-not-found")
    return case


def citizen_message(
    subject: Subject,
    case_id: str,
    *,
    body: str,
    attachment_ids: list[str],
    idempotency_key: str | None,
    clock: Clock,
    stores: CaseStores = STORES,
) -> Created:
    author = threads.citizen_author(subject)
    repo = stores.cases

    def write(uow: UnitOfWork, case: dict[str, Any], message_id: str, now: datetime) -> None:
        repo.add_message(
            uow,
            threads.message(
                case_id,
                message_id,
                now,
                kind="citizen-message",
                author=author,
                body=body,
                attachment_ids=attachment_ids,
            ),
        )
        # the clinic owes an answer again.
        repo.update_case(uow, case, {"updatedAt": iso(now), "dueAt": threads.due(now)}, awaits_answer=True)
        arrivals.arrived(uow, subject.citizen_id, case_id, now, unread=False, repo=stores.arrivals)
        repo.add_history(
            uow, case_id, threads.history(now, "message", author, {"messageId": message_id, "kind": "citizen-message"})
        )
        threads.attach(
            uow,
            stores.attachments,
            attachment_ids,
            kind="citizen",
            uploader_id=subject.citizen_id,
            case_id=case_id,
            message_id=message_id,
            allowed=bool(case.get("attachmentsAllowed")),
        )
        activity.record(uow, subject, "message-sent", now, log=stores.access_log, case_id=case_id)

    return threads.append(
        case_id,
        actor=subject.actor_citizen_id,
        scope=f"{subject.actor_citizen_id}:{subject.citizen_id}",
        request={"body": body, "attachments": attachment_ids},
        idempotency_key=idempotency_key,
        read=lambda prefetched: _citizen_case(subject, case_id, clock, repo, prefetched),
        closed="Ärendet är avslutat. Starta ett nytt ärende.",
        write=write,
        clock=clock,
        stores=stores,
    )


def author_out(author: dict[str, Any], *, for_staff: bool, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Who wrote (R-31, R-36): `{kind: citizen|guardian|staff, name?}`. A guardian is named (as the register
    had it when they wrote; `names` fills in for entries from before names were recorded); staff also see
    the ids. The citizen side shows no ids."""
    kind = author["kind"]
    if kind == "staff":
        shown = {"kind": "staff", "name": author.get("name"), "clinic": author.get("clinic")}
        if for_staff:
            shown["hsaId"] = author.get("hsaId")
        return shown
    shown = {"kind": kind}
    name = author.get("name") if kind == "guardian" else None
    name = name or (names or {}).get(str(author.get("citizenId")))
    if name:
        shown["name"] = name
    if for_staff and kind == "guardian":
        shown["guardianCitizenId"] = author.get("citizenId")
    return shown


def message_out(message: dict[str, Any], *, for_staff: bool, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": message["id"],
        "kind": message["kind"],
        "author": author_out(message["author"], for_staff=for_staff, names=names),
        "body": message["body"],
        "createdAt": message["createdAt"],
        "attachmentIds": message.get("attachmentIds") or [],
    }


def citizen_view(subject: Subject, case_id: str, *, clock: Clock, stores: CaseStores = STORES) -> dict[str, Any]:
    case, messages, _ = stores.cases.get_thread(case_id)
    case = threads.live(case, clock)
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
        "startedBy": author_out(case["startedBy"], for_staff=False),  # a guardian's case stays marked
        "messages": [message_out(m, for_staff=False) for m in messages],
        "form": components.answers_view(case["form"], for_staff=False) if case.get("form") else None,
    }


def citizen_may_see(subject: Subject, case_id: str, clock: Clock, *, stores: CaseStores = STORES) -> bool:
    case = threads.live(threads.read_case(case_id, stores.cases), clock)
    return bool(case and case["citizenId"] == subject.citizen_id)
