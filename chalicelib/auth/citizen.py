"""The citizen behind a request and whose data it concerns (`{cid}`: `me` or a child acted for)."""

from __future__ import annotations

from chalice.app import Request

from chalicelib.auth import service
from chalicelib.core.clock import system_clock
from chalicelib.core.errors import BadRequest
from chalicelib.core.http import bearer_token
from chalicelib.guardians import service as guardians
from chalicelib.population.port import population_register


def subject_for(request: Request, cid: str) -> guardians.Subject:
    principal = service.authenticate(bearer_token(request), clock=system_clock)
    return guardians.resolve(principal.account, cid, register=population_register(), clock=system_clock)


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 128 or not key.isprintable():
        raise BadRequest("Idempotency-Key ska vara 1–128 tecken.", code="invalid-idempotency-key")
    return key
