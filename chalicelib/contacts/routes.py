"""The contact-details service for care providers' systems (API.md, Machine clients; R-13)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.http import ok, parse_body
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.contacts import service
else:
    service = lazy_module("chalicelib.contacts.service")

bp = Blueprint(__name__)
TAG = "Contact details"
MODELS = "chalicelib.contacts.schemas"


@documented(
    bp,
    "/contact-details/lookup",
    "POST",
    summary="A citizen's shared mobile/e-mail (PU-tjänsten; audited)",
    tag=TAG,
    models=MODELS,
    request="ContactLookupRequest",
    responses={200: "ContactDetails"},
    security="careSystemJwt",
    problems=(401, 403, 404, 422),
)
def contact_lookup() -> Response:
    from chalicelib.contacts import schemas as models

    system = callers.care_system(bp.current_request)
    body = parse_body(bp.current_request, models.ContactLookupRequest)
    return ok(service.lookup(system, body.personnummer, clock=system_clock))
