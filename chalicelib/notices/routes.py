"""Booking systems' calls (API.md, Machine clients) and staff's view of a booking's notice."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.errors import NotFound
from chalicelib.core.http import ok, parse_body
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.notices import service
else:
    service = lazy_module("chalicelib.notices.service")

bp = Blueprint(__name__)
TAG = "Bookings"
MODELS = "chalicelib.notices.schemas"
_BOOKING_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


@documented(
    bp,
    "/integrations/bookings",
    "POST",
    summary="A booking event (booked, rebooked, cancelled); replays and late older events change nothing",
    tag=TAG,
    models=MODELS,
    request="BookingEvent",
    responses={202: "BookingDecision"},
    security="bookingSystemJwt",
    problems=(400, 401, 403, 409, 422),
)
def booking_event() -> Response:
    from chalicelib.notices import schemas

    callers.booking_system(bp.current_request)
    body = parse_body(bp.current_request, schemas.BookingEvent)
    return ok(service.receive(body.to_booking(), clock=system_clock), status=202)


@documented(
    bp,
    "/integrations/bookings/{system}/{bookingId}",
    "GET",
    summary="What became of a booking's notice: released, paper, read, the unread follow-up",
    tag=TAG,
    models=MODELS,
    responses={200: "BookingNotice"},
    security="bookingSystemJwt",
    problems=(401, 403, 404),
)
def booking_notice(system: str, bookingId: str) -> Response:
    callers.booking_system(bp.current_request)
    _known(system, bookingId)
    return ok(service.view(system, bookingId, clock=system_clock))


@documented(
    bp,
    "/staff/clinics/{clinicId}/bookings/{system}/{bookingId}",
    "GET",
    summary="A booking's notice at the clinic: released, paper, whether the citizen read it (audited)",
    tag="Staff",
    models=MODELS,
    responses={200: "BookingNotice"},
    security="staffJwt",
    problems=(401, 403, 404),
)
def staff_booking_notice(clinicId: str, system: str, bookingId: str) -> Response:
    staff = callers.staff(bp.current_request)
    _known(system, bookingId)
    return ok(service.staff_view(staff, clinicId, system, bookingId, clock=system_clock))


def _known(system: str, booking_id: str) -> None:
    """A path that can name no booking is 404 before any read."""
    if system not in ("PASiS", "PMO") or not _BOOKING_ID.fullmatch(booking_id):
        raise NotFound("Bokningen finns inte.", code="booking-not-found")
