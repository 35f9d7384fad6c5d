"""Cases, the staff's side (mirrors `staff_routes.py`): the clinic's lists, a case with its history
(audited, R-29), redistribution, answers, closing, and care starting a conversation (R-06, R-20, R-21).
Every call checks the caller's role at the case's clinic; other clinics' cases do not exist (R-21)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.arrivals import service as arrivals
from chalicelib.audit.models import AuditEntry, citizen_subject
from chalicelib.cases import repository as case_repository
from chalicelib.cases import threads
from chalicelib.cases.board import board_of
from chalicelib.cases.models import Created, StaffMessageKind
from chalicelib.cases.ports import STORES, CaseStores
from chalicelib.cases.repository import CaseRepository
from chalicelib.cases.service import author_out, message_out
from chalicelib.core import idempotency
from chalicelib.core.clock import Clock, iso
from chalicelib.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chalicelib.core.observability import metrics

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork
    from chalicelib.population.port import PopulationRegister
    from chalicelib.staff.identity import StaffPrincipal

# who may send which kind of message.
ROLES_FOR_KIND: dict[str, tuple[str, ...]] = {
    "answer": ("case-handler",),
    "counter-question": ("case-handler",),
    "partial-answer": ("case-receiver", "case-handler"),
}


def _staff_case(
    staff: StaffPrincipal,
    case_id: str,
    clock: Clock,
    *roles: str,
    repo: CaseRepository,
    prefetched: threads.Prefetched | None = None,
    read_only: bool = False,
) -> dict[str, Any]:
    case = threads.live(threads.read_case(case_id, repo, prefetched), clock)
    if case is not None and read_only and staff.has_role(board_of(case) or "", *roles):
        return case  # the patient board keeps reading a complaint it moved to a clinic
    if case is None or not any(clinic == case["clinicId"] for clinic, _ in staff.roles):
        raise NotFound("Ärendet finns inte.", code="case-not-found")  # R-21: other clinics' cases do not exist
    staff.require(case["clinicId"], *roles)
    return case


def cursor_scope(clinic_id: str, status: str) -> dict[str, str]:
    """What a cursor of this list must name (a cursor from another list is refused)."""
    return case_repository.cursor_scope(clinic_id, status)


def staff_list(
    staff: StaffPrincipal,
    clinic_id: str,
    status: str,
    *,
    cursor: dict[str, Any] | None,
    clock: Clock,
    limit: int = 50,
    stores: CaseStores = STORES,
) -> tuple[list[dict[str, Any]], Any]:
    repo = stores.cases
    staff.require(clinic_id, "case-receiver", "case-handler")
    if status == "overdue":
        items, last = repo.overdue_cases(clinic_id, iso(clock()), limit, cursor)
        metrics.add_metric(name="OverdueCasesListed", unit="Count", value=len(items))
    elif status in ("open", "assigned", "closed"):
        items, last = repo.clinic_cases(clinic_id, status, limit, cursor)
    else:
        raise InvalidInput("status ska vara open, assigned, overdue eller closed.", code="invalid-status")
    now = iso(clock())
    return [_case_summary(c, now, repo) for c in items if threads.live(c, clock)], last


def _case_summary(case: dict[str, Any], now_iso: str, repo: CaseRepository) -> dict[str, Any]:
    unanswered = repo.awaits_answer(case)
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
        "startedBy": author_out(case["startedBy"], for_staff=True),  # the child, a guardian or care
    }


def staff_view(
    staff: StaffPrincipal,
    case_id: str,
    *,
    register: PopulationRegister,
    clock: Clock,
    stores: CaseStores = STORES,
) -> dict[str, Any]:
    """A case with its whole history (a form case: its answers, R-50/R-51). Every call is an audited read
    of the citizen's data (R-29)."""
    from chalicelib.clinics import components

    repo = stores.cases
    case = _staff_case(staff, case_id, clock, "case-receiver", "case-handler", repo=repo, read_only=True)
    _, messages, history = repo.get_thread(case_id)
    account = stores.accounts.get(case["citizenId"])
    person = register.find(account.personnummer) if account else None
    names = _author_names(case, messages, person.name if person else None, register=register, stores=stores)
    record_access(
        staff,
        case["citizenId"],
        clinic_id=case["clinicId"],
        clinic_name=case["clinicName"],
        what="case",
        reference=case_id,
        clock=clock,
        stores=stores,
    )
    return {
        **_case_summary(case, iso(clock()), repo),
        "startedBy": author_out(case["startedBy"], for_staff=True, names=names),
        "clinicId": case["clinicId"],
        "complaint": case.get("complaint"),
        "form": components.answers_view(case["form"]) if case.get("form") else None,  # as answered
        "renewal": case.get("renewal"),  # the medicines asked for, or the free text
        "supplyOrder": case.get("supplyOrder"),  # items, quantities, where to deliver
        "citizen": {
            "citizenId": case["citizenId"],
            "name": person.name if person else None,
            "personnummer": person.personnummer if person else None,
            "protectedIdentity": bool(person and person.protected),  # staff see the marker
            "accountLocked": bool(account and account.locked),  # staff see the lock
        },
        "messages": [message_out(m, for_staff=True, names=names) for m in messages],
        "history": [
            {"event": h["event"], "at": h["at"], "actor": h["actor"], "details": h.get("details")} for h in history
        ],
    }


def _author_names(
    case: dict[str, Any],
    messages: list[dict[str, Any]],
    citizen_name: str | None,
    *,
    register: PopulationRegister,
    stores: CaseStores,
) -> dict[str, str]:
    """Citizen id → name of the citizen and of each guardian who wrote without a recorded name (R-36:
    staff see which guardian wrote). Guardians' names are recorded when they write; older entries are
    looked up once per guardian."""
    names = {case["citizenId"]: citizen_name} if citizen_name else {}
    authors = [case["startedBy"], *(m["author"] for m in messages)]
    unnamed = {
        str(a["citizenId"]) for a in authors if a.get("kind") == "guardian" and a.get("citizenId") and not a.get("name")
    }
    for guardian_id in sorted(unnamed - set(names)):
        guardian = stores.accounts.get(guardian_id)
        person = register.find(guardian.personnummer) if guardian else None
        if person is not None:
            names[guardian_id] = person.name
    return names


def record_access(
    staff: StaffPrincipal,
    citizen_id: str,
    *,
    clinic_id: str,
    clinic_name: str,
    what: str,
    reference: str,
    clock: Clock,
    stores: CaseStores = STORES,
) -> None:
    """R-29: who (name, HSA-id), at which clinic, read what, when, and why."""
    stores.access_log.append_now(
        AuditEntry(
            subject=citizen_subject(citizen_id),
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


def assign(
    staff: StaffPrincipal,
    case_id: str,
    handler_hsa_id: str,
    *,
    clock: Clock,
    stores: CaseStores = STORES,
) -> dict[str, Any]:
    repo = stores.cases

    def attempt() -> dict[str, Any]:
        case = _staff_case(staff, case_id, clock, "case-receiver", repo=repo)
        if case["status"] == "closed":
            raise Conflict("Ärendet är avslutat.", code="case-closed")
        done = {"caseId": case_id, "status": "assigned", "handlerHsaId": handler_hsa_id}
        if case["status"] == "assigned" and case.get("handlerHsaId") == handler_hsa_id:
            return done  # already so: a repeated call writes nothing
        if not stores.directory.has_role(handler_hsa_id, case["clinicId"], "case-handler"):
            raise InvalidInput("Mottagaren är inte ärendehanterare på mottagningen.", code="not-a-case-handler")
        now = clock()
        uow = stores.new_uow()
        repo.update_case(uow, case, {"status": "assigned", "handlerHsaId": handler_hsa_id, "updatedAt": iso(now)})
        repo.add_history(
            uow,
            case_id,
            threads.history(now, "assigned", threads.staff_actor(staff), {"handlerHsaId": handler_hsa_id}),
        )
        threads.commit(uow, now=now, guard=None, created_id=None)
        return done

    return threads.change(attempt)


def staff_message(
    staff: StaffPrincipal,
    case_id: str,
    *,
    kind: StaffMessageKind,
    body: str,
    attachment_ids: list[str],
    idempotency_key: str | None,
    clock: Clock,
    stores: CaseStores = STORES,
) -> Created:
    repo = stores.cases

    def write(uow: UnitOfWork, case: dict[str, Any], message_id: str, now: datetime) -> None:
        changes: dict[str, Any] = {"updatedAt": iso(now)}
        # Answered, or waiting for the citizen: no longer due; a partial answer keeps it due.
        answered = kind in ("answer", "counter-question")
        if kind == "answer":
            changes["answeredAt"] = iso(now)
        author = threads.staff_author(staff, case["clinicName"])
        repo.add_message(
            uow,
            threads.message(
                case_id, message_id, now, kind=kind, author=author, body=body, attachment_ids=attachment_ids
            ),
        )
        repo.update_case(uow, case, changes, awaits_answer=False if answered else None)
        # a locked citizen still receives answers to earlier cases; the inbox keeps them.
        arrivals.arrived(uow, case["citizenId"], case_id, now, unread=True, repo=stores.arrivals)
        repo.add_history(
            uow,
            case_id,
            threads.history(now, "message", threads.staff_actor(staff), {"messageId": message_id, "kind": kind}),
        )
        threads.attach(
            uow,
            stores.attachments,
            attachment_ids,
            kind="staff",
            uploader_id=staff.hsa_id,
            case_id=case_id,
            message_id=message_id,
            allowed=True,
        )

    return threads.append(
        case_id,
        actor=staff.hsa_id,
        scope=f"staff:{staff.hsa_id}",
        request={"kind": kind, "body": body, "attachments": attachment_ids},
        idempotency_key=idempotency_key,
        read=lambda prefetched: _staff_case(
            staff, case_id, clock, *ROLES_FOR_KIND[kind], repo=repo, prefetched=prefetched
        ),
        closed="Ärendet är avslutat. Nya meddelanden går inte att skicka.",
        write=write,
        clock=clock,
        stores=stores,
    )


def close(
    staff: StaffPrincipal,
    case_id: str,
    *,
    clock: Clock,
    stores: CaseStores = STORES,
) -> dict[str, Any]:
    repo = stores.cases

    def attempt() -> dict[str, Any]:
        case = _staff_case(staff, case_id, clock, "case-receiver", "case-handler", repo=repo)
        if case["status"] == "closed":
            return {"caseId": case_id, "status": "closed", "closedAt": case["closedAt"]}
        now = clock()
        expires = threads.retention_end(now)
        uow = stores.new_uow()
        repo.update_case(
            uow,
            case,
            {"status": "closed", "closedAt": iso(now), "updatedAt": iso(now), "expiresAt": expires},
            awaits_answer=False,
        )
        arrivals.arrived(uow, case["citizenId"], case_id, now, unread=None, expires_at=expires, repo=stores.arrivals)
        repo.add_history(uow, case_id, threads.history(now, "closed", threads.staff_actor(staff)))
        threads.commit(uow, now=now, guard=None, created_id=None)
        return {"caseId": case_id, "status": "closed", "closedAt": iso(now)}

    return threads.change(attempt)


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
    stores: CaseStores = STORES,
) -> Created:
    """Care writes first (R-06: not to a citizen without an activated account, nor to a locked one)."""
    staff.require(clinic_id, "case-receiver", "case-handler")
    guard = idempotency.guard(
        f"conversation:{staff.hsa_id}:{clinic_id}",
        idempotency_key,
        {"personnummer": personnummer, "subject": title, "body": body, "attachments": attachment_ids},
    )
    if first := threads.replayed(guard, clock):
        return first
    clinic = stores.clinics.get(clinic_id)
    account = stores.accounts.find_by_personnummer(personnummer)
    if account is None or not account.active:
        raise Conflict(
            "Invånaren har inget aktiverat konto i e-tjänsterna och kan inte nås här.", code="citizen-not-activated"
        )
    if account.locked:
        raise Forbidden(
            "Invånarens inloggning är låst. Nya meddelanden kan inte skickas via e-tjänsterna.", code="citizen-locked"
        )
    now = clock()
    case_id = threads.derived_id(f"conversation:{staff.hsa_id}", idempotency_key)
    message_id = threads.derived_id(f"first:{case_id}", "first")
    case = {
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
        "startedBy": threads.staff_actor(staff),
        "attachmentsAllowed": True,
    }
    created = threads.create(
        case,
        message_id,
        now,
        message_kind="staff-message",
        author=threads.staff_author(staff, clinic.name),
        history_actor=threads.staff_actor(staff),
        body=body,
        attachment_ids=attachment_ids,
        uploader=("staff", staff.hsa_id),
        inbox_kind="message",
        unread=True,
        guard=guard,
        stores=stores,
    )
    return Created(case_id, created)


def may_see(staff: StaffPrincipal, case_id: str, clock: Clock, *, stores: CaseStores = STORES) -> dict[str, Any] | None:
    """The case if the staff member reads cases at its clinic (R-21), else None."""
    case = threads.live(threads.read_case(case_id, stores.cases), clock)
    if case and staff.has_role(case["clinicId"], "case-receiver", "case-handler"):
        return case
    return None
