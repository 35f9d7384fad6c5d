"""The citizen behind a request and whose data it concerns (`{cid}`: `me` or a child acted for)."""

from __future__ import annotations

from chalice.app import Request

from chalicelib.auth import service
from chalicelib.core.clock import system_clock
from chalicelib.core.errors import Forbidden, Unauthenticated
from chalicelib.core.http import bearer_token
from chalicelib.guardians import service as guardians
from chalicelib.population.port import population_register


def subject_for(request: Request, cid: str) -> guardians.Subject:
    token = bearer_token(request)
    try:
        principal = service.authenticate(token, clock=system_clock)
    except Unauthenticated:
        _refuse_staff(token)
        raise
    return guardians.resolve(principal.account, cid, register=population_register(), clock=system_clock)


def _refuse_staff(token: str) -> None:
    """A valid staff token on a citizen's own route is a clear 403, not "log in again" (R-10: only the
    citizen edits their settings; staff see them through their own views)."""
    if token.count(".") != 2:  # not a JWT
        return
    from chalicelib.staff.identity import authenticate_staff

    try:
        authenticate_staff(token)
    except Unauthenticated:
        return
    raise Forbidden("Den här funktionen är bara för invånaren själv.", code="citizen-only")
