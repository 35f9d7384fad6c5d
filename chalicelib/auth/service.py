"""Citizen login with BankID (RP v6) or Freja eID Plus (`freja_login.py`), and the backend's own sessions.

start → (qr)* → collect until complete → a session: an opaque random token, stored hashed with a TTL
and checked together with the account on every request, so logout, lock (R-04) and inactivation end
it at once. The completing collect costs three DynamoDB requests (person lookup, account, one
transaction that touches the account, stores the session and consumes the order: one unit of work,
to which `accounts` adds the account's part).

From "the e-ID says this is personnummer X" on, both e-IDs take one path (`complete_login`): BankID's
risk level is acted on there (high: refused and audited; moderate: allowed and audited), and a BankID
issued after the citizen's own lock lifts that lock (R-08, issue 12).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, Protocol

from chalicelib.accounts import service as accounts
from chalicelib.accounts.models import Account, AccountChanged, AccountExists
from chalicelib.auth import repository
from chalicelib.auth.repository import OrderUsed, SessionStore
from chalicelib.core import dynamo, rate_limit
from chalicelib.core.clock import Clock, epoch_seconds, instant, iso, stockholm_date
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
from chalicelib.core.personal_number import lookup_key
from chalicelib.population.port import PopulationRegister


@dataclass(frozen=True, kw_only=True)
class SessionStores(accounts.AccountStores):
    """The account stores (a login activates or touches the account) and the orders and sessions."""

    sessions: SessionStore


STORES = SessionStores(accounts=accounts.STORES.accounts, audit=accounts.STORES.audit, sessions=repository.DYNAMO)


class BankID(Protocol):
    """The part of pybankid's client this service uses (a fake stands in for unit tests)."""

    def authenticate(self, end_user_ip: str, requirement: dict[str, Any] | None = None) -> Any: ...
    def sign(self, end_user_ip: str, user_visible_data: str, requirement: dict[str, Any] | None = None) -> Any: ...
    def collect(self, order_ref: str) -> Any: ...
    def cancel(self, order_ref: str) -> Any: ...


@dataclass(frozen=True)
class Evidence:
    """What the e-ID told us about this login, beyond the personnummer (kept on the session; audited
    when it matters). Never holds the personnummer itself."""

    provider: Literal["bankid", "freja"]
    risk: str | None = None  # BankID: low | moderate | high (absent: BankID had no assessment)
    bank_id_issue_date: str | None = None  # BankID: when the citizen's BankID was issued (YYYY-MM-DD)
    device_ip: str | None = None
    registration_level: str | None = None  # Freja: PLUS

    def record(self) -> dict[str, str]:
        fields = {
            "provider": self.provider,
            "risk": self.risk,
            "bankIdIssueDate": self.bank_id_issue_date,
            "deviceIp": self.device_ip,
            "registrationLevel": self.registration_level,
        }
        return {k: v for k, v in fields.items() if v}

    @classmethod
    def from_bankid(cls, completion: dict[str, Any]) -> Evidence:
        device = completion.get("device") or {}
        return cls(
            provider="bankid",
            risk=completion.get("risk"),
            bank_id_issue_date=completion.get("bankIdIssueDate"),
            device_ip=device.get("ipAddress"),
        )


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


def bankid_call(call: Any, *args: Any, **kwargs: Any) -> Any:
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
    except ValueError:  # an error answer that is not JSON (a proxy's HTML page)
        logger.warning("bankid unavailable", extra={"error": "non-json answer"})
        raise ServiceUnavailable("BankID svarar inte just nu.", code="bankid-unavailable") from None
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
    order = bankid_call(bankid.authenticate, end_user_ip=end_user_ip, requirement=requirement)
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
    result = bankid_call(bankid.collect, order_ref)
    status = result.get("status")
    if status != "complete":
        if status == "failed":
            stores.sessions.delete_order(order_ref)
        return CollectOutcome(status=status or "pending", hint_code=result.get("hintCode"))

    completion = result["completionData"]
    return complete_login(
        completion["user"]["personalNumber"],
        Evidence.from_bankid(completion),
        order_ref,
        register=register,
        clock=clock,
        stores=stores,
    )


class RiskTooHigh(Forbidden):
    code, title = "login-risk-high", "Inloggningen stoppades"


def complete_login(
    personnummer: str,
    evidence: Evidence,
    order_ref: str,
    *,
    register: PopulationRegister,
    clock: Clock,
    stores: SessionStores = STORES,
) -> CollectOutcome:
    """The one path from "the e-ID says this is personnummer X" to a session (R-01, R-02a, R-04)."""
    provider: repository.Provider = "FREJA" if evidence.provider == "freja" else "BANKID"
    try:
        if evidence.risk == "high":
            _audit_refusal(personnummer, evidence, "login-risk-high", clock, stores)
            raise RiskTooHigh(
                "BankID bedömde inloggningen som riskabel och den stoppades för din säkerhet. "
                "Logga in igen från din egen enhet, eller kontakta din region om det fortsätter."
            )
        plan = accounts.plan_login(
            personnummer, register=register, clock=clock, stores=stores, lifts=lambda lock: _newer_e_id(evidence, lock)
        )
    except Forbidden as refusal:
        stores.sessions.delete_order(order_ref, provider)
        metrics.add_metric(name="LoginRefused", unit="Count", value=1)
        logger.info("login refused", extra={"code": refusal.code, "provider": evidence.provider})
        raise
    session = _open_session(plan, order_ref, clock, stores, evidence=evidence, provider=provider)
    metrics.add_metric(name="FirstLogin" if plan.first_login else "Login", unit="Count", value=1)
    return CollectOutcome(status="complete", session=session, citizen_id=plan.citizen_id, first_login=plan.first_login)


def _newer_e_id(evidence: Evidence, lock: Any) -> bool:
    """A BankID issued after the citizen locked their own account proves a new e-ID in their hands: the
    lock was most likely for a lost or stolen one (issue 12). Freja tells no issue date: never."""
    if evidence.provider != "bankid" or not evidence.bank_id_issue_date:
        return False
    try:
        issued = date.fromisoformat(evidence.bank_id_issue_date)
    except ValueError:
        return False
    locked_on = stockholm_date(instant(lock.locked_at))
    return issued > locked_on


def _audit_refusal(personnummer: str, evidence: Evidence, code: str, clock: Clock, stores: SessionStores) -> None:
    """A refused login the e-ID itself completed, under the citizen (or the keyed person)."""
    from chalicelib.audit.models import AuditEntry, citizen_subject, person_subject

    citizen_id = stores.accounts.find_citizen_id(lookup_key(personnummer))
    subject = citizen_subject(citizen_id) if citizen_id else person_subject(lookup_key(personnummer))
    stores.audit.append_now(
        AuditEntry(
            subject=subject,
            action="login.refused",
            actor_kind="citizen",
            actor=citizen_id or "unknown",
            at=clock(),
            outcome=code,
            details=evidence.record(),
        )
    )


def _open_session(
    plan: accounts.LoginPlan,
    order_ref: str,
    clock: Clock,
    stores: SessionStores,
    *,
    evidence: Evidence,
    provider: repository.Provider,
) -> Session:
    """One transaction: the account's touch (or creation), the session, and the consumed order; an
    unusual login (moderate risk) is audited in it too."""
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
        evidence=evidence.record(),
    )
    if evidence.risk == "moderate":
        from chalicelib.audit.models import AuditEntry, citizen_subject

        stores.audit.append(
            uow,
            AuditEntry(
                subject=citizen_subject(plan.citizen_id),
                action="login.risk-moderate",
                actor_kind="citizen",
                actor=plan.citizen_id,
                at=now,
                details=evidence.record(),
            ),
        )
    stores.sessions.consume_order(uow, order_ref, epoch_seconds(now), provider=provider)
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
    bankid_call(bankid.cancel, order_ref)
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
