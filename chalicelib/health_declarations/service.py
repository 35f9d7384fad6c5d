"""The health declaration (R-46): submitting, the citizen's list with what is valid now, and staff
fetching the clinic's PDF.

- **Submit** (`submit`): the answers are checked against the national form (`rules.checked_answers`: a
  422 names the question), the validity follows from the age on the day of submission (the one age
  rule), and the declaration is written with the citizen's list entry and the Idempotency-Key guard in
  one transaction. A guardian submits for a child under 13 in proxy mode (`guardians.Subject` decides
  who may act); the declaration records that the guardian filled it in. The personnummer and the
  register's name are kept on the declaration for the clinic's PDF (never in a key or a log).
- **PDF**: made by `events.health_declaration_pdf` from the stream (`pdf.py`), then `pdfKey` is set.
- **Staff** (`staff_pdf`): case staff (receiver or handler) of the clinic the declaration names; a
  declaration without a clinic may be read by case staff of any clinic. Each fetch appends `read.health-
  declaration-pdf` to the citizen's access log (R-29) before the bytes are handed out. Not built yet →
  409 `pdf-not-ready` with Retry-After.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.audit import repository as audit_repository
from chalicelib.audit.models import AuditEntry, citizen_subject
from chalicelib.clinics import service as clinic_service
from chalicelib.core import idempotency
from chalicelib.core.clock import Clock, epoch_seconds, instant, iso, stockholm, stockholm_date
from chalicelib.core.errors import Conflict, Forbidden, NotFound
from chalicelib.core.ids import keyed_id
from chalicelib.core.observability import metrics
from chalicelib.core.personal_number import parse
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.guardians import activity
from chalicelib.health_declarations import repository, rules, storage
from chalicelib.population.port import PopulationRegister, population_register

if TYPE_CHECKING:
    from chalicelib.audit.repository import AuditLog
    from chalicelib.clinics.service import Clinic
    from chalicelib.guardians.service import Subject
    from chalicelib.health_declarations.repository import DeclarationRepository
    from chalicelib.health_declarations.storage import Documents
    from chalicelib.staff.identity import StaffPrincipal

# Kept until two years after the declaration stopped being valid (as cases after they end, R-24).
RETENTION_DAYS_AFTER_VALIDITY = 731
READER_ROLES = ("case-receiver", "case-handler")  # clinic admins configure, they do not read patient data
PDF_RETRY_AFTER_S = 15  # the PDF is normally ready within seconds of submission
_IDS = uuid.UUID("6f1d3c52-7a0e-4a57-9b87-5c2f1f4e4d13")  # namespace of ids derived from an Idempotency-Key


@dataclass(frozen=True)
class Stores:
    declarations: DeclarationRepository = repository.DYNAMO
    documents: Documents = storage.S3
    access_log: AuditLog = audit_repository.DYNAMO
    clinics: Callable[[str], Clinic] = clinic_service.get
    register: Callable[[], PopulationRegister] = field(default=population_register)
    new_uow: Callable[[], UnitOfWork] = UnitOfWork


STORES = Stores()


@dataclass(frozen=True)
class Submitted:
    declaration_id: str
    valid_until: str
    created: bool

    def out(self) -> dict[str, Any]:
        return {"declarationId": self.declaration_id, "validUntil": self.valid_until}


def form() -> dict[str, Any]:
    return rules.form()


def _expires_at(valid_until: date) -> int:
    last_valid = datetime.combine(valid_until, time(23, 59, 59), tzinfo=stockholm())
    return epoch_seconds(last_valid + timedelta(days=RETENTION_DAYS_AFTER_VALIDITY))


def submit(
    subject: Subject,
    *,
    answers: Mapping[str, Any],
    clinic_id: str | None,
    idempotency_key: str | None,
    clock: Clock,
    stores: Stores = STORES,
) -> Submitted:
    chosen, free_text = rules.checked_answers(answers)
    scope = f"health-declaration:{subject.actor_citizen_id}:{subject.citizen_id}"
    guard = idempotency.guard(scope, idempotency_key, {"answers": chosen, "freeText": free_text, "clinicId": clinic_id})
    now = clock()
    if first := idempotency.replayed(guard, epoch_seconds(now)):
        return Submitted(str(first["id"]), str(first["validUntil"]), created=False)
    clinic = stores.clinics(clinic_id) if clinic_id else None
    today = stockholm_date(now)
    personnummer = parse(subject.account.personnummer)
    until = rules.valid_until(personnummer, today)
    person = stores.register().find(personnummer.value)
    declaration_id = keyed_id(_IDS, scope, idempotency_key)
    submitted_by: dict[str, Any] = (
        {"kind": "guardian", "citizenId": subject.actor_citizen_id, "name": subject.actor_name}
        if subject.proxy
        else {"kind": "citizen"}
    )
    declaration = {
        "declarationId": declaration_id,
        "citizenId": subject.citizen_id,
        "personnummer": personnummer.value,
        "name": person.name if person else None,
        "formVersion": rules.FORM_VERSION,
        "answers": chosen,
        "freeText": free_text,
        "submittedAt": iso(now),
        "submittedOn": today.isoformat(),
        "ageAtSubmission": personnummer.age_on(today),
        "validUntil": until.isoformat(),
        "submittedBy": submitted_by,
        "clinicId": clinic.clinic_id if clinic else None,
        "clinicName": clinic.name if clinic else None,
        "expiresAt": _expires_at(until),
    }
    result = {"id": declaration_id, "validUntil": until.isoformat()}
    uow = stores.new_uow()
    idempotency.add_guard(uow, guard, result, epoch_seconds(now))
    stores.declarations.add(uow, declaration)
    # a guardian's act in the child's name, for the other guardian and the teen to see.
    activity.record(uow, subject, "health-declaration-submitted", now, log=stores.access_log)
    try:
        uow.commit()
    except idempotency.LostRace as lost:
        winner = idempotency.winner(lost, epoch_seconds(now))
        return Submitted(str(winner["id"]), str(winner["validUntil"]), created=False)
    metrics.add_metric(name="HealthDeclarationSubmitted", unit="Count", value=1)
    return Submitted(declaration_id, until.isoformat(), created=True)


def declarations(subject: Subject, *, clock: Clock, stores: Stores = STORES) -> dict[str, Any]:
    """The subject's declarations, newest first, each with whether it is valid today (Stockholm date)."""
    now = clock()
    today, now_epoch = stockholm_date(now), epoch_seconds(now)
    items = []
    for entry in stores.declarations.for_citizen(subject.citizen_id):
        if not _live(entry, now_epoch):
            continue
        until = date.fromisoformat(entry["validUntil"])
        items.append(
            {
                "declarationId": entry["declarationId"],
                "submittedAt": entry["submittedAt"],
                "validUntil": entry["validUntil"],
                "valid": rules.is_valid(until, today),
                **({"clinicId": entry["clinicId"]} if entry.get("clinicId") else {}),
            }
        )
    return {"items": items}


def _live(item: Mapping[str, Any], now_epoch: int) -> bool:
    expires = item.get("expiresAt")
    return expires is None or int(expires) > now_epoch


@dataclass(frozen=True)
class Pdf:
    body: bytes
    declaration_id: str


def staff_pdf(staff: StaffPrincipal, declaration_id: str, *, clock: Clock, stores: Stores = STORES) -> Pdf:
    now = clock()
    declaration = stores.declarations.get(declaration_id)
    not_found = NotFound("Hälsodeklarationen finns inte.", code="declaration-not-found")
    if declaration is None or not _live(declaration, epoch_seconds(now)):
        raise not_found
    clinic_id, clinic_name = _reading_clinic(staff, declaration, stores)
    pdf_key = declaration.get("pdfKey")
    if not pdf_key:
        raise Conflict(
            "Pdf:en för hälsodeklarationen är inte klar än. Försök igen om en stund.",
            code="pdf-not-ready",
            extra={"retryAfter": PDF_RETRY_AFTER_S},
            headers={"Retry-After": str(PDF_RETRY_AFTER_S)},
        )
    body = stores.documents.get_pdf(str(pdf_key))
    if body is None:
        raise not_found
    # the read is in the citizen's access log before anyone sees the document.
    stores.access_log.append_now(
        AuditEntry(
            subject=citizen_subject(declaration["citizenId"]),
            action="read.health-declaration-pdf",
            actor_kind="staff",
            actor=staff.hsa_id,
            at=now,
            details={
                "staffName": staff.name,
                "clinicId": clinic_id,
                "clinicName": clinic_name,
                "reference": declaration_id,
                "purpose": "vårdförberedelse",
            },
        )
    )
    metrics.add_metric(name="HealthDeclarationPdfRead", unit="Count", value=1)
    return Pdf(body, declaration_id)


def _reading_clinic(staff: StaffPrincipal, declaration: Mapping[str, Any], stores: Stores) -> tuple[str, str | None]:
    """The clinic on whose behalf the staff member reads (for the access log), after the access check:
    the declaration's clinic (a role there: receiver or handler; none → 404, another role → 403), or,
    for a declaration that names none, the first clinic where they are case staff."""
    named = declaration.get("clinicId")
    if named:
        staff.require(str(named), *READER_ROLES)
        return str(named), declaration.get("clinicName")
    clinics = sorted({clinic for clinic, role in staff.roles if role in READER_ROLES})
    if not clinics:
        raise Forbidden(
            "Bara vårdpersonal som handlägger ärenden får läsa hälsodeklarationer.",
            code="role-required",
            extra={"requiredRoles": sorted(READER_ROLES)},
        )
    try:
        name: str | None = stores.clinics(clinics[0]).name
    except NotFound:
        name = None
    return clinics[0], name


def make_pdf(declaration: Mapping[str, Any], *, clock: Clock, stores: Stores = STORES) -> bool:
    """Builds the declaration's PDF, stores it, and records it on the declaration. Idempotent: a second
    run writes the same document again. False when the declaration is gone (nothing is recorded)."""
    from chalicelib.health_declarations import pdf

    declaration_id = str(declaration["declarationId"])
    guardian = declaration.get("submittedBy") or {}
    document = pdf.build(
        pdf.Declaration(
            declaration_id=declaration_id,
            personnummer=str(declaration["personnummer"]),
            name=declaration.get("name"),
            submitted_at=instant(str(declaration["submittedAt"])),
            valid_until=date.fromisoformat(str(declaration["validUntil"])),
            age_at_submission=int(declaration["ageAtSubmission"]),
            answers=dict(declaration.get("answers") or {}),
            free_text=declaration.get("freeText"),
            form_version=int(declaration.get("formVersion") or rules.FORM_VERSION),
            clinic_name=declaration.get("clinicName"),
            guardian_name=guardian.get("name") if guardian.get("kind") == "guardian" else None,
        )
    )
    key = storage.pdf_key(declaration_id)
    stores.documents.put_pdf(key, document)
    now = clock()
    if not stores.declarations.mark_pdf_ready(declaration_id, pdf_key=key, at=iso(now)):
        return False
    submitted = instant(str(declaration["submittedAt"]))
    metrics.add_metric(name="HealthDeclarationPdfBuilt", unit="Count", value=1)
    metrics.add_metric(
        name="HealthDeclarationPdfDelay", unit="Seconds", value=max(0.0, (now - submitted).total_seconds())
    )
    return True


def rebuild(declaration_ids: list[str], *, clock: Clock, stores: Stores = STORES) -> dict[str, list[str]]:
    """An operator's redrive (`aws lambda invoke ... {"rebuild": [ids]}`): each declaration's PDF again."""
    built, missing = [], []
    for declaration_id in declaration_ids:
        declaration = stores.declarations.get(declaration_id)
        if declaration is not None and make_pdf(declaration, clock=clock, stores=stores):
            built.append(declaration_id)
        else:
            missing.append(declaration_id)
    return {"built": built, "missing": missing}
