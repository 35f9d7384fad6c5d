"""The outbox's reconciler (`sweep_notifications`, every 5 minutes): re-queues what is past due in the
notification due index (`due.py`), so nothing stays unnotified or stuck because a message was lost.

- an inbox item still marked: its arrival never got its notifications (the stream record or the queue
  message was lost, or kept failing) → the arrival message again;
- a notification still marked: `sending` without a provider message id past its due time (its sender
  died, or its message went to the DLQ) → a `{"notificationId"}` message; send_notifications takes it
  up once its lease has run out.

Reads are by key only: one range Query per shard of the sparse index, oldest first, at most
`LIMIT_PER_SHARD` a run. Each re-queue first moves the marker's due time on (conditional on the marker
still being the one read), so the next run does not re-queue it again, and counts the attempt; after
`MAX_SWEEPS` attempts the sweeper gives up: the marker goes, a notification ends `technical-failure`
(recorded on the settings, R-12), and the log says so.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from chalicelib.arrivals import due
from chalicelib.arrivals import repository as inbox
from chalicelib.core.clock import iso
from chalicelib.core.observability import logger
from chalicelib.notifications import repository, service

MAX_SWEEPS = 5
RETRY_AFTER = timedelta(minutes=10)  # a re-queued item is due again this much later
LIMIT_PER_SHARD = 50  # per run: 8 shards × 50 = 400 items per 5 minutes at most

Requeue = tuple[str, dict[str, str] | None]


def sweep(now: datetime) -> Counter[str]:
    """Returns counts: `arrivals` and `notifications` re-queued, `abandoned`, `moved` (the marker changed
    after it was read: someone else is on it)."""
    counts: Counter[str] = Counter()
    bodies: list[tuple[str, dict[str, str]]] = []
    for shard in range(due.SHARDS):
        for item in repository.due_items(shard, iso(now), LIMIT_PER_SHARD):
            if str(item.get("sk", "")).startswith("INBOX#"):
                kind, body = _arrival(item, now)
            elif item.get("type") == "notification":
                kind, body = _notification(item, now)
            else:
                continue
            if body is None:
                counts[kind] += 1
            else:
                bodies.append((kind, body))
    failed = set(repository.enqueue([body for _, body in bodies]))
    for index, (kind, _) in enumerate(bodies):
        counts["unqueued" if index in failed else kind] += 1  # unqueued: found again when due again
    return counts


def _arrival(item: dict[str, Any], now: datetime) -> Requeue:
    citizen_id, item_id, arrival_id = item["citizenId"], item["id"], item.get("arrivalId")
    seen = str(item["gsi4sk"])
    if not arrival_id:
        return "moved", None
    if int(item.get("notifySweeps") or 0) >= MAX_SWEEPS:
        if inbox.abandon_arrival(citizen_id, item_id, arrival_id, seen, iso(now)):
            logger.error("arrival not notified: the sweeper gave up", extra={"itemId": item_id})
            return "abandoned", None
        return "moved", None
    if inbox.reschedule_arrival(citizen_id, item_id, arrival_id, seen, due.rescheduled(seen, now + RETRY_AFTER)):
        logger.warning("arrival re-queued", extra={"itemId": item_id})
        return "arrivals", {"citizenId": citizen_id, "itemId": item_id, "arrivalId": arrival_id}
    return "moved", None


def _notification(item: dict[str, Any], now: datetime) -> Requeue:
    nid = item["notificationId"]
    seen = str(item["gsi4sk"])
    if int(item.get("sweeps") or 0) >= MAX_SWEEPS:
        if repository.give_up(nid, seen, iso(now), "not-sent"):
            logger.error("notification not sent: the sweeper gave up", extra={"notificationId": nid})
            service.record(item, "technical-failure", now)
            return "abandoned", None
        return "moved", None
    if repository.reschedule(nid, seen, due.rescheduled(seen, now + RETRY_AFTER)):
        logger.warning("notification re-queued", extra={"notificationId": nid})
        return "notifications", {"notificationId": nid}
    return "moved", None
