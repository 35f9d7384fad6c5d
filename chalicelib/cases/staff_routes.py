"""Staff case routes (API.md, Staff). Every route checks the caller's role at the case's clinic (R-21)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.clinics.routes import checked_id
from chalicelib.core import cursor
from chalicelib.core.clock import system_clock
from chalicelib.core.http import idempotency_key, ok, parse_body, query_param
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers
from chalicelib.population.port import population_register

if TYPE_CHECKING:
    from chalicelib.cases import staff_service as service
else:
    service = lazy_module("chalicelib.cases.staff_service")

bp = Blueprint(__name__)
TAG = "Staff"
MODELS = "chalicelib.cases.schemas"
ATTACHMENT_MODELS = "chalicelib.attachments.schemas"


@documented(
    bp,
    "/staff/clinics/{clinicId}/cases",
    "GET",
    summary="The clinic's cases by status",
    tag=TAG,
    models=MODELS,
    responses={200: "CaseList"},
    security="staffJwt",
    problems=(401, 403, 404, 422),
    query=("status", "cursor"),
)
def list_cases(clinicId: str) -> Response:
    staff = callers.staff(bp.current_request)
    status = query_param(bp.current_request, "status") or "open"
    start = cursor.decode(query_param(bp.current_request, "cursor"), service.cursor_scope(clinicId, status))
    items, last = service.staff_list(staff, checked_id(clinicId), status, cursor=start, clock=system_clock)
    return ok({"items": items, "nextCursor": cursor.encode(last)})


@documented(
    bp,
    "/staff/cases/{caseId}",
    "GET",
    summary="A case with its history (audited)",
    tag=TAG,
    models=MODELS,
    responses={200: "StaffCaseView"},
    security="staffJwt",
    problems=(401, 403, 404),
)
def get_case(caseId: str) -> Response:
    staff = callers.staff(bp.current_request)
    return ok(service.staff_view(staff, caseId, register=population_register(), clock=system_clock))


@documented(
    bp,
    "/staff/cases/{caseId}/assign",
    "POST",
    summary="Redistribute to a case handler",
    tag=TAG,
    models=MODELS,
    request="AssignRequest",
    responses={200: "CaseState"},
    security="staffJwt",
    problems=(401, 403, 404, 409, 422),
)
def assign(caseId: str) -> Response:
    from chalicelib.cases import schemas

    staff = callers.staff(bp.current_request)
    body = parse_body(bp.current_request, schemas.AssignRequest)
    return ok(service.assign(staff, caseId, body.handler_hsa_id, clock=system_clock))


@documented(
    bp,
    "/staff/cases/{caseId}/messages",
    "POST",
    summary="Answer, partial answer or counter-question",
    tag=TAG,
    models=MODELS,
    request="StaffMessageRequest",
    responses={201: "MessageCreated"},
    security="staffJwt",
    problems=(401, 403, 404, 409, 422),
    idempotent=True,
)
def staff_message(caseId: str) -> Response:
    from chalicelib.cases import schemas

    staff = callers.staff(bp.current_request)
    body = parse_body(bp.current_request, schemas.StaffMessageRequest)
    result = service.staff_message(
        staff,
        caseId,
        kind=body.kind,
        body=body.body,
        attachment_ids=body.attachment_ids,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok({"messageId": result.id}, status=201)


@documented(
    bp,
    "/staff/cases/{caseId}/close",
    "POST",
    summary="Close the case",
    tag=TAG,
    models=MODELS,
    responses={200: "CaseState"},
    security="staffJwt",
    problems=(401, 403, 404),
)
def close(caseId: str) -> Response:
    staff = callers.staff(bp.current_request)
    return ok(service.close(staff, caseId, clock=system_clock))


@documented(
    bp,
    "/staff/clinics/{clinicId}/messages",
    "POST",
    summary="Care starts a conversation",
    tag=TAG,
    models=MODELS,
    request="ConversationRequest",
    responses={201: "CaseCreated"},
    security="staffJwt",
    problems=(401, 403, 404, 409, 422),
    idempotent=True,
)
def start_conversation(clinicId: str) -> Response:
    from chalicelib.cases import schemas

    staff = callers.staff(bp.current_request)
    body = parse_body(bp.current_request, schemas.ConversationRequest)
    result = service.start_conversation(
        staff,
        checked_id(clinicId),
        personnummer=body.personnummer,
        title=body.subject,
        body=body.body,
        attachment_ids=body.attachment_ids,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok({"caseId": result.id}, status=201)


@documented(
    bp,
    "/staff/attachments/{attachmentId}",
    "GET",
    summary="Preview a file (own upload or a case's)",
    tag="Attachments",
    models=ATTACHMENT_MODELS,
    responses={200: "LinkOut"},
    security="staffJwt",
    problems=(401, 404),
    query=("disposition",),
)
def attachment_link(attachmentId: str) -> Response:
    """Staff preview their own upload before sending it (R-25), or open a file of a case they may read
    (R-21; an audited read, R-29); otherwise 404. Here, not in `attachments`: it depends on the case."""
    from chalicelib.attachments import service as attachments

    staff = callers.staff(bp.current_request)
    found = attachments.checked(attachmentId, clock=system_clock)
    if found.uploader.kind == "staff" and found.uploader.id == staff.hsa_id and not found.case_id:
        return ok(attachments.download_url(found, disposition="inline", clock=system_clock))  # preview
    case = service.may_see(staff, found.case_id, system_clock) if found.case_id else None
    if case is None:
        raise attachments.file_not_found()
    service.record_access(
        staff,
        case["citizenId"],
        clinic_id=case["clinicId"],
        clinic_name=case["clinicName"],
        what="attachment",
        reference=found.attachment_id,
        clock=system_clock,
    )
    disposition = attachments.disposition(query_param(bp.current_request, "disposition"))
    return ok(attachments.download_url(found, disposition=disposition, clock=system_clock))
