"""`reconcile_bookings` (every minute): finishes what a booking call left in between. An operation
recorded here but not confirmed (the booking system failed or timed out mid-call) is looked up in the
booking system by its reference and confirmed or dropped (docs/architecture.md, Web booking)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.core.clock import Clock, scheduled_time, system_clock
from chalicelib.core.observability import logger, metrics

bp = Blueprint(__name__)
clock: Clock = system_clock


@bp.lambda_function(name="reconcile_bookings")
def reconcile_bookings(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.web_booking import reconciler

    now = scheduled_time(event) or clock()
    run = reconciler.run(now)
    metrics.add_metric(name="BookingsReconciled", unit="Count", value=run.confirmed + run.dropped)
    metrics.add_metric(name="BookingReconcileBacklog", unit="Count", value=run.left)
    metrics.flush_metrics()
    counts = {"confirmed": run.confirmed, "dropped": run.dropped, "left": run.left}
    logger.info("bookings reconciled", extra=counts)
    return counts
