"""Notification functions (R-11, R-12); the rules are in `service.py`, the batch work in `sender.py`,
the reconciler in `sweeper.py`.

`inbox_events` (main-table stream): a new arrival in an inbox → one SQS message of ids
`{"citizenId", "itemId", "arrivalId"}`; no DynamoDB request at all.
`send_notifications` (NotificationsQueue): claims each arrival's notifications in one transaction (the
idempotency record), sends them concurrently within the provider rate limit, stores the provider ids
(Powertools batch processing with partial failures).
`sweep_notifications` (every 5 minutes): re-queues arrivals and notifications past due in the due index.
`delivery_feedback` (SES events through SNS; SMS delivery status logs through a CloudWatch Logs
subscription): moves notifications to delivered / temporary-failure / permanent-failure.

Log lines carry notification and item ids and outcomes: never a phone number, an address or content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.core.clock import Clock, scheduled_time, system_clock
from chalicelib.core.observability import logger, metrics

if TYPE_CHECKING:

    from chalicelib.notifications import service
else:
    from chalicelib.core.lazy import lazy_module

    service = lazy_module("chalicelib.notifications.service")

bp = Blueprint(__name__)
clock: Clock = system_clock  # tests move time on (leases, due times)
SAFETY_S = 5.0  # stop waiting for the rate limit this long before the function would time out


@bp.lambda_function(name="inbox_events")
def inbox_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Queues the batch's arrivals together (ten per SendMessageBatch), then reports through Powertools'
    batch processor: streams are ordered and Lambda retries from the first failed record, so that record
    and every later one are reported (a second message for an arrival claims nothing)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from chalicelib.notifications import repository

    records = event.get("Records") or []
    if not records:
        return {"batchItemFailures": []}
    arrivals: list[tuple[int, dict[str, str]]] = []  # (record index, message)
    for index, record in enumerate(records):
        found = service.arrival(record)
        if found is not None:
            citizen_id, item_id, arrival_id = found
            arrivals.append((index, {"citizenId": citizen_id, "itemId": item_id, "arrivalId": arrival_id}))
    failed = repository.enqueue([message for _, message in arrivals]) if arrivals else []
    retry_from = arrivals[failed[0]][0] if failed else len(records)
    again = {r["dynamodb"]["SequenceNumber"] for r in records[retry_from:]}
    if failed:
        logger.error("queueing arrivals failed", extra={"sequence": records[retry_from]["dynamodb"]["SequenceNumber"]})

    def handle(record: Any) -> None:
        if record.dynamodb.sequence_number in again:
            raise ArrivalNotQueued(record.dynamodb.sequence_number)

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    queued = len(arrivals) - len(failed)
    if queued:
        metrics.add_metric(name="ArrivalsQueued", unit="Count", value=queued)
        metrics.flush_metrics()
    return dict(result)


class ArrivalNotQueued(Exception):
    """This record (or an earlier one in the shard) was not queued: Lambda hands it over again."""


def _budget(context: Any) -> Callable[[], float] | None:
    """Seconds the sender may still wait for the rate limit before the function would time out."""
    import time

    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    deadline = time.monotonic() + remaining() / 1000 - SAFETY_S
    return lambda: deadline - time.monotonic()


@bp.lambda_function(name="send_notifications")
def send_notifications(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from chalicelib.notifications import sender

    records = event.get("Records") or []
    if not records:
        return {"batchItemFailures": []}
    try:
        report = sender.send_batch({r["messageId"]: r["body"] for r in records}, clock=clock, budget_s=_budget(context))
    except Exception as error:  # e.g. the batch read failed: every message comes again
        logger.exception("sending a batch failed")
        report = sender.Report(failures={r["messageId"]: error for r in records})

    def handle(record: Any) -> None:
        failure = report.failures.get(record.message_id)
        if failure is not None:
            raise failure

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    outcomes = report.outcomes
    if outcomes["sent"]:
        metrics.add_metric(name="NotificationsSent", unit="Count", value=outcomes["sent"])
    if outcomes["technical-failure"]:
        metrics.add_metric(name="NotificationDeliveryFailures", unit="Count", value=outcomes["technical-failure"])
    if outcomes["sent"] or outcomes["technical-failure"]:
        metrics.flush_metrics()
    logger.info("notification batch", extra={"messages": len(records), **outcomes})
    return dict(result)


@bp.lambda_function(name="sweep_notifications")
def sweep_notifications(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.notifications import sweeper

    now = scheduled_time(event) or clock()
    counts = sweeper.sweep(now)
    # Alarmed (infra): anything found here means the normal path lost something.
    metrics.add_metric(name="ArrivalsReconciled", unit="Count", value=counts["arrivals"])
    metrics.add_metric(name="NotificationsRequeued", unit="Count", value=counts["notifications"])
    if counts["abandoned"]:
        metrics.add_metric(name="NotificationsAbandoned", unit="Count", value=counts["abandoned"])
    metrics.flush_metrics()
    logger.info("notification sweep", extra=dict(counts))
    return {
        "arrivals": counts["arrivals"],
        "notifications": counts["notifications"],
        "abandoned": counts["abandoned"],
        "unqueued": counts["unqueued"],
    }


def _log_events(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON messages of a CloudWatch Logs subscription event (base64 of gzip of JSON)."""
    import base64
    import gzip
    import json

    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    messages = []
    for log_event in data.get("logEvents", []):
        try:
            messages.append(json.loads(log_event["message"]))
        except (KeyError, ValueError):
            continue
    return messages


@bp.lambda_function(name="delivery_feedback")
def delivery_feedback(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import json

    outcomes: list[Any] = []
    if "awslogs" in event:
        outcomes = [service.sms_outcome(message) for message in _log_events(event)]
    else:
        for record in event.get("Records", []):
            message = record.get("Sns", {}).get("Message")
            try:
                parsed = json.loads(message) if message else {}
            except ValueError:
                parsed = {}
            outcomes.append(service.ses_outcome(parsed) if isinstance(parsed, dict) else None)
    handled = unknown = failed = early = 0
    for outcome in outcomes:
        if outcome is None:
            unknown += 1
            continue
        try:
            known = service.feedback(outcome, clock=clock)
        except service.FeedbackTooEarly:
            early += 1
            continue
        if known:
            handled += 1
            failed += outcome.status != "delivered"
        else:
            unknown += 1
    if failed:
        metrics.add_metric(name="NotificationDeliveryFailures", unit="Count", value=failed)
        metrics.flush_metrics()
    logger.info("delivery feedback", extra={"handled": handled, "ignored": unknown, "early": early})
    if early:
        # The report overtook the write of our provider id: fail, so Lambda's asynchronous retry brings
        # the event back (what was handled now is handled again then, to the same effect).
        raise service.FeedbackTooEarly(f"{early} delivery reports for messages not stored yet")
    return {"handled": handled, "ignored": unknown}
