"""Who is calling, resolved in one place for every route (API.md, Authentication):

- a citizen: an opaque session token (`auth`), and whose data the request concerns — `me` or a child
  the citizen acts for (`guardians`);
- staff: a JWT from the region's IdP with HSA-id and roles (`staff.identity`);
- a care provider's system, a booking system, the population register's feed or a lab: a machine JWT
  from the same IdP with a scope (`contacts.identity`).

Capabilities below never look at a request; they are handed the resolved caller. PyJWT is imported
only when a staff or machine route runs (cold start of the citizen routes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Request

from chalicelib.auth import service as sessions
from chalicelib.core.clock import system_clock
from chalicelib.core.errors import Forbidden, Unauthenticated
from chalicelib.core.http import bearer_token
from chalicelib.guardians import service as guardians
from chalicelib.population.port import population_register

if TYPE_CHECKING:
    from chalicelib.contacts.identity import CareSystem
    from chalicelib.staff.identity import StaffPrincipal


def citizen(request: Request) -> sessions.Principal:
    """The logged-in citizen (401 without a live session)."""
    token = bearer_token(request)
    try:
        return sessions.authenticate(token, clock=system_clock)
    except Unauthenticated:
        _refuse_staff(token)
        raise


def subject(request: Request, cid: str) -> guardians.Subject:
    """The citizen whose data a `/citizens/{cid}/…` request concerns, and who acts (R-30..R-32)."""
    principal = citizen(request)
    return guardians.resolve(principal.account, cid, register=population_register(), clock=system_clock)


def staff(request: Request) -> StaffPrincipal:
    from chalicelib.staff.identity import authenticate_staff

    return authenticate_staff(bearer_token(request))


def care_system(request: Request) -> CareSystem:
    from chalicelib.contacts.identity import authenticate_care_system

    return authenticate_care_system(bearer_token(request))


def booking_system(request: Request) -> CareSystem:
    """A booking system (PASiS, PMO): a machine JWT with scope `bookings:write`."""
    from chalicelib.contacts.identity import authenticate_care_system

    return authenticate_care_system(
        bearer_token(request), "bookings:write", "Systemet saknar behörighet att skicka bokningar."
    )


def population_system(request: Request) -> CareSystem:
    """The population register's feed: a machine JWT with scope `population:write`."""
    from chalicelib.contacts.identity import authenticate_care_system

    return authenticate_care_system(
        bearer_token(request), "population:write", "Systemet saknar behörighet att skicka folkbokföringshändelser."
    )


def lab_system(request: Request) -> CareSystem:
    """A laboratory's system returning self-sampling results (R-54): a machine JWT with scope
    `lab-results:write`."""
    from chalicelib.contacts.identity import authenticate_care_system

    return authenticate_care_system(
        bearer_token(request), "lab-results:write", "Systemet saknar behörighet att skicka provsvar."
    )


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
