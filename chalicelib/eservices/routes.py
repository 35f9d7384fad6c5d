"""Which e-services a person may open now (R-35, R-55, R-09): `GET /citizens/{cid}/services`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.http import ok
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.eservices import service
else:
    service = lazy_module("chalicelib.eservices.service")

bp = Blueprint(__name__)
TAG = "E-services"
MODELS = "chalicelib.eservices.schemas"


@documented(
    bp,
    "/citizens/{cid}/services",
    "GET",
    summary="The e-services this subject may open now, each with a reason when not: the medicine list needs "
    "16 and not proxy mode, Läkemedelskollen 18 (a guardian has it for a child under 13), a sealed record "
    "closes the journal, a locked account opens nothing (R-35, R-55, R-09)",
    tag=TAG,
    models=MODELS,
    responses={200: "Services"},
    security="citizenSession",
    problems=(401, 404),
)
def services(cid: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    return ok(service.services(subject, clock=system_clock))
