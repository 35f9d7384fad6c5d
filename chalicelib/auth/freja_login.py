"""Login with Freja eID Plus (seed 002): start → collect until APPROVED → the same session path as
BankID (`service.complete_login`).

Freja's result is trusted only after its JWS verifies against Freja's signing certificates (picked by
`x5t`, `freja.py`); a result that does not verify, or a registration level below PLUS, is refused and
audited. Orders are kept like BankID's (`FREJA#<authRef>`), consumed by the session they make."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.auth import service
from chalicelib.auth.service import STORES, CollectOutcome, Evidence, SessionStores
from chalicelib.core import rate_limit
from chalicelib.core.clock import Clock, epoch_seconds
from chalicelib.core.config import settings
from chalicelib.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from chalicelib.core.observability import logger, metrics
from chalicelib.core.personal_number import lookup_key

if TYPE_CHECKING:
    from chalicelib.auth.freja import FrejaResult, FrejaStarted
    from chalicelib.population.port import PopulationRegister

# Freja's statuses as the app sees them, with BankID-like hint codes (API.md: same answers as BankID).
PENDING_HINTS = {"STARTED": "outstandingTransaction", "DELIVERED_TO_MOBILE": "userSign"}
FAILED_HINTS = {
    "REJECTED": "rejected",
    "EXPIRED": "expiredTransaction",
    "CANCELED": "userCancel",
    "RP_CANCELED": "cancelled",
}
LEVELS = ("BASIC", "EXTENDED", "PLUS")


class Freja(Protocol):
    def init(self, personnummer: str | None) -> FrejaStarted: ...
    def result(self, auth_ref: str) -> FrejaResult: ...
    def cancel(self, auth_ref: str) -> None: ...


class UntrustedResult(Forbidden):
    code, title = "eid-result-untrusted", "Inloggningen kunde inte genomföras"


class RegistrationLevelTooLow(Forbidden):
    code, title = "freja-registration-level", "Inloggningen kunde inte genomföras"


def _call(call: Any, *args: Any) -> Any:
    """Freja's errors as problems the app can show; never Freja's raw details."""
    from chalicelib.auth.freja import FrejaError, FrejaUnavailable

    try:
        return call(*args)
    except FrejaError as error:
        if error.code == 1100:
            raise NotFound("Inloggningen finns inte eller har gått ut. Starta om.", code="order-not-found") from None
        if error.code in (1002, 1012):
            raise InvalidInput("Freja eID godtog inte uppgifterna.", code="freja-invalid-user") from None
        if error.code == 2000:
            raise Forbidden("Freja eID stoppade inloggningen av säkerhetsskäl.", code="freja-rejected") from None
        logger.warning("freja error", extra={"code": error.code})
        raise ServiceUnavailable(
            "Freja eID svarar inte just nu. Försök igen om en stund.", code="freja-unavailable"
        ) from None
    except FrejaUnavailable:
        logger.warning("freja unavailable")
        raise ServiceUnavailable(
            "Freja eID svarar inte just nu. Försök igen om en stund.", code="freja-unavailable"
        ) from None


def start(
    personnummer: str | None, end_user_ip: str, *, freja: Freja, clock: Clock, stores: SessionStores = STORES
) -> FrejaStarted:
    """An SSN order pushed to the person's phone, or (no personnummer) a QR order for whoever scans it.
    The same start limits as BankID's."""
    rate_limit.consume(service.start_limits(personnummer, end_user_ip), clock())
    started: FrejaStarted = _call(freja.init, personnummer)
    now = clock()
    stores.sessions.put_order(
        started.auth_ref,
        "",
        started.qr_code_secret or "",
        started_at=now.timestamp(),
        expires_at=epoch_seconds(now) + settings().bankid_order_ttl_seconds,
        provider="FREJA",
        # Freja's answer names whoever approved: it must be the person the order was started for.
        person_key=lookup_key(personnummer) if personnummer else None,
    )
    return started


def collect(
    auth_ref: str, *, freja: Freja, register: PopulationRegister, clock: Clock, stores: SessionStores = STORES
) -> CollectOutcome:
    from chalicelib.auth.freja import FrejaUntrusted

    try:
        result: FrejaResult = _call(freja.result, auth_ref)
    except FrejaUntrusted as untrusted:
        if stores.sessions.get_order(auth_ref, "FREJA") is None:  # refused (and audited) already
            raise _used() from None
        stores.sessions.delete_order(auth_ref, "FREJA")
        _audit(untrusted.reason, auth_ref, clock, stores)
        raise UntrustedResult("Svaret från Freja eID kunde inte kontrolleras. Försök igen.") from None
    if result.status in PENDING_HINTS:
        return CollectOutcome(status="pending", hint_code=PENDING_HINTS[result.status])
    if result.status != "APPROVED":
        stores.sessions.delete_order(auth_ref, "FREJA")
        return CollectOutcome(status="failed", hint_code=FAILED_HINTS.get(result.status, "failed"))
    level = result.registration_level or ""
    if level not in LEVELS or LEVELS.index(level) < LEVELS.index("PLUS") or not result.personnummer:
        stores.sessions.delete_order(auth_ref, "FREJA")
        _audit(f"registration-level-{level.lower() or 'missing'}", auth_ref, clock, stores, result=result)
        raise RegistrationLevelTooLow(
            "Du behöver Freja eID Plus för att logga in i e-tjänsterna. Uppgradera din Freja eID och försök igen."
        )
    order = stores.sessions.get_order(auth_ref, "FREJA")
    if order is None:  # used by an earlier collect, or never started here
        raise _used()
    if order.get("personKey", lookup_key(result.personnummer)) != lookup_key(result.personnummer):
        stores.sessions.delete_order(auth_ref, "FREJA")
        _audit("another-person", auth_ref, clock, stores)
        raise UntrustedResult("Inloggningen godkändes av någon annan än den som startade den. Försök igen.")
    metrics.add_metric(name="FrejaLogin", unit="Count", value=1)
    return service.complete_login(
        result.personnummer,
        Evidence(provider="freja", registration_level=level),
        auth_ref,
        register=register,
        clock=clock,
        stores=stores,
    )


def _used() -> Conflict:
    return Conflict("Inloggningen är redan använd eller har gått ut. Starta om.", code="order-already-used")


def _audit(reason: str, auth_ref: str, clock: Clock, stores: SessionStores, result: FrejaResult | None = None) -> None:
    """A refused Freja result: under the person when the (verified) result named one, else under the
    order: an unverified result's personnummer is never trusted, not even for the audit."""
    from chalicelib.audit.models import AuditEntry, citizen_subject, person_subject

    subject, actor = f"EID#FREJA#{auth_ref}", "unknown"
    if result is not None and result.personnummer:
        key = lookup_key(result.personnummer)
        citizen_id = stores.accounts.find_citizen_id(key)
        subject = citizen_subject(citizen_id) if citizen_id else person_subject(key)
        actor = citizen_id or "unknown"
    metrics.add_metric(name="LoginRefused", unit="Count", value=1)
    logger.info("freja result refused", extra={"reason": reason})
    stores.audit.append_now(
        AuditEntry(
            subject=subject,
            action="login.refused",
            actor_kind="citizen",
            actor=actor,
            at=clock(),
            outcome=reason,
            details={"provider": "freja", "authRef": auth_ref},
        )
    )


def cancel(auth_ref: str, *, freja: Freja, stores: SessionStores = STORES) -> None:
    _call(freja.cancel, auth_ref)
    stores.sessions.delete_order(auth_ref, "FREJA")
