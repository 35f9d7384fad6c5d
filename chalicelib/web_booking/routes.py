"""Web booking (R-44, R-45, R-45a): the citizen's booked times, bookable slots, book/cancel/rebook,
booking from an open invitation; and the booking systems' invitation intake."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import iso, system_clock
from chalicelib.core.errors import InvalidInput, NotFound
from chalicelib.core.http import idempotency_key, ok, parse_body, query_param
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.web_booking import invitations, service
else:
    service = lazy_module("chalicelib.web_booking.service")
    invitations = lazy_module("chalicelib.web_booking.invitations")

bp = Blueprint(__name__)
TAG = "Web booking"
MODELS = "chalicelib.web_booking.schemas"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _id(value: str, what: str = "Finns inte.") -> str:
    if not _ID.fullmatch(value):
        raise NotFound(what, code="not-found")
    return value


def _date(name: str) -> date | None:
    raw = query_param(bp.current_request, name)
    if raw is None or raw == "":
        return None
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} ska vara ett datum (ÅÅÅÅ-MM-DD).", code="invalid-date") from None


@documented(
    bp,
    "/citizens/{cid}/bookings",
    "GET",
    summary="Booked times at every clinic with web booking, except those the clinic hid (R-45a)",
    tag=TAG,
    models=MODELS,
    responses={200: "BookedTimes"},
    security="citizenSession",
    problems=(401, 404),
)
def booked_times(cid: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    return ok(service.bookings(subject, clock=system_clock))


@documented(
    bp,
    "/clinics/{clinicId}/slots",
    "GET",
    summary="Times a citizen may book online at the clinic (R-45: PASiS from tomorrow, PMO from today)",
    tag=TAG,
    models=MODELS,
    responses={200: "Slots"},
    security="citizenSession",
    problems=(401, 404, 422, 503, 504),
    query=("caseTypeId", "from", "to"),
)
def bookable_slots(clinicId: str) -> Response:
    callers.citizen(bp.current_request)  # the booking systems' schedules are for logged-in citizens
    case_type = query_param(bp.current_request, "caseTypeId") or ""
    if not _ID.fullmatch(case_type):
        raise InvalidInput("Ange ärendetypen (caseTypeId).", code="case-type-required")
    result = service.slots(
        _id(clinicId, "Mottagningen finns inte."), case_type, _date("from"), _date("to"), clock=system_clock
    )
    return ok(result)


@documented(
    bp,
    "/citizens/{cid}/bookings",
    "POST",
    summary="Book a time directly in the clinic's booking system (R-45)",
    tag=TAG,
    models=MODELS,
    request="BookRequest",
    responses={201: "Booked"},
    security="citizenSession",
    problems=(401, 404, 409, 422, 503, 504),
    idempotent=True,
)
def book(cid: str) -> Response:
    from chalicelib.web_booking import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.BookRequest)
    done = service.book(
        subject,
        clinic_id=body.clinic_id,
        case_type_id=body.case_type_id,
        slot_id=body.slot_id,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok(done.result, status=201)


@documented(
    bp,
    "/citizens/{cid}/bookings/{bookingId}/cancel",
    "POST",
    summary="Cancel a booked time (R-45: PASiS until 24 hours before)",
    tag=TAG,
    models=MODELS,
    responses={200: "Booked"},
    security="citizenSession",
    problems=(401, 404, 409, 422, 503, 504),
    idempotent=True,
)
def cancel(cid: str, bookingId: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    done = service.cancel(
        subject,
        _id(bookingId, "Bokningen finns inte."),
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok(done.result)


@documented(
    bp,
    "/citizens/{cid}/bookings/{bookingId}/rebook",
    "POST",
    summary="Move a booked time to another free slot (R-45)",
    tag=TAG,
    models=MODELS,
    request="RebookRequest",
    responses={200: "Booked"},
    security="citizenSession",
    problems=(401, 404, 409, 422, 503, 504),
    idempotent=True,
)
def rebook(cid: str, bookingId: str) -> Response:
    from chalicelib.web_booking import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.RebookRequest)
    done = service.rebook(
        subject,
        _id(bookingId, "Bokningen finns inte."),
        body.slot_id,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok(done.result)


@documented(
    bp,
    "/citizens/{cid}/invitations/{invitationId}/book",
    "POST",
    summary="Book one slot of an open invitation (R-44)",
    tag=TAG,
    models=MODELS,
    request="SlotRequest",
    responses={201: "Booked"},
    security="citizenSession",
    problems=(401, 404, 409, 410, 422, 503, 504),
    idempotent=True,
)
def book_invitation(cid: str, invitationId: str) -> Response:
    from chalicelib.web_booking import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.SlotRequest)
    done = invitations.book(
        subject,
        _id(invitationId, "Kallelsen finns inte."),
        body.slot_id,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok(done.result, status=201)


@documented(
    bp,
    "/integrations/invitations",
    "POST",
    summary="An open invitation from a booking system (R-44); replays are harmless",
    tag="Bookings",
    models=MODELS,
    request="InvitationEvent",
    responses={202: "InvitationDecision"},
    security="bookingSystemJwt",
    problems=(400, 401, 403, 422),
)
def invitation_event() -> Response:
    from chalicelib.population.port import population_register
    from chalicelib.web_booking import schemas
    from chalicelib.web_booking.models import OfferedSlot

    callers.booking_system(bp.current_request)
    body = parse_body(bp.current_request, schemas.InvitationEvent)
    answer = invitations.receive(
        system=body.system,
        external_id=body.invitation_id,
        personnummer=body.personnummer,
        clinic_id=body.clinic_id,
        slots=[OfferedSlot(s.slot_id, iso(s.starts_at), iso(s.ends_at)) for s in body.slots],
        expires_at=body.expires_at,
        subject=body.notice.subject,
        body=body.notice.body,
        clock=system_clock,
        register=population_register(),
    )
    return ok(answer, status=202)
