"""Self-sampling (R-54): the citizen orders a test kit; the lab's result comes back to the inbox."""

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
    from chalicelib.self_sampling import service
else:
    service = lazy_module("chalicelib.self_sampling.service")

bp = Blueprint(__name__)
TAG = "Self-sampling"
MODELS = "chalicelib.self_sampling.schemas"


@documented(
    bp,
    "/citizens/{cid}/sample-kits",
    "POST",
    summary="Order a self-sampling test kit (R-54), to the home address in the population register, a "
    "pickup point or another address",
    tag=TAG,
    models=MODELS,
    request="KitOrderRequest",
    responses={201: "KitOrdered"},
    security="citizenSession",
    problems=(400, 401, 404, 422),
    idempotent=True,
)
def order_kit(cid: str) -> Response:
    from chalicelib.self_sampling import schemas

    subject = callers.subject(bp.current_request, cid)
    body = parse_body(bp.current_request, schemas.KitOrderRequest)
    ordered = service.order_kit(
        subject,
        kit_type=body.kit_type,
        delivery=body.delivery.to_input(),
        idempotency_key=idempotency_key(bp.current_request),
        clock=system_clock,
        register=population_register(),
    )
    return ok({"orderId": ordered.order_id}, status=201)


@documented(
    bp,
    "/integrations/lab-results",
    "POST",
    summary="A lab's result for a kit order: it goes to the citizen's inbox (notified), once per result; "
    "a replay is harmless",
    tag=TAG,
    models=MODELS,
    request="LabResult",
    responses={202: "LabResultReceipt"},
    security="labSystemJwt",
    problems=(400, 401, 403, 404, 409, 422),
)
def lab_result() -> Response:
    from chalicelib.self_sampling import schemas

    lab = callers.lab_system(bp.current_request)
    body = parse_body(bp.current_request, schemas.LabResult)
    received = service.receive_result(
        lab=lab.client,
        order_id=body.order_id,
        result_id=body.result_id,
        analysis=body.analysis,
        outcome=body.outcome,
        text=body.text,
        clock=system_clock,
    )
    return ok(
        {"orderId": received.order_id, "resultId": received.result_id, "duplicate": received.duplicate}, status=202
    )
