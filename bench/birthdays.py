"""`make bench`, issue 10: the 13th birthday's reset, in-process against DynamoDB Local.

birthday_reset_items_read_per_reset: BENCH_BIRTHDAY_ACCOUNTS (10 000) children's accounts in the birthday
index, BENCH_BIRTHDAY_TODAY (30) of them turning 13 on the bench's day and the rest on other days of the
coming year; items DynamoDB returned to `birthdays.service.reset_due` (counted by a botocore hook from
the responses), over the children reset. The accounts are the items `accounts.repository` builds, written
with BatchWriteItem (setup, not measured).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

ACCOUNTS = int(os.environ.get("BENCH_BIRTHDAY_ACCOUNTS", "10000"))
TODAY = int(os.environ.get("BENCH_BIRTHDAY_TODAY", "30"))
DAY = date(2031, 5, 20)  # the bench's day: the accounts' birthdays are this day and after
CHILDREN = ("Elsa", "Nils", "Saga", "Hugo", "Alva")  # test persons: the accounts need a personnummer

NOTES = {
    "birthday_reset_items_read_per_reset": "items DynamoDB returned to the 13th birthday's reset (the gsi5 "
    "TURNS13 Query, plus a GetItem when an account changed meanwhile) over children reset, with "
    "birthday_accounts children's accounts in the index of which birthday_reset_today turn 13 that day "
    "(bench/birthdays.py)"
}


def measure(pnr: Any) -> dict[str, Any]:
    from bench.notices import ReadCounter
    from chalicelib.birthdays import service
    from chalicelib.core import dynamo
    from chalicelib.core.clock import fixed_clock

    _write_accounts(pnr)
    counter = ReadCounter()
    counter.attach(dynamo.client())
    counter.counting = True
    started = time.perf_counter()
    run = service.reset_due(DAY, clock=fixed_clock(datetime(2031, 5, 19, 22, 5, tzinfo=UTC)))
    seconds = time.perf_counter() - started
    counter.counting = False
    assert run.reset == TODAY, run
    return {
        "birthday_reset_items_read_per_reset": round(sum(counter.items.values()) / run.reset, 3),
        "birthday_reset": {
            "accounts": ACCOUNTS,
            "reset": run.reset,
            "seconds": round(seconds, 2),
            "calls": dict(counter.calls),
        },
    }


def _write_accounts(pnr: Any) -> None:
    from chalicelib.accounts.models import Account
    from chalicelib.accounts.repository import DYNAMO
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings
    from chalicelib.core.ids import new_id
    from chalicelib.core.unit_of_work import UnitOfWork

    items: list[dict[str, Any]] = []
    for n in range(ACCOUNTS):
        birthday = DAY if n < TODAY else DAY + timedelta(days=1 + n % 364)
        account = Account(
            citizen_id=new_id(),
            personnummer=pnr(CHILDREN[n % len(CHILDREN)]),
            status="active",
            activated_at="2030-01-01T00:00:00.000Z",
            activated_by="guardian",
            first_login_at=None,
            session_epoch=0,
            version=1,
            thirteen_on=birthday.isoformat(),
            thirteen_notice_at="2031-04-20T00:00:00.000Z",  # told a month before: waiting for the day
        )
        uow = UnitOfWork()
        DYNAMO.add(uow, account, lookup_key=f"bench-{n}")
        items.extend(a["Put"]["Item"] for a in uow.actions if a["Put"]["Item"]["sk"]["S"] == "ACCOUNT")
    dynamo.batch_write(settings().main_table, ({"PutRequest": {"Item": item}} for item in items))
