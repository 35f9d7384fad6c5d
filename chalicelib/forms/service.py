"""Form handling (Formulärhantering, R-51): care sends a form to a citizen when it needs structured
answers; the form arrives in the inbox (kind `form`, notified once, R-11); the citizen's answers come
back as a case (kind `form`) in the clinic's inbox.

A form is a local e-service's case type with components (R-50), sent as it is at that moment: the form
keeps the version and the component definitions it was sent with, and the answers are checked against
exactly those, so a later change of the case type changes neither an open form nor a sent case. The
case type may be inactive (a template only care sends); it must have a form.

Sending is one transaction: the form, the inbox item and the Idempotency-Key guard. Answering is
`cases.service.open_case` with the form marked answered in the same transaction, conditionally: a form
is answered once (409 `form-already-answered`); a retry with the same Idempotency-Key answers the same
case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.arrivals import service as arrivals
from chalicelib.cases import service as cases
from chalicelib.cases import threads
from chalicelib.cases.models import Created
from chalicelib.cases.ports import STORES, CaseStores
from chalicelib.clinics import components
from chalicelib.core import idempotency
from chalicelib.core.clock import Clock, epoch_seconds, iso
from chalicelib.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chalicelib.core.observability import metrics
from chalicelib.forms import repository
from chalicelib.forms.repository import FormRepository

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork
    from chalicelib.guardians.service import Subject
    from chalicelib.staff.identity import StaffPrincipal

# Who may send a form: the staff who work the clinic's cases (as for care starting a conversation).
SENDER_ROLES = ("case-receiver", "case-handler")
MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class FormStores:
    forms: FormRepository
    cases: CaseStores  # clinics, accounts, the inbox's write side, the unit of work, and opening the case


DEFAULT_STORES = FormStores(forms=repository.DYNAMO, cases=STORES)


def send(
    staff: StaffPrincipal,
    clinic_id: str,
    *,
    personnummer: str,
    case_type_id: str,
    message: str,
    idempotency_key: str | None,
    clock: Clock,
    stores: FormStores = DEFAULT_STORES,
) -> Created:
    """`POST /staff/clinics/{clinicId}/forms`. Like care starting a conversation (R-06): not to a
    citizen without an activated account (409 `citizen-not-activated`), nor to a locked one (403
    `citizen-locked`)."""
    staff.require(clinic_id, *SENDER_ROLES)
    guard = idempotency.guard(
        f"form:{staff.hsa_id}:{clinic_id}",
        idempotency_key,
        {"personnummer": personnummer, "caseType": case_type_id, "message": message},
    )
    if first := threads.replayed(guard, clock):
        return first
    clinic = stores.cases.clinics.get(clinic_id)
    case_type = clinic.case_type(case_type_id)
    if case_type is None or case_type.form is None:
        raise InvalidInput("Ärendetypen har inget formulär att skicka.", code="form-not-available")
    account = stores.cases.accounts.find_by_personnummer(personnummer)
    if account is None or not account.active:
        raise Conflict(
            "Invånaren har inget aktiverat konto i e-tjänsterna och kan inte nås här.", code="citizen-not-activated"
        )
    if account.locked:
        raise Forbidden(
            "Invånarens inloggning är låst. Formulär kan inte skickas via e-tjänsterna.", code="citizen-locked"
        )
    now = clock()
    form_id = threads.derived_id(f"form:{staff.hsa_id}", idempotency_key)
    expires = threads.retention_end(now)  # kept as long as a case would be
    form = case_type.form
    uow = stores.cases.new_uow()
    stores.forms.add_form(
        uow,
        {
            "formId": form_id,
            "citizenId": account.citizen_id,
            "clinicId": clinic.clinic_id,
            "clinicName": clinic.name,
            "caseTypeId": case_type.id,
            "caseTypeName": case_type.name,
            "message": message,
            "sentBy": {"hsaId": staff.hsa_id, "name": staff.name},
            "sentAt": iso(now),
            "version": form.version,
            "components": components.components_raw(form.components),
            "state": "sent",
            "expiresAt": expires,
        },
    )
    arrivals.new_item(
        uow,
        account.citizen_id,
        item_id=form_id,
        kind="form",
        subject=case_type.name,
        sender=clinic.name,
        at=now,
        unread=True,  # something new for the citizen: notified once
        body=message,
        details={"formId": form_id, "expiresAt": expires},
        repo=stores.cases.arrivals,
    )
    idempotency.add_guard(uow, guard, {"id": form_id}, epoch_seconds(now))
    try:
        uow.commit()
    except idempotency.LostRace as lost:
        return Created(str(idempotency.winner(lost, epoch_seconds(now)).get("id", form_id)), created=False)
    metrics.add_metric(name="FormSent", unit="Count", value=1)
    return Created(form_id, created=True)


def _live_form(citizen_id: str, form_id: str, clock: Clock, stores: FormStores) -> dict[str, Any]:
    form = stores.forms.get_form(form_id) if 0 < len(form_id) <= MAX_ID_LENGTH else None
    if form is None or form["citizenId"] != citizen_id or int(form["expiresAt"]) <= epoch_seconds(clock()):
        raise NotFound("Formuläret finns inte.", code="form-not-found")
    return form


def view(citizen_id: str, form_id: str, *, clock: Clock, stores: FormStores = DEFAULT_STORES) -> dict[str, Any] | None:
    """The form as the inbox item shows it: what to fill in, and whether it has been answered (and by
    which case). None when it is not this citizen's."""
    try:
        form = _live_form(citizen_id, form_id, clock, stores)
    except NotFound:
        return None
    return {
        "formId": form["formId"],
        "clinicId": form["clinicId"],
        "clinicName": form["clinicName"],
        "caseTypeId": form["caseTypeId"],
        "name": form["caseTypeName"],
        "message": form["message"],
        "sentAt": form["sentAt"],
        "version": form["version"],
        "attachmentsAllowed": _form(form).attachments_allowed,
        "components": form["components"],
        "state": form["state"],
        "caseId": form.get("caseId"),
    }


def _form(form: Mapping[str, Any]) -> components.Form:
    return components.form_from_raw(int(form["version"]), form["components"])


def answer(
    subject: Subject,
    form_id: str,
    *,
    answers: Mapping[str, Any],
    attachment_ids: list[str],
    idempotency_key: str | None,
    clock: Clock,
    stores: FormStores = DEFAULT_STORES,
) -> Created:
    """`POST /citizens/{cid}/forms/{formId}/answers`: the answers, checked against the form as it was
    sent (422 naming the question), come back as a case (kind `form`) at the clinic that sent it; the
    form is marked answered in the same transaction (a second answer: 409 `form-already-answered`)."""
    form = _live_form(subject.citizen_id, form_id, clock, stores)
    if form["state"] == "answered" and idempotency_key is None:
        raise _already_answered()
    definition = _form(form)
    snapshot = components.answer(definition, answers, attachment_ids)
    clinic = stores.cases.clinics.get(form["clinicId"])

    def mark_answered(uow: UnitOfWork, case_id: str) -> None:
        stores.forms.mark_answered(
            uow,
            form_id,
            citizen_id=subject.citizen_id,
            case_id=case_id,
            at=iso(clock()),
            answered=_already_answered,
        )

    return cases.open_case(
        subject,
        clinic=clinic,
        case_type_id=form["caseTypeId"],
        case_type_name=form["caseTypeName"],
        title=form["caseTypeName"],
        body="",
        attachment_ids=attachment_ids,
        attachments_allowed=definition.attachments_allowed,
        idempotency_key=idempotency_key,
        clock=clock,
        stores=stores.cases,
        kind="form",
        extra={"form": {**snapshot, "formId": form_id, "sentBy": form["sentBy"]}, "formId": form_id},
        also=mark_answered,
    )


def _already_answered() -> Conflict:
    return Conflict("Formuläret är redan besvarat.", code="form-already-answered")
