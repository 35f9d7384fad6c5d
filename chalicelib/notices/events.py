"""Notice functions (R-40..R-43); the rules are in `service.py` and `release.py`.

`booking_events` (bookings queue): the same booking events as `POST /integrations/bookings`; an event
that can never be accepted (422) is logged by its code and dropped, anything else is retried.
`release_notices` (schedule, Europe/Stockholm, every 5 minutes from 18:00 and once early next morning):
one message per shard on the release queue, due by the event's planned `time`.
`release_due_notices` (release queue): releases one shard's due notices; sends itself a continuation
when it runs out of time.
`report_unread_notices` (schedule, 07:00 Stockholm): the unread follow-up on the bookings bus.

Log lines carry ids, codes and counts: never a personnummer or a notice's text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.core.clock import Clock, scheduled_time, system_clock
from chalicelib.core.observability import logger, metrics

if TYPE_CHECKING:
    from collections.abc import Callable

bp = Blueprint(__name__)
clock: Clock = system_clock
SAFETY_S = 30.0  # a release worker stops taking new pages this long before its timeout


@bp.lambda_function(name="booking_events")
def booking_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from chalicelib.core import intake
    from chalicelib.notices import schemas, service

    rejected = 0

    def handle(record: Any) -> None:
        nonlocal rejected
        if not intake.apply(
            record,
            schemas.BookingEvent,
            lambda body: service.receive(body.to_booking(), clock=clock),
            what="booking event",
            # Unavailable, or the booking changed under us: try again.
            retry=lambda problem: problem.status >= 500 or problem.code == "booking-busy",
        ):
            rejected += 1

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    if rejected:
        metrics.add_metric(name="BookingEventsRejected", unit="Count", value=rejected)
        metrics.flush_metrics()
    return dict(result)


@bp.lambda_function(name="release_notices")
def release_notices(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.notices import queue, release

    due_by = scheduled_time(event) or clock()
    queue.send(list(range(release.SHARDS)), due_by)
    logger.info("notice release started", extra={"shards": release.SHARDS})
    return {"shards": release.SHARDS}


@bp.lambda_function(name="release_due_notices")
def release_due_notices(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from chalicelib.notices import queue, release

    totals = {"released": 0, "skipped": 0, "read": 0, "continued": 0}

    def handle(record: Any) -> None:
        try:
            shard, due_by = queue.parse(record.body)
        except (ValueError, KeyError, TypeError):
            logger.warning("not a release message", extra={"messageId": record.message_id})
            return
        run = release.release_due(shard, due_by, clock=clock, time_left=_time_left(context))
        totals["released"] += run.released
        totals["skipped"] += run.skipped
        totals["read"] += run.read
        if not run.finished:
            queue.send([shard], due_by)  # the rest of the shard, in a fresh invocation
            totals["continued"] += 1

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    metrics.add_metric(name="NoticesReleased", unit="Count", value=totals["released"])
    metrics.flush_metrics()
    logger.info("notices released", extra=totals)
    return dict(result)


def _time_left(context: Any) -> Callable[[], bool]:
    import time

    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: True
    deadline = time.monotonic() + remaining() / 1000 - SAFETY_S
    return lambda: time.monotonic() < deadline


@bp.lambda_function(name="report_unread_notices")
def report_unread_notices(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The shards side by side: a burst evening's notices come due for follow-up together seven days
    later, and one shard after another would not get through 100 000 in one invocation."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.notices import release

    now = scheduled_time(event) or clock()
    with ThreadPoolExecutor(release.SHARDS) as pool:
        reports = list(pool.map(lambda shard: release.report_unread(shard, now), range(release.SHARDS)))
    unread, read = sum(r.unread for r in reports), sum(r.read for r in reports)
    metrics.add_metric(name="NoticesUnread", unit="Count", value=unread)
    metrics.flush_metrics()
    logger.info("unread notices reported", extra={"unread": unread, "read": read})
    return {"unread": unread, "read": read}
