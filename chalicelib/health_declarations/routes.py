"""The health declaration (R-46): the national form, submitting, validity; the clinic's PDF."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.errors import NotFound, Problem
from chalicelib.core.http import idempotency_key, ok, parse_body
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.health_declarations import service
else:
    service = lazy_module("chalicelib.health_declarations.service")

PDF = "application/pdf"
TAG = "Health declaration"
MODELS = "chalicelib.health_declarations.schemas"
_DECLARATION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


bp = Blueprint(__name__)


@documented(
    bp,
    "/health-declaration/form",
    "GET",
    summary="The national health declaration form (R-46): fixed-choice mandatory questions and a final "
    "free text; each option marks whether it needs the clinic's attention",
    tag=TAG,
    models=MODELS,
    responses={200: "HealthDeclarationForm"},
)
def health_declaration_form() -> Response:
    return ok(service.form())


@documented(
    bp,
    "/citizens/{cid}/health-declarations",
    "POST",
    summary="Submit a health declaration (R-46); a guardian for a child under 13 in proxy mode. Valid 12 months "
    "(18 or older on the day) or 6 months (children); a missing or invalid answer is 422 naming the question",
    tag=TAG,
    models=MODELS,
    request="SubmitDeclaration",
    responses={201: "DeclarationSubmitted"},
    security="citizenSession",
    problems=(401, 404, 422),
    idempotent=True,
)
def submit_health_declaration(cid: str) -> Response:
    from chalicelib.health_declarations import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.SubmitDeclaration)
    done = service.submit(
        subject,
        answers=body.answers,
        clinic_id=body.clinic_id,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok(done.out(), status=201)


@documented(
    bp,
    "/citizens/{cid}/health-declarations",
    "GET",
    summary="The subject's health declarations, newest first, with whether each is valid today (R-46)",
    tag=TAG,
    models=MODELS,
    responses={200: "DeclarationList"},
    security="citizenSession",
    problems=(401, 404),
)
def list_health_declarations(cid: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    return ok(service.declarations(subject, clock=system_clock))


@documented(
    bp,
    "/staff/health-declarations/{declarationId}/pdf",
    "GET",
    summary="The health declaration's PDF of medically relevant answers (R-46), for case staff of the clinic it "
    "names; send `Accept: application/pdf`. Audited in the citizen's access log. 409 `pdf-not-ready` with "
    "Retry-After until it is built (seconds after submission)",
    tag=TAG,
    responses={200: PDF},
    security="staffJwt",
    problems=(401, 403, 404, 406, 409),
)
def health_declaration_pdf(declarationId: str) -> Response:
    staff = callers.staff(bp.current_request)
    if not _DECLARATION_ID.fullmatch(declarationId):
        raise NotFound("Hälsodeklarationen finns inte.", code="declaration-not-found")
    _require_pdf_accepted(bp.current_request.headers.get("accept"))
    found = service.staff_pdf(staff, declarationId, clock=system_clock)
    return Response(
        body=found.body,
        status_code=200,
        headers={
            "Content-Type": PDF,
            "Content-Disposition": f'inline; filename="halsodeklaration-{found.declaration_id}.pdf"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _require_pdf_accepted(accept: str | None) -> None:
    """The bytes go to a client that accepts application/pdf or `*/*`; anything else (no Accept at all
    included: Chalice then refuses a binary body) is 406. Behind API Gateway the FIRST Accept type must be
    application/pdf for the body to leave as bytes rather than base64 text (binary media types), so clients
    send `Accept: application/pdf`."""
    types = [part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")]
    if not any(t in (PDF, "*/*") for t in types):
        raise Problem(
            "Skicka Accept: application/pdf för att hämta pdf:en.",
            code="not-acceptable",
            title="Formatet kan inte levereras",
            status=406,
        )
