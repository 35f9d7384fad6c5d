"""Attachment routes (R-23, R-25, R-26): presigned uploads, and short-lived preview/download links for
exactly the people who may see the case — otherwise 404."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.errors import NotFound
from chalicelib.core.http import idempotency_key, ok, parse_body, query_param
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

bp = Blueprint(__name__)
TAG = "Attachments"
MODELS = "chalicelib.attachments.http_models"


def _disposition() -> Any:
    wanted = query_param(bp.current_request, "disposition")
    return "attachment" if wanted == "attachment" else "inline"


def _upload(uploader: Any) -> Response:
    from chalicelib.attachments import http_models, service

    body = parse_body(bp.current_request, http_models.UploadRequest)
    attachment, upload = service.create_upload(
        uploader,
        body.file_name,
        body.content_type,
        body.size,
        clock=system_clock,
        idempotency_key=idempotency_key(bp.current_request),
    )
    return ok({"attachmentId": attachment.attachment_id, "upload": upload}, status=201)


def _checked(attachment_id: str) -> Any:
    from chalicelib.attachments import service

    found = service.get(attachment_id, clock=system_clock) if len(attachment_id) <= 64 else None
    if found is None or found.status != "checked":
        raise NotFound("Filen finns inte.", code="attachment-not-found")
    return found


@documented(
    bp,
    "/citizens/{cid}/attachments",
    "POST",
    summary="Presigned upload for a citizen's file",
    tag=TAG,
    models=MODELS,
    request="UploadRequest",
    responses={201: "UploadOut"},
    security="citizenSession",
    problems=(401, 404, 422),
    idempotent=True,
)
def citizen_upload(cid: str) -> Response:
    from chalicelib.attachments.models import Uploader

    subject = callers.subject(bp.current_request, cid)
    return _upload(Uploader("citizen", subject.citizen_id))


@documented(
    bp,
    "/citizens/{cid}/attachments/{attachmentId}",
    "GET",
    summary="Short-lived preview/download link",
    tag=TAG,
    models=MODELS,
    responses={200: "LinkOut"},
    security="citizenSession",
    problems=(401, 404),
    query=("disposition",),
)
def citizen_link(cid: str, attachmentId: str) -> Response:
    from chalicelib.attachments import service
    from chalicelib.cases import service as cases

    subject = callers.subject(bp.current_request, cid)
    found = _checked(attachmentId)
    own_upload = found.uploader.kind == "citizen" and found.uploader.id == subject.citizen_id
    if not own_upload and not (found.case_id and cases.citizen_may_see(subject, found.case_id, system_clock)):
        raise NotFound("Filen finns inte.", code="attachment-not-found")
    return ok(service.download_url(found, disposition=_disposition(), clock=system_clock))


@documented(
    bp,
    "/staff/attachments",
    "POST",
    summary="Presigned upload for staff",
    tag=TAG,
    models=MODELS,
    request="UploadRequest",
    responses={201: "UploadOut"},
    security="staffJwt",
    problems=(401, 422),
    idempotent=True,
)
def staff_upload() -> Response:
    from chalicelib.attachments.models import Uploader

    staff = callers.staff(bp.current_request)
    if not any(role in ("case-receiver", "case-handler") for _, role in staff.roles):
        raise NotFound("Finns inte.", code="not-found")
    return _upload(Uploader("staff", staff.hsa_id))


@documented(
    bp,
    "/staff/attachments/{attachmentId}",
    "GET",
    summary="Preview a file (own upload or a case's)",
    tag=TAG,
    models=MODELS,
    responses={200: "LinkOut"},
    security="staffJwt",
    problems=(401, 404),
    query=("disposition",),
)
def staff_link(attachmentId: str) -> Response:
    from chalicelib.attachments import service
    from chalicelib.cases import service as cases

    staff = callers.staff(bp.current_request)
    found = _checked(attachmentId)
    if found.uploader.kind == "staff" and found.uploader.id == staff.hsa_id and not found.case_id:
        return ok(service.download_url(found, disposition="inline", clock=system_clock))  # preview
    case = cases.may_see(staff, found.case_id, system_clock) if found.case_id else None
    if case is None:
        raise NotFound("Filen finns inte.", code="attachment-not-found")
    cases.record_access(
        staff,
        case["citizenId"],
        clinic_id=case["clinicId"],
        clinic_name=case["clinicName"],
        what="attachment",
        reference=found.attachment_id,
        clock=system_clock,
    )
    return ok(service.download_url(found, disposition=_disposition(), clock=system_clock))
