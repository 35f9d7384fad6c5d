"""The support desk's account lifecycle (invoked from the console, `admin`): lock (R-03, R-04, R-05),
unlock with the head of unit's decision (R-08) and sealing of the record (R-09).

Every change commits in one unit of work with its audit entry (and, where the citizen must be told,
their inbox message), guarded by the account's version and retried when the account changed meanwhile.
Refusals are audited too, with their ticket (R-03, R-15).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.accounts import service as accounts
from chalicelib.accounts.models import Account, Lock, LockRequester, UnlockDecision
from chalicelib.accounts.service import AccountStores, NoAccount
from chalicelib.audit.models import AuditEntry, SupportRequest, citizen_subject, person_subject
from chalicelib.core.clock import Clock, iso
from chalicelib.core.concurrency import retrying
from chalicelib.core.errors import Conflict, Forbidden, Problem
from chalicelib.core.personal_number import lookup_key
from chalicelib.support import messages

__all__ = ["NoAccount", "SupportRequest", "lock", "record_unlock_decision", "seal_record", "unlock"]

ATTEMPTS = 3


@dataclass(frozen=True)
class Change:
    """What a support-desk action does to an account: the account as it is to be, the audit details,
    and the inbox message the citizen gets (if any)."""

    account: Account
    details: dict[str, Any]
    message: messages.Message | None = None
    bump_epoch: bool = False


class AlreadyDone(Exception):
    """The account is already as the request asks, by this same request (a retried console event):
    nothing is written, not even a second audit entry or inbox message."""


@dataclass(frozen=True, kw_only=True)
class SupportStores(AccountStores):
    """The account stores and the citizen's inbox, where the support desk's messages go."""

    inbox: messages.Outbox


STORES = SupportStores(accounts=accounts.STORES.accounts, audit=accounts.STORES.audit, inbox=messages.InboxOutbox())

Decide = Callable[[Account], Change]
"""Given the current account: the change, or raise a Problem to refuse (AlreadyDone: nothing to do)."""


def _change(
    personnummer: str, action: str, request: SupportRequest, clock: Clock, decide: Decide, *, stores: SupportStores
) -> Account:
    """Read, decide, and commit with the audit entry; retried when the account changed meanwhile."""

    def refuse(subject: str, problem: Problem) -> None:
        stores.audit.append_now(AuditEntry.refusal(subject, action, request, code=problem.code, at=clock()))

    def attempt() -> Account:
        key = lookup_key(personnummer)
        citizen_id = stores.accounts.find_citizen_id(key)
        account = stores.accounts.get(citizen_id) if citizen_id else None
        if account is None:
            problem = NoAccount(
                "Personen har aldrig loggat in i e-tjänsterna. Bara befintliga konton kan låsas; "
                "nya användare kan inte spärras i förväg."
            )
            refuse(person_subject(key), problem)
            raise problem
        try:
            change = decide(account)
        except AlreadyDone:
            return account
        except Problem as problem:
            refuse(citizen_subject(account.citizen_id), problem)
            raise
        new = replace(
            change.account,
            version=account.version + 1,
            session_epoch=account.session_epoch + (1 if change.bump_epoch else 0),
        )
        uow = stores.new_uow()
        stores.accounts.update(uow, new, expected_version=account.version)
        stores.audit.append(
            uow,
            AuditEntry.by_support_desk(
                citizen_subject(account.citizen_id), action, request, at=clock(), details=change.details
            ),
        )
        if change.message is not None:
            stores.inbox.add_message(uow, account.citizen_id, change.message, at=clock())
        uow.commit()
        return new

    return retrying(
        attempt,
        conflict=Conflict("Kontot ändrades samtidigt av någon annan. Försök igen.", code="concurrent-change"),
        attempts=ATTEMPTS,
    )


def lock(
    personnummer: str,
    *,
    requested_by: LockRequester,
    requester: str,
    form_ref: str,
    request: SupportRequest,
    clock: Clock,
    stores: SupportStores = STORES,
) -> Account:
    """R-03/R-04/R-05: lock an existing account; its sessions end at once (the epoch moves on)."""

    def decide(account: Account) -> Change:
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
        return Change(
            replace(account, lock=new_lock, unlock_decision=None),
            {"requestedBy": requested_by, "formRef": form_ref},
            bump_epoch=True,
        )

    return _change(personnummer, "account.lock", request, clock, decide, stores=stores)


def record_unlock_decision(
    personnummer: str,
    *,
    approved: bool,
    head_of_unit: str,
    decision_ref: str,
    request: SupportRequest,
    clock: Clock,
    stores: SupportStores = STORES,
) -> Account:
    """R-08: the head of unit's decision on a care lock. A "no" is told to the citizen at once;
    a "yes" is told when the support desk lifts the lock."""

    def decide(account: Account) -> Change:
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
        return Change(
            replace(account, unlock_decision=decision),
            {"approved": approved, "decisionRef": decision_ref},
            message=None if approved else messages.decision_no(current.region),
        )

    return _change(personnummer, "account.unlock-decision", request, clock, decide, stores=stores)


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
    stores: SupportStores = STORES,
) -> Account:
    """R-08: a citizen's own lock is lifted on their request; a care lock only by the region that
    placed it, after the head of unit said yes. The citizen is told in their inbox."""

    def decide(account: Account) -> Change:
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
        details = {"requestedBy": requested_by, "formRef": form_ref, "lockRequestedBy": account.lock.requested_by}
        return Change(
            replace(account, lock=None, unlock_decision=None, last_unlocked_at=iso(clock())),
            details,
            message=messages.UNLOCKED,
        )

    return _change(personnummer, "account.unlock", request, clock, decide, stores=stores)


def seal_record(
    personnummer: str,
    *,
    sealed: bool,
    form_ref: str,
    request: SupportRequest,
    clock: Clock,
    stores: SupportStores = STORES,
) -> Account:
    """R-09: sealing is a flag for the record service, independent of the login lock."""

    def decide(account: Account) -> Change:
        if account.record_sealed == sealed:
            raise AlreadyDone  # already so: a repeat changes nothing
        return Change(
            replace(account, record_sealed=sealed, record_seal_changed_at=iso(clock())),
            {"sealed": sealed, "formRef": form_ref},
        )

    return _change(personnummer, "record.seal" if sealed else "record.unseal", request, clock, decide, stores=stores)
