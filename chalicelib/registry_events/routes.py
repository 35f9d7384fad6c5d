"""The population register's feed (API.md, Machine clients): `POST /integrations/population-events`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.http import ok, parse_body
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers
from chalicelib.population.port import population_register

if TYPE_CHECKING:
    from chalicelib.registry_events import service
else:
    service = lazy_module("chalicelib.registry_events.service")

bp = Blueprint(__name__)
TAG = "Population register"
MODELS = "chalicelib.registry_events.schemas"


@documented(
    bp,
    "/integrations/population-events",
    "POST",
    summary="A change in the population register for a person (custody, protected identity, death); "
    "the person is read again and proxy links follow from the next request (R-32); audited",
    tag=TAG,
    models=MODELS,
    request="PopulationEvent",
    responses={202: "PopulationEventReceipt"},
    security="populationSystemJwt",
    problems=(400, 401, 403, 422),
)
def population_event() -> Response:
    from chalicelib.registry_events import schemas

    system = callers.population_system(bp.current_request)
    body = parse_body(bp.current_request, schemas.PopulationEvent)
    receipt = service.receive(
        body.kind, body.personnummer, actor=system.client, register=population_register(), clock=system_clock
    )
    return ok(receipt, status=202)
