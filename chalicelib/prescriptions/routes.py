"""Medicines and prescribed supplies: the medication list, renewals, supply orders (R-52, R-53, R-35)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.http import idempotency_key, ok, parse_body
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.prescriptions import service
else:
    service = lazy_module("chalicelib.prescriptions.service")

bp = Blueprint(__name__)
TAG = "Medicines"
MODELS = "chalicelib.prescriptions.schemas"


@documented(
    bp,
    "/citizens/{cid}/medications",
    "GET",
    summary="Previously registered medicines, at most 5 years back (R-52); "
    "403 `not-available` under 16 and in proxy mode (R-35)",
    tag=TAG,
    models=MODELS,
    responses={200: "Medications"},
    security="citizenSession",
    problems=(401, 403, 404, 503),
)
def medications(cid: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    return ok(service.medications(subject, clock=system_clock))


@documented(
    bp,
    "/citizens/{cid}/prescription-renewals",
    "POST",
    summary="Ask the clinic to renew prescriptions, from the medication list and/or in free text (R-52); "
    "it becomes a case",
    tag=TAG,
    models=MODELS,
    request="RenewalRequest",
    responses={201: "RenewalCreated"},
    security="citizenSession",
    problems=(401, 403, 404, 409, 422, 503),
    idempotent=True,
)
def renew(cid: str) -> Response:
    from chalicelib.prescriptions import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.RenewalRequest)
    created = service.renew(
        subject,
        clinic_id=body.clinic_id,
        medication_ids=body.medication_ids,
        free_text=body.free_text,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok({"caseId": created.id}, status=201)


@documented(
    bp,
    "/citizens/{cid}/supplies",
    "GET",
    summary="Supplies prescribed to the citizen that can be ordered now, and the pickup points (R-53)",
    tag=TAG,
    models=MODELS,
    responses={200: "Supplies"},
    security="citizenSession",
    problems=(401, 404, 503),
)
def supplies(cid: str) -> Response:
    subject = callers.subject(bp.current_request, cid)
    return ok(service.supplies(subject, clock=system_clock))


@documented(
    bp,
    "/citizens/{cid}/supply-orders",
    "POST",
    summary="Order prescribed supplies to a pickup point, the home address in the population register or "
    "another address (R-53); it becomes a case",
    tag=TAG,
    models=MODELS,
    request="SupplyOrderRequest",
    responses={201: "SupplyOrderCreated"},
    security="citizenSession",
    problems=(401, 404, 409, 422, 503),
    idempotent=True,
)
def order_supplies(cid: str) -> Response:
    from chalicelib.prescriptions import schemas
    from chalicelib.prescriptions.models import DeliveryAddress

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.SupplyOrderRequest)
    given = body.delivery.address
    created = service.order_supplies(
        subject,
        clinic_id=body.clinic_id,
        items=[(line.supply_id, line.quantity) for line in body.items],
        delivery_kind=body.delivery.kind,
        address=DeliveryAddress(given.street, given.postal_code, given.city, given.care_of) if given else None,
        pickup_point_id=body.delivery.pickup_point_id,
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
    )
    return ok({"orderId": created.id, "caseId": created.id}, status=201)
