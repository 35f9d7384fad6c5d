"""Citizen login routes (API.md, Citizen login) and `GET /me`. Thin: parse → service → response.

Models are imported inside the views: pydantic is a large share of a cold start and an
authenticated GET needs none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.auth import service
from chalicelib.core.clock import system_clock
from chalicelib.core.http import bearer_token, ok, parse_body
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers
from chalicelib.guardians import profile
from chalicelib.population.port import population_register

if TYPE_CHECKING:
    from chalicelib.auth import freja_login, self_lock
    from chalicelib.population.port import PopulationRegister
else:
    freja_login = lazy_module("chalicelib.auth.freja_login")
    self_lock = lazy_module("chalicelib.auth.self_lock")

bp = Blueprint(__name__)
TAG = "Citizen login"
MODELS = "chalicelib.auth.schemas"


def bankid_client() -> service.BankID:
    from chalicelib.auth.bankid import bankid_client as client  # lazily: httpx costs cold start

    return client()


def freja_client() -> freja_login.Freja:
    from chalicelib.auth.freja import freja_client as client  # lazily: httpx costs cold start
    from chalicelib.core.errors import ConfigurationError, ServiceUnavailable

    try:
        return client()
    except ConfigurationError:  # the operator has not filled in Freja's secret yet: unavailable, not a 500
        raise ServiceUnavailable("Freja eID går inte att använda just nu.", code="freja-unavailable") from None


def _end_user_ip() -> str:
    identity = (bp.current_request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "127.0.0.1")


@documented(
    bp,
    "/auth/bankid/start",
    "POST",
    summary="Start a BankID login",
    tag=TAG,
    models=MODELS,
    request="StartRequest",
    responses={200: "StartResponse"},
    problems=(409, 429, 503),
)
def start() -> Response:
    from chalicelib.auth import schemas as models

    body = parse_body(bp.current_request, models.StartRequest)
    order = service.start(body.personnummer, _end_user_ip(), bankid=bankid_client(), clock=system_clock)
    return ok(
        models.StartResponse(
            order_ref=order.order_ref, auto_start_token=order.auto_start_token, qr_start_token=order.qr_start_token
        )
    )


@documented(
    bp,
    "/auth/bankid/qr",
    "POST",
    summary="Current animated QR payload",
    tag=TAG,
    models=MODELS,
    request="OrderRequest",
    responses={200: "QrResponse"},
    problems=(404,),
)
def qr() -> Response:
    from chalicelib.auth import schemas as models

    body = parse_body(bp.current_request, models.OrderRequest)
    return ok(models.QrResponse(qr_data=service.qr_data(body.order_ref, clock=system_clock)))


@documented(
    bp,
    "/auth/bankid/collect",
    "POST",
    summary="Collect the BankID order; completes the login",
    tag=TAG,
    models=MODELS,
    request="OrderRequest",
    responses={200: "CollectResponse"},
    problems=(403, 404, 409, 503),
)
def collect() -> Response:
    from chalicelib.auth import schemas as models

    body = parse_body(bp.current_request, models.OrderRequest)
    register = population_register()
    outcome = service.collect(body.order_ref, bankid=bankid_client(), register=register, clock=system_clock)
    return _collected(outcome, register)


def _collected(outcome: service.CollectOutcome, register: PopulationRegister) -> Response:
    """Both e-IDs answer alike (API.md): pending/failed with a hint code, or the session and `me`."""
    from chalicelib.auth import schemas as models

    if outcome.session is None:
        return ok(models.CollectResponse(status=outcome.status, hint_code=outcome.hint_code))  # type: ignore[arg-type]
    principal = service.authenticate(outcome.session.token, clock=system_clock)
    me = profile.me(principal.account, register=register, clock=system_clock)
    return ok(
        models.CollectResponse(
            status="complete",
            session=models.SessionOut(token=outcome.session.token, expires_at=outcome.session.expires_at),
            me=models.Me.model_validate(me),
        )
    )


@documented(
    bp,
    "/auth/bankid/cancel",
    "POST",
    summary="Cancel the BankID order",
    tag=TAG,
    models=MODELS,
    request="OrderRequest",
    responses={204: None},
    problems=(404,),
)
def cancel() -> Response:
    from chalicelib.auth import schemas as models

    body = parse_body(bp.current_request, models.OrderRequest)
    service.cancel(body.order_ref, bankid=bankid_client())
    return ok()


@documented(
    bp,
    "/auth/freja/start",
    "POST",
    summary="Start a Freja eID Plus login (with a personnummer: to that person's app; without: a QR order)",
    tag=TAG,
    models=MODELS,
    request="FrejaStartRequest",
    responses={200: "FrejaStartResponse"},
    problems=(409, 422, 429, 503),
)
def freja_start() -> Response:
    from chalicelib.auth import schemas as models

    body = parse_body(bp.current_request, models.FrejaStartRequest)
    started = freja_login.start(body.personnummer, _end_user_ip(), freja=freja_client(), clock=system_clock)
    return ok(models.FrejaStartResponse(auth_ref=started.auth_ref, qr_code_secret=started.qr_code_secret))


@documented(
    bp,
    "/auth/freja/collect",
    "POST",
    summary="Collect the Freja eID order; completes the login like BankID's collect",
    tag=TAG,
    models=MODELS,
    request="FrejaOrderRequest",
    responses={200: "CollectResponse"},
    problems=(403, 404, 409, 503),
)
def freja_collect() -> Response:
    from chalicelib.auth import schemas as models

    body = parse_body(bp.current_request, models.FrejaOrderRequest)
    register = population_register()
    outcome = freja_login.collect(body.auth_ref, freja=freja_client(), register=register, clock=system_clock)
    return _collected(outcome, register)


@documented(
    bp,
    "/auth/freja/cancel",
    "POST",
    summary="Cancel the Freja eID order",
    tag=TAG,
    models=MODELS,
    request="FrejaOrderRequest",
    responses={204: None},
    problems=(404, 503),
)
def freja_cancel() -> Response:
    from chalicelib.auth import schemas as models

    body = parse_body(bp.current_request, models.FrejaOrderRequest)
    freja_login.cancel(body.auth_ref, freja=freja_client())
    return ok()


@documented(
    bp,
    "/me/lock/start",
    "POST",
    summary="Lock my own account: starts a BankID sign order for the logged-in person",
    tag=TAG,
    models=MODELS,
    responses={200: "StartResponse"},
    security="citizenSession",
    problems=(401, 409, 429, 503),
)
def lock_start() -> Response:
    from chalicelib.auth import schemas as models

    principal = callers.citizen(bp.current_request)
    order = self_lock.start(principal, _end_user_ip(), bankid=bankid_client(), clock=system_clock)
    return ok(
        models.StartResponse(
            order_ref=order.order_ref, auto_start_token=order.auto_start_token, qr_start_token=order.qr_start_token
        )
    )


@documented(
    bp,
    "/me/lock/collect",
    "POST",
    summary="Collect the lock's sign order; on complete the account is locked and every session ends",
    tag=TAG,
    models=MODELS,
    request="OrderRequest",
    responses={200: "LockCollectResponse"},
    security="citizenSession",
    problems=(401, 403, 404, 409, 503),
)
def lock_collect() -> Response:
    from chalicelib.auth import schemas as models

    principal = callers.citizen(bp.current_request)
    body = parse_body(bp.current_request, models.OrderRequest)
    status, hint = self_lock.collect(principal, body.order_ref, bankid=bankid_client(), clock=system_clock)
    return ok(models.LockCollectResponse(status=status, hint_code=hint))  # type: ignore[arg-type]


@documented(
    bp,
    "/auth/logout",
    "POST",
    summary="End the session",
    tag=TAG,
    responses={204: None},
    security="citizenSession",
    problems=(401,),
)
def logout() -> Response:
    principal = service.authenticate(bearer_token(bp.current_request), clock=system_clock)
    service.logout(principal)
    return ok()


@documented(
    bp,
    "/me",
    "GET",
    summary="The logged-in citizen",
    tag=TAG,
    models=MODELS,
    responses={200: "Me"},
    security="citizenSession",
    problems=(401,),
)
def me() -> Response:
    """Answers with the profile dict as it is (shape: `models.Me`, checked by the tests and the schema
    gate), so the hottest authenticated call needs no pydantic."""
    principal = callers.citizen(bp.current_request)
    return ok(profile.me(principal.account, register=population_register(), clock=system_clock))
