"""`GET /me`. Answers with the profile dict as it is (shape: `auth.models.Me`, checked by the tests
and the schema gate) so the hottest authenticated call needs no pydantic."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.accounts import profile
from chalicelib.core.clock import system_clock
from chalicelib.core.http import ok
from chalicelib.core.openapi import documented
from chalicelib.edge import callers
from chalicelib.population.port import population_register

bp = Blueprint(__name__)


@documented(
    bp,
    "/me",
    "GET",
    summary="The logged-in citizen",
    tag="Citizen login",
    models="chalicelib.auth.models",
    responses={200: "Me"},
    security="citizenSession",
    problems=(401,),
)
def me() -> Response:
    principal = callers.citizen(bp.current_request)
    return ok(profile.me(principal.account, register=population_register(), clock=system_clock))
