"""Citizen settings (API.md, Citizen data) and the staff view of the notification method (API.md, Staff)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.http import idempotency_key, ok, parse_body
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers
from chalicelib.population.port import population_register

if TYPE_CHECKING:
    from chalicelib.settings import service
else:
    service = lazy_module("chalicelib.settings.service")

bp = Blueprint(__name__)
TAG = "Settings"
MODELS = "chalicelib.settings.schemas"


@documented(
    bp,
    "/citizens/{cid}/settings",
    "GET",
    summary="Read settings",
    tag=TAG,
    models=MODELS,
    responses={200: "SettingsOut"},
    security="citizenSession",
    problems=(401, 404),
)
def get_settings(cid: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    return ok(service.get_for(subject))


@documented(
    bp,
    "/citizens/{cid}/settings",
    "PATCH",
    summary="Change settings (absent = unchanged, null clears a detail)",
    tag=TAG,
    models=MODELS,
    request="SettingsPatch",
    responses={200: "SettingsOut"},
    security="citizenSession",
    problems=(401, 404, 409, 422),
    idempotent=True,
)
def patch_settings(cid: str) -> Response:
    from chalicelib.settings import schemas as models

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, models.SettingsPatch)
    changes = models.changes_of(body)
    guardian = changes.pop("guardianContact", None)
    guardian_changes = models.changes_of(body.guardian_contact) if body.guardian_contact is not None else None
    if "guardian_contact" in body.model_fields_set and guardian is None:
        guardian_changes = {"mobile": None, "email": None}  # null: clear the guardian's own entry
    return ok(
        service.change(
            subject,
            changes,
            guardian_contact=guardian_changes,
            clock=system_clock,
            idempotency_key=idempotency_key(bp.current_request),
        )
    )


@documented(
    bp,
    "/staff/citizen-lookup",
    "POST",
    summary="A citizen's notification method (read only, audited)",
    tag="Staff",
    models=MODELS,
    request="CitizenLookupRequest",
    responses={200: "CitizenLookup"},
    security="staffJwt",
    problems=(401, 403, 404, 422),
)
def citizen_lookup() -> Response:
    from chalicelib.settings import schemas as models

    staff = callers.staff(bp.current_request)
    body = parse_body(bp.current_request, models.CitizenLookupRequest)
    return ok(
        service.staff_lookup(
            staff, body.personnummer, clinic_id=body.clinic_id, register=population_register(), clock=system_clock
        )
    )
