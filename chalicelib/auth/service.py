"""Citizen login with BankID (RP v6) and the backend's own sessions.

start → (qr)* → collect until complete → a session: an opaque random token, stored hashed with a TTL
and checked together with the account on every request, so logout, lock (R-04) and inactivation end
it at once. The completing collect costs three DynamoDB requests (person lookup, account, one
transaction that touches the account, stores the session and consumes the order: one unit of work,
to which `accounts` adds the account's part).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from chalicelib.accounts import service as accounts
from chalicelib.accounts.models import Account, AccountChanged, AccountExists
from chalicelib.auth import repository
from chalicelib.auth.repository import OrderUsed, SessionStore
from chalicelib.core import dynamo, rate_limit
from chalicelib.core.clock import Clock, epoch_seconds, iso
from chalicelib.core.config import settings
from chalicelib.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
)
from chalicelib.core.ids import new_token, token_digest
from chalicelib.core.observability import logger, metrics
from chalicelib.population.port import PopulationRegister


@dataclass(frozen=True, kw_only=True)
class SessionStores(accounts.AccountStores):
    """The account stores (a login activates or touches the account) and the orders and sessions."""

    sessions: SessionStore


STORES = SessionStores(accounts=accounts.STORES.accounts, audit=accounts.STORES.audit, sessions=repository.DYNAMO)


class BankID(Protocol):
    """The part of pybankid's client this service uses (a fake stands in for unit tests)."""

    def authenticate(self, end_user_ip: str, requirement: dict[str, Any] | None = None) -> Any: ...
    def collect(self, order_ref: str) -> Any: ...
    def cancel(self, order_ref: str) -> Any: ...


@dataclass(frozen=True)
class StartedOrder:
    order_ref: str
    auto_start_token: str
    qr_start_token: str


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: str


@dataclass(frozen=True)
class CollectOutcome:
    status: str  # pending | failed | complete
    hint_code: str | None = None
    session: Session | None = None
    citizen_id: str | None = None
    first_login: bool = False


@dataclass(frozen=True)
class Principal:
    """An authenticated citizen."""

    citizen_id: str
    account: Account
    session_digest: str = field(repr=False)


def _bankid_call(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Maps BankID's errors to problems the app can show; never leaks BankID's raw details."""
    from bankid import exceptions as bankid_errors

    try:
        return call(*args, **kwargs)
    except bankid_errors.NotFoundError:
        raise NotFound("Inloggningen finns inte eller har gått ut. Starta om.", code="order-not-found") from None
    except bankid_errors.AlreadyInProgressError:
        raise Conflict(
            "En inloggning pågår redan för det här personnumret. Försök igen.", code="already-in-progress"
        ) from None
    except bankid_errors.InvalidParametersError:
        raise InvalidInput("BankID godtog inte uppgifterna.", code="bankid-invalid-parameters") from None
    except (bankid_errors.BankIDError, OSError) as error:
        logger.warning("bankid unavailable", extra={"error": type(error).__name__})
        raise ServiceUnavailable(
            "BankID svarar inte just nu. Försök igen om en stund.", code="bankid-unavailable"
        ) from None
    except Exception as error:  # httpx transport errors
        if type(error).__module__.startswith("httpx"):
            logger.warning("bankid unreachable", extra={"error": type(error).__name__})
            raise ServiceUnavailable("BankID svarar inte just nu.", code="bankid-unavailable") from None
        raise


# Starts per client address and per personnummer (issue 7): BankID allows one order per person and a
# second start cancels the first, so unlimited starts with someone's personnummer would keep that person
# out. The QR/autostart flow (no personnummer) is what the app should use: nobody can cancel it.
ADDRESS_WINDOW_S = 60
PERSON_WINDOW_S = 300


def start_limits(personnummer: str | None, end_user_ip: str) -> list[rate_limit.Limit]:
    config = settings()
    limits = [
        rate_limit.Limit("auth-start-address", end_user_ip, config.auth_start_limit_per_address, ADDRESS_WINDOW_S)
    ]
    if personnummer:
        limits.append(
            rate_limit.Limit("auth-start-person", personnummer, config.auth_start_limit_per_person, PERSON_WINDOW_S)
        )
    return limits


def start(
    personnummer: str | None, end_user_ip: str, *, bankid: BankID, clock: Clock, stores: SessionStores = STORES
) -> StartedOrder:
    rate_limit.consume(start_limits(personnummer, end_user_ip), clock())
    requirement = {"personalNumber": personnummer} if personnummer else None
    order = _bankid_call(bankid.authenticate, end_user_ip=end_user_ip, requirement=requirement)
    now = clock()
    stores.sessions.put_order(
        order["orderRef"],
        order["qrStartToken"],
        order["qrStartSecret"],
        started_at=now.timestamp(),
        expires_at=epoch_seconds(now) + settings().bankid_order_ttl_seconds,
    )
    return StartedOrder(order["orderRef"], order["autoStartToken"], order["qrStartToken"])


def qr_data(order_ref: str, *, clock: Clock, stores: SessionStores = STORES) -> str:
    from bankid.qr import generate_qr_code_content

    order = stores.sessions.get_order(order_ref)
    if not dynamo.is_live(order, epoch_seconds(clock())) or order is None:
        raise NotFound("Inloggningen finns inte eller har gått ut. Starta om.", code="order-not-found")
    # pybankid counts seconds from its own clock; hand it the start as seen by ours.
    elapsed = clock().timestamp() - float(order["startedAt"])
    return generate_qr_code_content(order["qrStartToken"], time.time() - elapsed, order["qrStartSecret"])


def collect(
    order_ref: str,
    *,
    bankid: BankID,
    register: PopulationRegister,
    clock: Clock,
    stores: SessionStores = STORES,
) -> CollectOutcome:
    result = _bankid_call(bankid.collect, order_ref)
    status = result.get("status")
    if status != "complete":
        if status == "failed":
            stores.sessions.delete_order(order_ref)
        return CollectOutcome(status=status or "pending", hint_code=result.get("hintCode"))

    personnummer = result["completionData"]["user"]["personalNumber"]
    try:
        plan = accounts.plan_login(personnummer, register=register, clock=clock, stores=stores)
    except Forbidden as refusal:
        stores.sessions.delete_order(order_ref)
        metrics.add_metric(name="LoginRefused", unit="Count", value=1)
        logger.info("login refused", extra={"code": refusal.code})
        raise
    session = _open_session(plan, order_ref, clock, stores)
    metrics.add_metric(name="FirstLogin" if plan.first_login else "Login", unit="Count", value=1)
    return CollectOutcome(status="complete", session=session, citizen_id=plan.citizen_id, first_login=plan.first_login)


def _open_session(plan: accounts.LoginPlan, order_ref: str, clock: Clock, stores: SessionStores) -> Session:
    """One transaction: the account's touch (or creation), the session, and the consumed order."""
    now = clock()
    secret = new_token()
    token = f"{plan.citizen_id}.{secret}"
    expires = now + timedelta(seconds=settings().session_ttl_seconds)
    uow = stores.new_uow()
    accounts.add_login(uow, plan, stores=stores)
    stores.sessions.add_session(
        uow,
        plan.citizen_id,
        token_digest(token),
        epoch=plan.session_epoch,
        created_at=iso(now),
        expires_at=epoch_seconds(expires),
    )
    stores.sessions.consume_order(uow, order_ref, epoch_seconds(now))
    try:
        uow.commit()
    except OrderUsed:
        raise Conflict("Inloggningen är redan använd. Starta om.", code="order-already-used") from None
    except (AccountChanged, AccountExists, dynamo.TransactionConflict):
        # The account changed between the check and the commit: most likely a lock.
        raise Forbidden(
            "Inloggningen kunde inte slutföras. Försök igen.", code="account-locked", title=accounts.LOCKED_TITLE
        ) from None
    return Session(token=token, expires_at=iso(expires))


def cancel(order_ref: str, *, bankid: BankID, stores: SessionStores = STORES) -> None:
    _bankid_call(bankid.cancel, order_ref)
    stores.sessions.delete_order(order_ref)


def _split(token: str) -> tuple[str, str]:
    citizen_id, dot, secret = token.partition(".")
    if not dot or not citizen_id or not secret or len(citizen_id) > 64:
        raise Unauthenticated("Sessionen är ogiltig. Logga in igen.", code="session-invalid")
    return citizen_id, token_digest(token)


def authenticate(token: str, *, clock: Clock, stores: SessionStores = STORES) -> Principal:
    """The citizen behind a bearer token, or 401: unknown, expired, logged out, locked or inactivated."""
    citizen_id, digest = _split(token)
    session, account = stores.sessions.get_session_with_account(citizen_id, digest)
    if not dynamo.is_live(session, epoch_seconds(clock())) or session is None or account is None:
        raise Unauthenticated("Sessionen har gått ut. Logga in igen.", code="session-invalid")
    if account.locked:
        raise Unauthenticated(accounts.LOCKED_TITLE + ".", code="account-locked")
    if not account.active or int(session["epoch"]) != account.session_epoch:
        raise Unauthenticated("Sessionen har avslutats. Logga in igen.", code="session-ended")
    return Principal(citizen_id=citizen_id, account=account, session_digest=digest)


def logout(principal: Principal, *, stores: SessionStores = STORES) -> None:
    stores.sessions.delete_session(principal.citizen_id, principal.session_digest)
