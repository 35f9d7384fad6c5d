"""Notification functions (R-11, R-12); the rules are in `chalicelib/notifications/service.py`.

`inbox_events` (main-table stream): a new arrival in an inbox → notifications created and queued by id.
`send_notifications` (NotificationsQueue): sends each notification at most once (Powertools batch
processing with partial failures, and Powertools idempotency keyed on the notification id).
`delivery_feedback` (SES events through SNS; SMS delivery status logs through a CloudWatch Logs
subscription): moves notifications to delivered / temporary-failure / permanent-failure.

Log lines carry notification and item ids and outcomes: never a phone number, an address or content.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.core.observability import logger, metrics

if TYPE_CHECKING:
    from chalicelib.notifications import service
else:
    from chalicelib.core.lazy import lazy_module

    service = lazy_module("chalicelib.notifications.service")

bp = Blueprint(__name__)


@bp.lambda_function(name="inbox_events")
def inbox_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.core.clock import system_clock

    failures = []
    queued = 0
    for record in event.get("Records", []):
        try:
            found = service.arrival(record)
            if found is not None:
                queued += len(service.notify_arrival(*found, clock=system_clock))
        except Exception:
            logger.exception(
                "notifying an arrival failed", extra={"sequence": record.get("dynamodb", {}).get("SequenceNumber")}
            )
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            break  # streams are ordered: Lambda retries from the first failure
    if queued:
        metrics.add_metric(name="NotificationsQueued", unit="Count", value=queued)
        metrics.flush_metrics()
    return {"batchItemFailures": failures}


_sender: Any = None


def _idempotent_sender() -> Any:
    """`send_once(message=...)`, idempotent per notification id (built on first use: the persistence
    layer creates a boto3 client, which `cdk synth` importing app.py must not)."""
    global _sender  # noqa: PLW0603 - a process-wide lazy singleton is the point
    if _sender is None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        from chalicelib.core import dynamo
        from chalicelib.core.clock import system_clock

        config = IdempotencyConfig(
            event_key_jmespath="notificationId",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=24 * 3600,
        )
        # The app's one DynamoDB client (one connection pool; the benchmark's meter sees these calls too).
        persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"], boto3_client=dynamo.client())

        @idempotent_function(data_keyword_argument="message", persistence_store=persistence, config=config)
        def send_once(message: dict[str, Any]) -> dict[str, str]:
            return {"outcome": service.send(str(message["notificationId"]), clock=system_clock)}

        _sender = (send_once, config)
    return _sender


def reset_sender() -> None:
    """Forget the idempotent sender (tests that switch tables)."""
    global _sender  # noqa: PLW0603
    _sender = None


@bp.lambda_function(name="send_notifications")
def send_notifications(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import json

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    if not event.get("Records"):
        return {"batchItemFailures": []}
    send_once, config = _idempotent_sender()
    config.register_lambda_context(context)
    outcomes: dict[str, int] = {}

    def handle(record: Any) -> None:
        message = json.loads(record.body)
        if not isinstance(message, dict) or set(message) != {"notificationId"}:
            raise ValueError("a notification message holds the notification id and nothing else")
        outcome = send_once(message=message)["outcome"]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        logger.info("notification handled", extra={"notificationId": message["notificationId"], "outcome": outcome})

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    if outcomes.get("sent"):
        metrics.add_metric(name="NotificationsSent", unit="Count", value=outcomes["sent"])
    if outcomes.get("technical-failure"):
        metrics.add_metric(name="NotificationDeliveryFailures", unit="Count", value=outcomes["technical-failure"])
    if outcomes.get("sent") or outcomes.get("technical-failure"):
        metrics.flush_metrics()
    return dict(result)


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

    from chalicelib.core.clock import system_clock

    outcomes: list[tuple[str, str, str | None] | None] = []
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
    handled = unknown = failed = 0
    for outcome in outcomes:
        if outcome is None:
            unknown += 1
            continue
        provider_message_id, status, reason = outcome
        if service.feedback(provider_message_id, status, clock=system_clock, reason=reason):
            handled += 1
            failed += status != "delivered"
        else:
            unknown += 1
    if failed:
        metrics.add_metric(name="NotificationDeliveryFailures", unit="Count", value=failed)
        metrics.flush_metrics()
    logger.info("delivery feedback", extra={"handled": handled, "ignored": unknown})
    return {"handled": handled, "ignored": unknown}
