"""Account lifecycle: activation at first login (R-01), login checks (R-02a, R-04), activation in proxy
mode by a guardian (R-30) and inactivation of the deceased. The support desk's changes (lock, unlock,
sealing) are in `chalicelib.support`.

Every change commits together with its audit entry in one unit of work, guarded by the account's
version; the login's touch commits with the session (`auth`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from chalicelib.accounts import repository
from chalicelib.accounts.models import PROXY_AGE_LIMIT, Account, AccountExists, Lock
from chalicelib.accounts.repository import AccountRepository
from chalicelib.audit import repository as audit_repo
from chalicelib.audit.models import AuditEntry, citizen_subject
from chalicelib.audit.repository import AuditLog
from chalicelib.core import dynamo
from chalicelib.core.clock import Clock, instant, iso, stockholm_date
from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.errors import Forbidden, NotFound, Problem
from chalicelib.core.ids import new_id
from chalicelib.core.personal_number import lookup_key, parse
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.population.models import Person
from chalicelib.population.port import PopulationRegister

LOCKED_TITLE = "Inloggningen är låst"
NewUow = Callable[[], UnitOfWork]


@dataclass(frozen=True, kw_only=True)
class AccountStores:
    """The stores the account lifecycle uses (DynamoDB by default; in-memory twins in unit tests).
    The capabilities above extend it with their own (`SettingsStores`, `SessionStores`, ...), so that
    one bundle serves them and the account reads they make."""

    accounts: AccountRepository
    audit: AuditLog
    new_uow: NewUow = UnitOfWork


STORES = AccountStores(accounts=repository.DYNAMO, audit=audit_repo.DYNAMO)


class AccountLocked(Forbidden):
    code, title = "account-locked", LOCKED_TITLE


class NoAccount(NotFound):
    code, title = "no-account", "Kontot finns inte"


@dataclass(frozen=True)
class LoginPlan:
    """What a completed e-ID login will commit (`add_login`), joined by the session (`auth`)."""

    account: Account  # as read, or as it is to be created
    lookup_key: str
    at: str
    first_login: bool
    new: bool
    lifts_lock: bool = False  # the citizen's own lock goes with this login (a newer e-ID, issue 12)

    @property
    def citizen_id(self) -> str:
        return self.account.citizen_id

    @property
    def session_epoch(self) -> int:
        return self.account.session_epoch


# ---------------------------------------------------------------- login


def plan_login(
    personnummer: str,
    *,
    register: PopulationRegister,
    clock: Clock,
    stores: AccountStores = STORES,
    lifts: Callable[[Lock], bool] | None = None,
) -> LoginPlan:
    """Checks a person who has just proven their identity, and plans activation or the login touch.
    `lifts(lock)` says whether this login's proof lifts the account's lock (R-08, issue 12)."""
    number = parse(personnummer)
    if number.coordination:
        raise Forbidden(
            "Du behöver ett svenskt personnummer för att logga in i e-tjänsterna. "
            "Med samordningsnummer går det inte att logga in.",
            code="coordination-number",
            title="Inloggningen kunde inte genomföras",
        )
    person = register.find(personnummer)
    if person is None:
        raise Forbidden(
            "Vi hittar dig inte i folkbokföringen. Kontakta Skatteverket eller din region.",
            code="not-in-population-register",
            title="Inloggningen kunde inte genomföras",
        )
    key = lookup_key(personnummer)
    citizen_id = stores.accounts.find_citizen_id(key)
    now = clock()
    if person.deceased:
        if citizen_id:
            inactivate_deceased(citizen_id, clock, stores=stores)
        raise Forbidden(
            "Enligt folkbokföringen är personen avliden. Kontot är inaktiverat.",
            code="deceased",
            title="Inloggningen kunde inte genomföras",
        )
    if citizen_id is None:
        # activation is consent to digital communication
        account = _new_account(personnummer, now, activated_by="self", first_login_at=iso(now))
        return LoginPlan(account, key, iso(now), first_login=True, new=True)
    existing = stores.accounts.get(citizen_id)
    if existing is None:  # the lookup and the account are written together; this is corruption
        raise Problem("Kontot kunde inte läsas.", code="account-inconsistent", status=500)
    account = existing
    if not account.active:
        raise Forbidden(
            "Kontot är inaktiverat.", code="account-inactivated", title="Inloggningen kunde inte genomföras"
        )
    if account.lock is not None:
        if account.lock.requested_by == "citizen" and lifts is not None and lifts(account.lock):
            return LoginPlan(
                account, key, iso(now), first_login=account.first_login_at is None, new=False, lifts_lock=True
            )
        raise AccountLocked(_locked_detail(account))
    return LoginPlan(account, key, iso(now), first_login=account.first_login_at is None, new=False)


def add_login(uow: UnitOfWork, plan: LoginPlan, *, stores: AccountStores = STORES) -> None:
    """The account's part of the login transaction: its creation, or the touch that fails when a lock
    came in between (`AccountExists` / `AccountChanged` on commit)."""
    if plan.new:
        stores.accounts.add(uow, plan.account, plan.lookup_key)
    elif plan.lifts_lock:
        lock = plan.account.lock
        assert lock is not None
        stores.accounts.lift_lock_at_login(uow, plan.account, at=plan.at)
        stores.audit.append(
            uow,
            AuditEntry(
                subject=citizen_subject(plan.citizen_id),
                action="account.unlock",
                actor_kind="citizen",
                actor=plan.citizen_id,
                at=instant(plan.at),
                details={"channel": "newer-e-id", "lockedAt": lock.locked_at, "lockChannel": lock.channel},
            ),
        )
    else:
        stores.accounts.touch_login(uow, plan.account, at=plan.at)


def lock_by_citizen(uow: UnitOfWork, account: Account, *, at: datetime, stores: AccountStores = STORES) -> Account:
    """The citizen's own emergency lock (issue 12; R-03a without the paper form): every session ends at
    once (the epoch moves on) and the lock records who and how. Joins the caller's unit of work."""
    if account.lock is not None:
        raise AccountLocked(_locked_detail(account))
    lock = Lock(
        requested_by="citizen",
        requester="citizen",
        region="",
        form_ref="",
        ticket_ref="",
        actor=account.citizen_id,
        locked_at=iso(at),
        channel="self-service",
    )
    locked = replace(account, lock=lock, unlock_decision=None, session_epoch=account.session_epoch + 1)
    stores.accounts.update(uow, locked, expected_version=account.version)
    stores.audit.append(
        uow,
        AuditEntry(
            subject=citizen_subject(account.citizen_id),
            action="account.lock",
            actor_kind="citizen",
            actor=account.citizen_id,
            at=at,
            details={"requestedBy": "citizen", "channel": "self-service"},
        ),
    )
    return replace(locked, version=account.version + 1)


def _new_account(
    personnummer: str, now: datetime, *, activated_by: Literal["self", "guardian"], first_login_at: str | None
) -> Account:
    thirteen = parse(personnummer).turns(PROXY_AGE_LIMIT)
    return Account(
        citizen_id=new_id(),
        personnummer=personnummer,
        status="active",
        activated_at=iso(now),
        activated_by=activated_by,
        first_login_at=first_login_at,
        session_epoch=0,
        version=1,
        # a child's account waits in the birthday index for its 13th birthday's reset.
        thirteen_on=thirteen.isoformat() if stockholm_date(now) < thirteen else None,
    )


def _locked_detail(account: Account) -> str:
    if account.lock and account.lock.requested_by == "care":
        return "Din inloggning är låst på vårdens begäran. Kontakta din region för att begära upplåsning."
    return "Din inloggning är låst på din egen begäran. Följ instruktionerna på 1177 för att låsa upp."


def inactivate_deceased(citizen_id: str, clock: Clock, *, stores: AccountStores = STORES) -> None:
    """The account of a person the register says has died: inactivated, every session ended, audited. Once;
    an account already inactive is left as it is."""
    account = stores.accounts.get(citizen_id)
    if account is None or not account.active:
        return
    now = clock()
    uow = stores.new_uow()
    stores.accounts.update(
        uow,
        replace(
            account,
            status="inactivated",
            inactivated_at=iso(now),
            session_epoch=account.session_epoch + 1,
            version=account.version + 1,
        ),
        expected_version=account.version,
    )
    stores.audit.append(
        uow,
        AuditEntry(
            subject=citizen_subject(citizen_id),
            action="account.inactivate",
            actor_kind="system",
            actor="population-register",
            at=now,
            details={"reason": "deceased"},
        ),
    )
    # A concurrent change wins; the next login attempt inactivates the account then.
    with contextlib.suppress(VersionConflict, dynamo.TransactionConflict):
        uow.commit()


# ---------------------------------------------------------------- reads


def get(citizen_id: str, *, stores: AccountStores = STORES) -> Account | None:
    return stores.accounts.get(citizen_id)


def get_many(citizen_ids: list[str], *, stores: AccountStores = STORES) -> dict[str, Account]:
    return stores.accounts.get_many(citizen_ids)


def citizen_ids_for(personnummers: list[str], *, stores: AccountStores = STORES) -> dict[str, str]:
    """personnummer → citizen id, for those who have an account."""
    keys = {lookup_key(p): p for p in personnummers}
    found = stores.accounts.find_citizen_ids(keys)
    return {keys[k]: cid for k, cid in found.items()}


def find_by_personnummer(personnummer: str, *, stores: AccountStores = STORES) -> Account | None:
    citizen_id = stores.accounts.find_citizen_id(lookup_key(personnummer))
    return stores.accounts.get(citizen_id) if citizen_id else None


def is_record_sealed(citizen_id: str, *, stores: AccountStores = STORES) -> bool:
    """R-09: the record service must refuse to show a sealed record."""
    account = stores.accounts.get(citizen_id)
    return bool(account and account.record_sealed)


def activate_by_guardian(
    child: Person,
    guardian_citizen_id: str,
    clock: Clock,
    *,
    stores: AccountStores = STORES,
) -> str:
    """R-30: a guardian activates a child's account in proxy mode. Returns the child's citizen id."""
    key = lookup_key(child.personnummer)
    now = clock()
    # The child has not consented yet; that happens at their own first login.
    account = _new_account(child.personnummer, now, activated_by="guardian", first_login_at=None)
    uow = stores.new_uow()
    stores.accounts.add(uow, account, key, activated_by=guardian_citizen_id)
    stores.audit.append(
        uow,
        AuditEntry(
            subject=citizen_subject(account.citizen_id),
            action="account.activate-proxy",
            actor_kind="citizen",
            actor=guardian_citizen_id,
            at=now,
        ),
    )
    try:
        uow.commit()
    except AccountExists:
        existing = stores.accounts.find_citizen_id(key)  # activated concurrently
        if existing:
            return existing
        raise
    return account.citizen_id
