"""Event-driven case functions.

`case_retention` (main-table stream): R-24 — when DynamoDB's TTL deletes a case two years after it
ended, its messages, history, the citizen's inbox item and its files are deleted too; when it deletes
an attachment nobody used (a day after upload), its file goes too. Idempotent (deleting what is gone
is a no-op) and reports partial batch failures (Powertools' batch processor).
`count_overdue` (every 15 minutes): R-20 — publishes the number of overdue cases per clinic.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.core.observability import logger, metrics

bp = Blueprint(__name__)


def _removed(record: dict[str, Any], prefix: str, sort_key: str) -> dict[str, Any] | None:
    """The old image of a removed item whose key is `<prefix>…` / `sort_key`, else None."""
    if record.get("eventName") != "REMOVE":
        return None
    keys = record.get("dynamodb", {}).get("Keys", {})
    if not keys.get("pk", {}).get("S", "").startswith(prefix) or keys.get("sk", {}).get("S") != sort_key:
        return None
    from chalicelib.core import dynamo

    return dynamo.from_item(record["dynamodb"].get("OldImage", {})) or None


def purge_case(case: dict[str, Any]) -> None:
    from chalicelib.arrivals import service as arrivals
    from chalicelib.cases import repository

    deleted = repository.delete_thread(case["caseId"])
    arrivals.delete(case["citizenId"], case["caseId"])
    attachment_ids = [a for item in deleted for a in (item.get("attachmentIds") or [])]
    if attachment_ids:
        from chalicelib.attachments import service as attachments

        attachments.delete_for_case(case["caseId"], attachment_ids)


@bp.lambda_function(name="case_retention")
def case_retention(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Each removal through Powertools' batch processor (partial batch responses). Streams are ordered
    and Lambda retries from the first failed record: after a failure the later records are not
    touched, and are reported with it."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    purged = 0
    failed_at: list[str] = []  # the first failed record's sequence number

    def handle(record: Any) -> None:
        nonlocal purged
        raw: dict[str, Any] = record.raw_event
        sequence = raw.get("dynamodb", {}).get("SequenceNumber")
        if failed_at:
            raise NotPurged(sequence)
        try:
            if _retire(raw):
                purged += 1
        except Exception:
            logger.exception("case retention failed", extra={"sequence": sequence})
            failed_at.append(sequence)
            raise

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    if purged:
        metrics.add_metric(name="CasesPurged", unit="Count", value=purged)
        metrics.flush_metrics()
    return dict(result)


def _retire(record: dict[str, Any]) -> bool:
    """What a removal takes with it; True when it was a case."""
    case = _removed(record, "CASE#", "CASE")
    if case is not None:
        purge_case(case)
    attachment = _removed(record, "ATTACHMENT#", "ATTACHMENT")
    if attachment is not None and attachment.get("attachmentId"):
        from chalicelib.attachments import service as attachments
        from chalicelib.core.clock import system_clock

        attachments.purge_files([attachment["attachmentId"]], clock=system_clock)
    return case is not None


class NotPurged(Exception):
    """An earlier record of the batch failed: this one waits for Lambda's retry from that record."""


@bp.lambda_function(name="count_overdue")
def count_overdue(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    from chalicelib.cases import repository
    from chalicelib.clinics import service as clinics
    from chalicelib.core.clock import iso

    at = datetime.fromisoformat(str(event.get("time", "")).replace("Z", "+00:00")) if event.get("time") else None
    now = iso(at or datetime.now(UTC))  # scheduled functions take "now" from the event
    counts = {clinic: repository.count_overdue(clinic, now) for clinic in clinics.all_ids()}
    total = sum(counts.values())
    metrics.add_metric(name="OverdueCases", unit="Count", value=total)
    metrics.flush_metrics()
    logger.info("overdue cases counted", extra={"total": total, "clinics": len(counts)})
    return {"total": total, "byClinic": counts}
