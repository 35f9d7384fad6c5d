"""Form handling routes (R-51): care sends a form; the citizen answers it. The form of a local e-service
itself (R-50) is read at `GET /clinics/{clinicId}/case-types/{caseTypeId}/form` (`clinics`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.clinics.routes import checked_id
from chalicelib.core.clock import system_clock
from chalicelib.core.http import idempotency_key, ok, parse_body
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.forms import service
else:
    service = lazy_module("chalicelib.forms.service")

bp = Blueprint(__name__)
MODELS = "chalicelib.forms.schemas"


@documented(
    bp,
    "/staff/clinics/{clinicId}/forms",
    "POST",
    summary="Care sends a form to a citizen (R-51); the answers come back as a case",
    tag="Staff",
    models=MODELS,
    request="SendFormRequest",
    responses={201: "FormSent"},
    security="staffJwt",
    problems=(401, 403, 404, 409, 422),
    idempotent=True,
)
def send_form(clinicId: str) -> Response:
    from chalicelib.forms import schemas

    staff = callers.staff(bp.current_request)
    body = parse_body(bp.current_request, schemas.SendFormRequest)
    result = service.send(
        staff,
        checked_id(clinicId),
        personnummer=body.personnummer,
        case_type_id=body.case_type_id,
        message=body.message,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok({"formId": result.id}, status=201)


@documented(
    bp,
    "/citizens/{cid}/forms/{formId}/answers",
    "POST",
    summary="Answer a form care sent (R-51): the answers become a case at the clinic",
    tag="Cases",
    models=MODELS,
    request="AnswerFormRequest",
    responses={201: "CaseCreated"},
    security="citizenSession",
    problems=(401, 404, 409, 422),
    idempotent=True,
)
def answer_form(cid: str, formId: str) -> Response:
    from chalicelib.forms import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.AnswerFormRequest)
    result = service.answer(
        subject,
        formId,
        answers=body.answers,
        attachment_ids=body.attachment_ids,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok({"caseId": result.id}, status=201)
