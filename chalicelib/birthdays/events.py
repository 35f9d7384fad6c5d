"""`birthday_reset` (schedule, Europe/Stockholm, just after midnight): R-34 for every child whose 13th
birthday has come, the day of the event's `time` and any day a missed run left behind; before that, the
30-day notice to the children whose birthday is a month away, and to their guardians."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.core.clock import Clock, scheduled_time, stockholm_date, system_clock
from chalicelib.core.observability import logger, metrics

bp = Blueprint(__name__)
clock: Clock = system_clock


@bp.lambda_function(name="birthday_reset")
def birthday_reset(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.birthdays import service

    now = scheduled_time(event) or clock()
    run = service.run_day(stockholm_date(now), clock=clock)
    metrics.add_metric(name="ChildrenTurned13", unit="Count", value=run.reset)
    metrics.flush_metrics()
    counts = {"reset": run.reset, "skipped": run.skipped, "read": run.read, "told": run.told}
    logger.info("birthday reset", extra=counts)
    return counts
