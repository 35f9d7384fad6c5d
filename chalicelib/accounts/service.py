"""Account lifecycle: activation at first login (R-01), login checks (R-02a, R-04), lock (R-03, R-05),
unlock with the head of unit's decision (R-08), sealing (R-09) and inactivation of the deceased.

Every lifecycle change commits together with its audit entry (and, where the citizen must be told,
their inbox message) in one transaction, guarded by the account's version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.accounts import repository
from chalicelib.accounts.models import Account, Lock, LockRequester, UnlockDecision
from chalicelib.audit import service as audit
from chalicelib.core import dynamo
from chalicelib.core.clock import Clock, iso
from chalicelib.core.errors import Conflict, Forbidden, NotFound, Problem
from chalicelib.core.ids import new_id
from chalicelib.core.personal_number import lookup_key, parse
from chalicelib.inbox import service as inbox
from chalicelib.population.models import Person
from chalicelib.population.port import PopulationRegister

SENDER = "1177 e-tjänster"
LOCKED_TITLE = "Inloggningen är låst"


class AccountLocked(Forbidden):
    code, title = "account-locked", LOCKED_TITLE


@dataclass(frozen=True)
class SupportRequest:
    """Who at the support desk acts, for which region, under which ticket (R-03, R-15)."""

    ticket_ref: str
    region: str
    actor: str


@dataclass(frozen=True)
class LoginPlan:
    """What a completed e-ID login will commit: the account's actions, joined by the session's."""

    citizen_id: str
    session_epoch: int
    actions: list[dict[str, Any]]
    first_login: bool


# ---------------------------------------------------------------- login


def plan_login(personnummer: str, *, register: PopulationRegister, clock: Clock) -> LoginPlan:
    """Checks a person who has just proven their identity, and plans activation or the login touch."""
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
    citizen_id = repository.find_citizen_id(key)
    now = clock()
    if person.deceased:
        if citizen_id:
            _inactivate(citizen_id, clock)
        raise Forbidden(
            "Enligt folkbokföringen är personen avliden. Kontot är inaktiverat.",
            code="deceased",
            title="Inloggningen kunde inte genomföras",
        )
    if citizen_id is None:
        account = Account(
            citizen_id=new_id(),
            personnummer=personnummer,
            status="active",
            activated_at=iso(now),
            activated_by="self",
            first_login_at=iso(now),  # activation is consent to digital communication
            session_epoch=0,
            version=1,
        )
        return LoginPlan(account.citizen_id, 0, repository.create_actions(account, key), first_login=True)
    existing = repository.get_account(citizen_id)
    if existing is None:  # the lookup and the account are written together; this is corruption
        raise Problem("Kontot kunde inte läsas.", code="account-inconsistent", status=500)
    account = existing
    if not account.active:
        raise Forbidden(
            "Kontot är inaktiverat.", code="account-inactivated", title="Inloggningen kunde inte genomföras"
        )
    if account.locked:
        raise AccountLocked(_locked_detail(account))
    return LoginPlan(
        citizen_id,
        account.session_epoch,
        [repository.login_action(citizen_id, iso(now), account.session_epoch)],
        first_login=account.first_login_at is None,
    )


def _locked_detail(account: Account) -> str:
    if account.lock and account.lock.requested_by == "care":
        return "Din inloggning är låst på vårdens begäran. Kontakta din region för att begära upplåsning."
    return "Din inloggning är låst på din egen begäran. Följ instruktionerna på 1177 för att låsa upp."


def _inactivate(citizen_id: str, clock: Clock) -> None:
    account = repository.get_account(citizen_id)
    if account is None or not account.active:
        return
    now = clock()
    # A concurrent change wins; the next login attempt inactivates the account then.
    with contextlib.suppress(dynamo.TransactionConflict):
        dynamo.transact_write(
            [
                repository.versioned_update_action(
                    citizen_id,
                    account.version,
                    set_values={"status": "inactivated", "inactivatedAt": iso(now)},
                    bump_epoch=True,
                ),
                audit.append_action(
                    audit.AuditEntry(
                        subject=audit.citizen_subject(citizen_id),
                        action="account.inactivate",
                        actor_kind="system",
                        actor="population-register",
                        at=now,
                        details={"reason": "deceased"},
                    )
                ),
            ]
        )


# ---------------------------------------------------------------- reads


def get(citizen_id: str) -> Account | None:
    return repository.get_account(citizen_id)


def get_many(citizen_ids: list[str]) -> dict[str, Account]:
    return repository.get_accounts(citizen_ids)


def citizen_ids_for(personnummers: list[str]) -> dict[str, str]:
    """personnummer → citizen id, for those who have an account."""
    keys = {lookup_key(p): p for p in personnummers}
    found = repository.find_citizen_ids(keys)
    return {keys[k]: cid for k, cid in found.items()}


def find_by_personnummer(personnummer: str) -> Account | None:
    citizen_id = repository.find_citizen_id(lookup_key(personnummer))
    return repository.get_account(citizen_id) if citizen_id else None


def is_record_sealed(citizen_id: str) -> bool:
    """R-09: the record service must refuse to show a sealed record."""
    account = repository.get_account(citizen_id)
    return bool(account and account.record_sealed)


def activate_by_guardian(child: Person, guardian_citizen_id: str, clock: Clock) -> str:
    """R-30: a guardian activates a child's account in proxy mode. Returns the child's citizen id."""
    key = lookup_key(child.personnummer)
    now = clock()
    account = Account(
        citizen_id=new_id(),
        personnummer=child.personnummer,
        status="active",
        activated_at=iso(now),
        activated_by="guardian",
        first_login_at=None,  # the child has not consented yet; that happens at their own first login
        session_epoch=0,
        version=1,
    )
    actions = repository.create_actions(account, key, extra={"activatedByCitizenId": guardian_citizen_id})
    actions.append(
        audit.append_action(
            audit.AuditEntry(
                subject=audit.citizen_subject(account.citizen_id),
                action="account.activate-proxy",
                actor_kind="citizen",
                actor=guardian_citizen_id,
                at=now,
            )
        )
    )
    try:
        dynamo.transact_write(actions)
    except dynamo.TransactionConflict:
        existing = repository.find_citizen_id(key)  # activated concurrently
        if existing:
            return existing
        raise
    return account.citizen_id


# ---------------------------------------------------------------- support desk


class NoAccount(NotFound):
    code, title = "no-account", "Kontot finns inte"


def _account_for(personnummer: str) -> tuple[str, Account]:
    key = lookup_key(personnummer)
    citizen_id = repository.find_citizen_id(key)
    account = repository.get_account(citizen_id) if citizen_id else None
    if account is None:
        raise NoAccount(
            "Personen har aldrig loggat in i e-tjänsterna. Bara befintliga konton kan låsas; "
            "nya användare kan inte spärras i förväg."
        )
    return key, account


def _refuse(subject: str, action: str, request: SupportRequest, problem: Problem, clock: Clock) -> None:
    audit.support_desk_refusal(
        subject,
        action,
        actor=request.actor,
        ticket_ref=request.ticket_ref,
        region=request.region,
        code=problem.code,
        at=clock(),
    )


class AlreadyDone(Exception):
    """The account is already as the request asks, by this same request (a retried console event):
    nothing is written, not even a second audit entry or inbox message."""


Decide = Callable[[Account], tuple[dict[str, Any], list[str], bool, list[dict[str, Any]], dict[str, Any]]]
"""Given the current account: (values to set, attributes to remove, bump session epoch, extra
transaction actions, audit details) — or raise a Problem to refuse."""


def _change(personnummer: str, action: str, request: SupportRequest, clock: Clock, decide: Decide) -> Account:
    """Read, decide, and commit with the audit entry; retried when the account changed meanwhile."""
    try:
        _key, account = _account_for(personnummer)
    except NoAccount as problem:
        _refuse(audit.person_subject(lookup_key(personnummer)), action, request, problem, clock)
        raise
    for _ in range(3):
        try:
            set_values, remove, bump_epoch, extra, details = decide(account)
        except AlreadyDone:
            return account
        except Problem as problem:
            _refuse(audit.citizen_subject(account.citizen_id), action, request, problem, clock)
            raise
        entry = audit.AuditEntry(
            subject=audit.citizen_subject(account.citizen_id),
            action=action,
            actor_kind="support-desk",
            actor=request.actor,
            at=clock(),
            ticket_ref=request.ticket_ref,
            region=request.region,
            details=details,
        )
        try:
            dynamo.transact_write(
                [
                    repository.versioned_update_action(
                        account.citizen_id,
                        account.version,
                        set_values=set_values,
                        remove=remove,
                        bump_epoch=bump_epoch,
                    ),
                    audit.append_action(entry),
                    *extra,
                ]
            )
        except dynamo.TransactionConflict as conflict:
            if not conflict.failed(0):
                raise
            _, account = _account_for(personnummer)
            continue
        return repository.get_account(account.citizen_id) or account
    raise Conflict("Kontot ändrades samtidigt av någon annan. Försök igen.", code="concurrent-change")


def lock(
    personnummer: str,
    *,
    requested_by: LockRequester,
    requester: str,
    form_ref: str,
    request: SupportRequest,
    clock: Clock,
) -> Account:
    """R-03/R-04/R-05: lock an existing account; its sessions end at once (the epoch moves on)."""

    def decide(account: Account) -> tuple[dict[str, Any], list[str], bool, list[dict[str, Any]], dict[str, Any]]:
        if account.lock:
            raise Conflict(
                f"Kontot är redan låst sedan {account.lock.locked_at} ({account.lock.region}).", code="already-locked"
            )
        new_lock = Lock(
            requested_by=requested_by,
            requester=requester,
            region=request.region,
            form_ref=form_ref,
            ticket_ref=request.ticket_ref,
            actor=request.actor,
            locked_at=iso(clock()),
        )
        details = {"requestedBy": requested_by, "formRef": form_ref}
        return {"lock": new_lock.to_record()}, ["unlockDecision"], True, [], details

    return _change(personnummer, "account.lock", request, clock, decide)


def record_unlock_decision(
    personnummer: str,
    *,
    approved: bool,
    head_of_unit: str,
    decision_ref: str,
    request: SupportRequest,
    clock: Clock,
) -> Account:
    """R-08: the head of unit's decision on a care lock. A "no" is told to the citizen at once;
    a "yes" is told when the support desk lifts the lock."""

    def decide(account: Account) -> tuple[dict[str, Any], list[str], bool, list[dict[str, Any]], dict[str, Any]]:
        current = _care_lock_of_region(account, request)
        recorded = account.unlock_decision
        if (
            recorded is not None
            and recorded.decided_at >= current.locked_at
            and (recorded.approved, recorded.decision_ref, recorded.ticket_ref)
            == (approved, decision_ref, request.ticket_ref)
        ):
            raise AlreadyDone  # this decision is recorded (and a "no" told) already
        decision = UnlockDecision(
            approved=approved,
            head_of_unit=head_of_unit,
            decision_ref=decision_ref,
            region=request.region,
            ticket_ref=request.ticket_ref,
            decided_at=iso(clock()),
        )
        extra = []
        if not approved:
            extra.append(
                inbox.new_message_action(
                    account.citizen_id,
                    subject="Beslut om din låsta inloggning",
                    body=(
                        "Du har begärt att inloggningen till 1177 e-tjänster ska låsas upp. Ansvarig "
                        "verksamhetschef har beslutat att inloggningen fortsätter att vara låst. "
                        f"Kontakta {current.region} om du har frågor."
                    ),
                    sender=SENDER,
                    at=clock(),
                )
            )
        details = {"approved": approved, "decisionRef": decision_ref}
        return {"unlockDecision": decision.to_record()}, [], False, extra, details

    return _change(personnummer, "account.unlock-decision", request, clock, decide)


def _care_lock_of_region(account: Account, request: SupportRequest) -> Lock:
    if account.lock is None:
        raise Conflict("Kontot är inte låst.", code="not-locked")
    if account.lock.requested_by != "care":
        raise Conflict(
            "Låsningen gjordes på invånarens egen begäran och hävs på invånarens begäran; "
            "inget beslut av verksamhetschef behövs.",
            code="citizen-lock",
        )
    if account.lock.region != request.region:
        raise Forbidden(
            f"Endast den region som begärt låsningen ({account.lock.region}) kan häva den.", code="wrong-region"
        )
    return account.lock


def unlock(
    personnummer: str,
    *,
    requested_by: LockRequester,
    form_ref: str,
    request: SupportRequest,
    clock: Clock,
) -> Account:
    """R-08: a citizen's own lock is lifted on their request; a care lock only by the region that
    placed it, after the head of unit said yes. The citizen is told in their inbox."""

    def decide(account: Account) -> tuple[dict[str, Any], list[str], bool, list[dict[str, Any]], dict[str, Any]]:
        if account.lock is None:
            raise Conflict("Kontot är inte låst.", code="not-locked")
        if account.lock.requested_by == "citizen":
            if requested_by != "citizen":
                raise Forbidden(
                    "Låsningen gjordes på invånarens begäran och kan bara hävas på invånarens begäran.",
                    code="citizen-request-required",
                )
        else:
            current = _care_lock_of_region(account, request)
            decision = account.unlock_decision
            if decision is None or decision.region != current.region or decision.decided_at < current.locked_at:
                raise Conflict(
                    "Verksamhetschefens beslut saknas. Registrera beslutet (admin_record_unlock_decision) först.",
                    code="decision-missing",
                )
            if not decision.approved:
                raise Forbidden("Verksamhetschefen har beslutat att kontot ska förbli låst.", code="decision-no")
        message = inbox.new_message_action(
            account.citizen_id,
            subject="Din inloggning är upplåst",
            body="Din inloggning till 1177 e-tjänster är upplåst. Allt i din inkorg finns kvar.",
            sender=SENDER,
            at=clock(),
        )
        details = {"requestedBy": requested_by, "formRef": form_ref, "lockRequestedBy": account.lock.requested_by}
        return {"lastUnlockedAt": iso(clock())}, ["lock", "unlockDecision"], False, [message], details

    return _change(personnummer, "account.unlock", request, clock, decide)


def seal_record(personnummer: str, *, sealed: bool, form_ref: str, request: SupportRequest, clock: Clock) -> Account:
    """R-09: sealing is a flag for the record service, independent of the login lock."""

    def decide(account: Account) -> tuple[dict[str, Any], list[str], bool, list[dict[str, Any]], dict[str, Any]]:
        if account.record_sealed == sealed:
            raise AlreadyDone  # already so: a repeat changes nothing
        values: dict[str, Any] = {"recordSealed": sealed, "recordSealChangedAt": iso(clock())}
        return values, [], False, [], {"sealed": sealed, "formRef": form_ref}

    return _change(personnummer, "record.seal" if sealed else "record.unseal", request, clock, decide)
