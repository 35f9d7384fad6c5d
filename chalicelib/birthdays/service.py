"""The 13th birthday's reset (R-34), run daily just after midnight Stockholm time by `birthday_reset`.

Proxy access itself ends by the calendar: every guardian request is checked against the child's age on
the Stockholm date (`guardians.proxy_eligible`), so it ends at midnight whatever this job does. The job
does what must be written: the child's notification settings and guardian contacts are cleared, and the
account asks for new details at the teen's own next login (`mustReviewSettings`). It reads the accounts of
the children whose birthday has come from the sparse birthday index (`accounts.repository`), one item
per child, by key: a day the job did not run is caught up by the next run, and a second run finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from chalicelib.accounts.models import Account
from chalicelib.accounts.repository import BIRTHDAY_SHARDS
from chalicelib.audit.models import AuditEntry, citizen_subject
from chalicelib.core import dynamo
from chalicelib.core.clock import Clock, iso
from chalicelib.core.concurrency import VersionConflict
from chalicelib.settings.service import STORES, SettingsStores

PAGE = 100


@dataclass
class Run:
    reset: int = 0
    skipped: int = 0  # changed or reset by another run since the page was read, and no longer due
    read: int = 0  # index items read


def reset_due(today: date, *, clock: Clock, stores: SettingsStores = STORES) -> Run:
    """Resets every child whose 13th birthday is `today` or earlier and has not been reset."""
    run = Run()
    for shard in range(BIRTHDAY_SHARDS):
        start = None
        while True:
            page = stores.accounts.thirteen_due(shard, today.isoformat(), PAGE, start)
            run.read += page.read
            for account in page.accounts:
                if _reset(account, today, clock, stores):
                    run.reset += 1
                else:
                    run.skipped += 1
            start = page.last_key
            if start is None:
                break
    return run


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
