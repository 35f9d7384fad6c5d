"""`GET /citizens/{cid}/access-log`: who at which clinic read the citizen's data, and when (R-29)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.audit import service
from chalicelib.core.http import ok
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

bp = Blueprint(__name__)


@documented(
    bp,
    "/citizens/{cid}/access-log",
    "GET",
    summary="Staff reads of the citizen's data",
    tag="Inbox",
    models="chalicelib.cases.schemas",
    responses={200: "AccessLog"},
    security="citizenSession",
    problems=(401, 404),
)
def access_log(cid: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    return ok({"items": service.staff_reads(subject.citizen_id)})
