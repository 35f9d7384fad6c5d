"""Citizen case routes: start a case, write in it, complain, and open a case's file (API.md, Citizen data)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.http import idempotency_key, ok, parse_body, query_param
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.cases import service
    from chalicelib.cases.models import Created
else:
    service = lazy_module("chalicelib.cases.service")

bp = Blueprint(__name__)
TAG = "Cases"
MODELS = "chalicelib.cases.schemas"
ATTACHMENT_MODELS = "chalicelib.attachments.schemas"


def _created(result: Created, field: str) -> Response:
    # A retry with the same Idempotency-Key gets the first result, and nothing new is written.
    return ok({field: result.id}, status=201)


@documented(
    bp,
    "/citizens/{cid}/cases",
    "POST",
    summary="Start a case (a local e-service's form: with its answers, R-50)",
    tag=TAG,
    models=MODELS,
    request="StartCaseRequest",
    responses={201: "CaseCreated"},
    security="citizenSession",
    problems=(401, 404, 409, 422),
    idempotent=True,
)
def start_case(cid: str) -> Response:
    from chalicelib.cases import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.StartCaseRequest)
    result = service.start_case(
        subject,
        clinic_id=body.clinic_id,
        case_type_id=body.case_type_id,
        title=body.subject,
        body=body.body,
        attachment_ids=body.attachment_ids,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
        answers=body.answers,
    )
    return _created(result, "caseId")


@documented(
    bp,
    "/citizens/{cid}/cases/{caseId}/messages",
    "POST",
    summary="Write in a case",
    tag=TAG,
    models=MODELS,
    request="MessageRequest",
    responses={201: "MessageCreated"},
    security="citizenSession",
    problems=(401, 404, 409, 422),
    idempotent=True,
)
def citizen_message(cid: str, caseId: str) -> Response:
    from chalicelib.cases import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.MessageRequest)
    result = service.citizen_message(
        subject,
        caseId,
        body=body.body,
        attachment_ids=body.attachment_ids,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return _created(result, "messageId")


@documented(
    bp,
    "/citizens/{cid}/complaints",
    "POST",
    summary="Feedback and complaints (R-27)",
    tag=TAG,
    models=MODELS,
    request="ComplaintRequest",
    responses={201: "CaseCreated"},
    security="citizenSession",
    problems=(401, 404, 422),
    idempotent=True,
)
def complain(cid: str) -> Response:
    from chalicelib.cases import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.ComplaintRequest)
    board = body.patient_board
    result = service.complain(
        subject,
        clinic_id=body.clinic_id,
        board_region=board.region if board else None,
        location=board.location if board else None,
        event_date=body.event_date,
        care_process=body.concerns_care_process,
        body=body.body,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return _created(result, "caseId")


@documented(
    bp,
    "/citizens/{cid}/attachments/{attachmentId}",
    "GET",
    summary="Short-lived preview/download link",
    tag="Attachments",
    models=ATTACHMENT_MODELS,
    responses={200: "LinkOut"},
    security="citizenSession",
    problems=(401, 404),
    query=("disposition",),
)
def citizen_attachment_link(cid: str, attachmentId: str) -> Response:
    """The citizen's own upload, or a file in one of their cases (R-26); otherwise 404. Here, not in
    `attachments`, because who may see a file depends on its case."""
    from chalicelib.attachments import service as attachments

    subject = callers.subject(bp.current_request, cid)
    found = attachments.checked(attachmentId, clock=system_clock)
    own_upload = found.uploader.kind == "citizen" and found.uploader.id == subject.citizen_id
    if not own_upload and not (found.case_id and service.citizen_may_see(subject, found.case_id, system_clock)):
        raise attachments.file_not_found()
    disposition = attachments.disposition(query_param(bp.current_request, "disposition"))
    return ok(attachments.download_url(found, disposition=disposition, clock=system_clock))
