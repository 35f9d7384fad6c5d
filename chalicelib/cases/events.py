"""Event-driven case functions.

`case_retention` (main-table stream): R-24 — when DynamoDB's TTL deletes a case two years after it
ended, its messages, history, the citizen's inbox item and its files are deleted too; when it deletes
an attachment nobody used (a day after upload), its file goes too. Idempotent (deleting what is gone
is a no-op) and reports partial batch failures.
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
    from chalicelib.cases import repository
    from chalicelib.inbox import service as inbox

    deleted = repository.delete_thread(case["caseId"])
    inbox.delete(case["citizenId"], case["caseId"])
    attachment_ids = [a for item in deleted for a in (item.get("attachmentIds") or [])]
    if attachment_ids:
        from chalicelib.attachments import service as attachments

        attachments.delete_for_case(case["caseId"], attachment_ids)


@bp.lambda_function(name="case_retention")
def case_retention(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    purged = 0
    for record in event.get("Records", []):
        try:
            case = _removed(record, "CASE#", "CASE")
            if case is not None:
                purge_case(case)
                purged += 1
            attachment = _removed(record, "ATTACHMENT#", "ATTACHMENT")
            if attachment is not None and attachment.get("attachmentId"):
                from chalicelib.attachments import service as attachments
                from chalicelib.core.clock import system_clock

                attachments.purge_files([attachment["attachmentId"]], clock=system_clock)
        except Exception:
            logger.exception(
                "case retention failed", extra={"sequence": record.get("dynamodb", {}).get("SequenceNumber")}
            )
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            break  # streams are ordered: Lambda retries from the first failure
    if purged:
        metrics.add_metric(name="CasesPurged", unit="Count", value=purged)
        metrics.flush_metrics()
    return {"batchItemFailures": failures}


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
