"""The reconciler (`reconcile_bookings`, every minute): operations left `requested` because the booking
system failed or timed out mid-call. Each is looked up in the booking system by its reference: done
there → confirmed here (with the citizen's inbox message); not done and old enough that no call can
still be in flight → dropped; no answer → tried again later. Reads only the sparse reconcile index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.core.clock import instant
from chalicelib.core.observability import logger
from chalicelib.web_booking import repository, service
from chalicelib.web_booking.booking_system import BookingRefused, BookingSystemUnavailable

BATCH = 100
RETRY_AFTER = timedelta(minutes=1)
GIVE_UP_AFTER = timedelta(minutes=5)  # far beyond a call's timeout: nothing is still on its way


@dataclass(frozen=True)
class Run:
    confirmed: int
    dropped: int
    left: int


def run(now: datetime, *, systems: service.Systems = service.default_systems) -> Run:
    confirmed = dropped = left = 0
    due = repository.due(now, BATCH)
    for op in due.ops:
        try:
            slot = service.resolved(systems(op.system), op)
        except (BookingSystemUnavailable, BookingRefused):
            repository.reschedule(op, now + RETRY_AFTER)
            left += 1
            continue
        if slot is not None:
            service.confirm(op, slot, now)
            confirmed += 1
        elif now - instant(op.created_at) >= GIVE_UP_AFTER:
            service.abandon(op)
            dropped += 1
        else:
            repository.reschedule(op, now + RETRY_AFTER)
            left += 1
    if due.more:
        left += 1
    if confirmed or dropped:
        logger.info("booking operations settled", extra={"confirmed": confirmed, "dropped": dropped})
    return Run(confirmed, dropped, left)
