"""Attachment routes (R-23): presigned uploads. The preview/download links depend on who may see the
case, so they are case routes (`cases/routes.py`, `cases/staff_routes.py`)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.errors import NotFound
from chalicelib.core.http import idempotency_key, ok, parse_body
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

bp = Blueprint(__name__)
TAG = "Attachments"
MODELS = "chalicelib.attachments.schemas"


def _upload(uploader: Any) -> Response:
    from chalicelib.attachments import schemas, service

    body = parse_body(bp.current_request, schemas.UploadRequest)
    attachment, upload = service.create_upload(
        uploader,
        body.file_name,
        body.content_type,
        body.size,
        clock=system_clock,
        idempotency_key=idempotency_key(bp.current_request),
    )
    return ok({"attachmentId": attachment.attachment_id, "upload": upload}, status=201)


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
