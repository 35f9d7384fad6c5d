"""The 13th birthday's reset (R-34), run daily just after midnight Stockholm time by `birthday_reset`.

Proxy access itself ends by the calendar: every guardian request is checked against the child's age on
the Stockholm date (`guardians.proxy_eligible`), so it ends at midnight whatever this job does. The job
does what must be written: the child's notification settings and guardian contacts are cleared, and the
account asks for new details at the teen's own next login (`mustReviewSettings`). It reads the accounts of
the children whose birthday has come from the sparse birthday index (`accounts.repository`), one item
per child, by key: a day the job did not run is caught up by the next run, and a second run finds nothing.

Thirty days before, the same index says so (SOON13): the child and each guardian who may act for the
child get a message in their own inbox saying what will change and when, once (the messages have ids
derived from the child and the recipient, and commit with the account's move to TURNS13).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from chalicelib.accounts.models import Account
from chalicelib.accounts.repository import BIRTHDAY_SHARDS
from chalicelib.arrivals import service as arrivals
from chalicelib.audit.models import AuditEntry, citizen_subject
from chalicelib.birthdays import messages
from chalicelib.core import dynamo
from chalicelib.core.clock import Clock, iso
from chalicelib.core.concurrency import VersionConflict
from chalicelib.core.personal_number import lookup_key
from chalicelib.settings.service import STORES, SettingsStores

if TYPE_CHECKING:
    from chalicelib.population.models import Person
    from chalicelib.population.port import PopulationRegister

PAGE = 100


@dataclass
class Run:
    reset: int = 0
    skipped: int = 0  # changed or reset by another run since the page was read, and no longer due
    read: int = 0  # index items read by the reset
    told: int = 0  # children told 30 days before (with their guardians)
    told_read: int = 0  # index items read for that


def run_day(today: date, *, clock: Clock, stores: SettingsStores = STORES) -> Run:
    """The day's work: first the 30-day notices, then the resets (a child made due for both at once,
    e.g. by a missed run, is told nothing about a birthday that has passed, and is reset)."""
    run = Run()
    for account in _due("SOON13", today, run, stores):
        run.told += tell(account, today, clock=clock, stores=stores)
    return reset_due(today, clock=clock, stores=stores, run=run)


def reset_due(today: date, *, clock: Clock, stores: SettingsStores = STORES, run: Run | None = None) -> Run:
    """Resets every child whose 13th birthday is `today` or earlier and has not been reset."""
    run = run or Run()
    for account in _due("TURNS13", today, run, stores):
        if _reset(account, today, clock, stores):
            run.reset += 1
        else:
            run.skipped += 1
    return run


def _due(kind: str, today: date, run: Run, stores: SettingsStores) -> Iterator[Account]:
    for shard in range(BIRTHDAY_SHARDS):
        start = None
        while True:
            page = stores.accounts.thirteen_due(shard, today.isoformat(), PAGE, start, kind=kind)
            if kind == "TURNS13":
                run.read += page.read
            else:
                run.told_read += page.read
            yield from page.accounts
            start = page.last_key
            if start is None:
                break


def tell(account: Account, today: date, *, clock: Clock, stores: SettingsStores = STORES) -> int:
    """The 30-day notice to the child and each guardian who may act for the child now; 1 when sent."""
    from chalicelib.population.port import population_register

    now = clock()
    birthday = date.fromisoformat(account.thirteen_on or today.isoformat())
    uow = stores.new_uow()
    sent = 0
    if birthday > today:  # a birthday already passed (a missed run) is not announced
        register = population_register()
        child = register.find(account.personnummer)
        recipients = [(account.citizen_id, messages.to_child(birthday))]
        if child is not None:
            for guardian in _guardians_who_may_act(child, register, clock, stores):
                recipients.append((guardian, messages.to_guardian(birthday, child.given_name)))
        for citizen_id, (subject, body) in recipients:
            arrivals.new_item(
                uow,
                citizen_id,
                item_id=messages.item_id(account.citizen_id, citizen_id),
                kind="message",
                subject=subject,
                sender=messages.SENDER,
                at=now,
                unread=True,
                body=body,
            )
        sent = 1
    told = replace(account, thirteen_notice_at=iso(now))
    stores.accounts.update(uow, told, expected_version=account.version)
    try:
        uow.commit()
    except (VersionConflict, dynamo.TransactionConflict):
        return 0  # changed since read (or told by another run): the next run reads it again if still due
    return sent


def _guardians_who_may_act(
    child: Person, register: PopulationRegister, clock: Clock, stores: SettingsStores
) -> list[str]:
    from chalicelib.guardians.service import proxy_eligible

    found = stores.accounts.find_citizen_ids(lookup_key(g) for g in child.guardians)
    ids = []
    for guardian_pnr in child.guardians:
        guardian = register.find(guardian_pnr)
        citizen_id = found.get(lookup_key(guardian_pnr))
        if guardian is not None and citizen_id and proxy_eligible(guardian, child, clock):
            ids.append(citizen_id)
    return ids


def _reset(account: Account, today: date, clock: Clock, stores: SettingsStores) -> bool:
    for _ in range(2):
        now = clock()
        uow = stores.new_uow()
        stores.settings.clear_contacts(uow, account.citizen_id, at=iso(now))
        done = replace(account, must_review_settings=True, thirteen_on=None)
        stores.accounts.update(uow, done, expected_version=account.version)
        stores.audit.append(
            uow,
            AuditEntry(
                subject=citizen_subject(account.citizen_id),
                action="account.turned-13",
                actor_kind="system",
                actor="birthday_reset",
                at=now,
                details={"birthday": account.thirteen_on},
            ),
        )
        try:
            uow.commit()
            return True
        except (VersionConflict, dynamo.TransactionConflict):
            # The index is read eventually consistent, and the account may have changed (a lock, a login):
            # read it and reset what is current, if it is still due.
            current = stores.accounts.get(account.citizen_id)
            if current is None or not current.thirteen_on or current.thirteen_on > today.isoformat():
                return False
            account = current
    return False
