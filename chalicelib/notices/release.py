"""Releasing due notices (R-41) and reporting unread ones, from the sparse index (`repository.py`).

`release_due(shard, due_by)` pages through the notices of one shard due by `due_by` and releases each
in its own transaction: the notice (state, follow-up marker) and its inbox item commit together. The
notice's Put is conditioned on the version and the index entry the page read, so a notice changed or
taken by another run in between is skipped (a later page or run sees its new state): two runs at once,
or a run killed half-way and started again, release every notice exactly once. Released notices leave
the RELEASE partition, so a run that starts again simply reads from the top.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from chalicelib.core import dynamo
from chalicelib.core.clock import Clock, iso
from chalicelib.core.concurrency import VersionConflict
from chalicelib.notices import repository
from chalicelib.notices.models import FollowUp, Notice
from chalicelib.notices.ports import STORES, NoticeStores
from chalicelib.notices.service import release

PAGE = 100
PARALLEL = 8  # transactions in flight per worker: each notice is its own partition, so they do not contend


@dataclass
class Run:
    released: int = 0
    skipped: int = 0  # changed or taken by another run since the page was read
    read: int = 0  # index items read
    finished: bool = True  # False: stopped for time with notices still due


def release_due(
    shard: int,
    due_by: datetime,
    *,
    clock: Clock,
    time_left: Callable[[], bool] = lambda: True,
    stores: NoticeStores = STORES,
) -> Run:
    """Releases every notice of `shard` due by `due_by`, a page at a time, while `time_left()`."""
    run = Run()
    start = None
    with ThreadPoolExecutor(PARALLEL) as pool:
        while True:
            try:
                page = stores.notices.due("RELEASE", shard, due_by, PAGE, start)
            except Exception as error:
                if not dynamo.is_unavailable(error):
                    raise
                run.finished = False  # a continuation now, not a redelivery after the visibility timeout
                return run
            run.read += page.read
            outcomes = pool.map(lambda found: _release_one(found[0], found[1], due_by, clock, stores), page.notices)
            for outcome in outcomes:
                if outcome == "released":
                    run.released += 1
                elif outcome == "skipped":
                    run.skipped += 1
                else:
                    run.finished = False  # DynamoDB was busy: the notice is still due, run again
            start = page.last_key
            if start is None:
                return run
            if not time_left():
                run.finished = False
                return run


def _release_one(notice: Notice, seen_marker: str, due_by: datetime, clock: Clock, stores: NoticeStores) -> str:
    """"released", "skipped" (released by another run, cancelled, or no longer due) or "busy"."""
    for _ in range(2):
        uow = stores.new_uow()
        released = release(uow, notice, clock(), stores)
        stores.notices.put(uow, released, replaces=notice.version, seen_marker=seen_marker)
        try:
            uow.commit()
            return "released"
        except VersionConflict:
            # The index is read eventually consistent: the notice may have moved on (a rebooking just
            # before 18:00). Read it and release what is current, if it is still due.
            current = stores.notices.get(notice.system, notice.booking_id)
            due = repository.marker(current) if current else {}
            if current is None or not due.get("gsi5pk", "").startswith("RELEASE#"):
                return "skipped"
            if current.release_at is None or current.release_at > iso(due_by):
                return "skipped"
            notice, seen_marker = current, due["gsi5sk"]
        except dynamo.TransactionConflict as conflict:
            return "busy" if dynamo.is_unavailable(conflict) else "skipped"
        except Exception as error:
            if dynamo.is_unavailable(error):
                return "busy"  # throttled or unreachable: the notice stays due; a continuation takes it
            raise
    return "skipped"


@dataclass
class Report:
    unread: int = 0
    read: int = 0
    skipped: int = 0


def report_unread(shard: int, now: datetime, *, stores: NoticeStores = STORES) -> Report:
    """The unread follow-up: every released notice of `shard` whose follow-up is due by `now` and is still
    unread is reported on the bookings bus (`NoticeUnread`, ids only) so the clinic can send paper or
    call; read ones are only marked. The event is published before the notice is marked: a crash in
    between reports it again on the next run (at least once; the notice id identifies duplicates)."""
    report = Report()
    start = None
    while True:
        page = stores.notices.due("FOLLOWUP", shard, now, PAGE, start)
        for notice, seen in page.notices:
            unread = _unread(notice, stores)
            if unread:
                stores.bus.publish(
                    "NoticeUnread",
                    {
                        "system": notice.system,
                        "bookingId": notice.booking_id,
                        "noticeId": notice.notice_id,
                        "releasedAt": notice.released_at or "",
                        "followUpAt": notice.follow_up.due_at if notice.follow_up else "",
                    },
                )
            follow_up = FollowUp(
                due_at=notice.follow_up.due_at if notice.follow_up else iso(now),
                state="unread" if unread else "read",
                reported_at=iso(now) if unread else None,
            )
            uow = stores.new_uow()
            stores.notices.put(uow, notice.with_(follow_up=follow_up), replaces=notice.version, seen_marker=seen)
            try:
                uow.commit()
            except (VersionConflict, dynamo.TransactionConflict):
                report.skipped += 1
                continue
            if unread:
                report.unread += 1
            else:
                report.read += 1
        start = page.last_key
        if start is None:
            return report


def _unread(notice: Notice, stores: NoticeStores) -> bool:
    if not notice.citizen_id or not notice.item_id:
        return False
    item = stores.arrivals.get_item(notice.citizen_id, notice.item_id)
    return bool(item and item.get("unread"))


SHARDS = repository.SHARDS
