"""`attachment_uploaded`: S3 invokes it for every object created under `pending/` in the attachments
bucket (the local pump does the same, in the same event shape). Each upload is judged by its content
(R-23) and moved to `files/<id>` or deleted; see `service.check_upload`.

Logs carry attachment ids and outcomes only: never a file name, never file content.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from chalice.app import Blueprint

from chalicelib.core.clock import system_clock
from chalicelib.core.lazy import lazy_module
from chalicelib.core.observability import logger, metrics

if TYPE_CHECKING:
    from chalicelib.attachments import service, storage
else:
    service = lazy_module("chalicelib.attachments.service")
    storage = lazy_module("chalicelib.attachments.storage")

bp = Blueprint(__name__)


def _attachment_id(record: Any) -> str | None:
    """The attachment id of an S3 ObjectCreated record for `pending/<id>` in our bucket, else None."""
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
        return None
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3") or {}
    if (s3.get("bucket") or {}).get("name") != storage.bucket():
        return None
    # Keys arrive URL-encoded as in an HTML form (a space is "+").
    key = unquote_plus(str((s3.get("object") or {}).get("key", "")))
    return storage.attachment_id_of_pending_key(key)


@bp.lambda_function(name="attachment_uploaded")
def attachment_uploaded(event: Any, context: Any) -> dict[str, int]:
    """Returns {"checked": n, "rejected": m, "skipped": k}. Raises after trying every record if one
    failed unexpectedly, so that Lambda retries the event (every step is safe to repeat)."""
    counts = {"checked": 0, "rejected": 0, "skipped": 0}
    failure: Exception | None = None
    records = event.get("Records") if isinstance(event, dict) else None
    for record in records if isinstance(records, list) else []:
        attachment_id = _attachment_id(record)
        if attachment_id is None:
            counts["skipped"] += 1
            logger.warning("attachment event ignored: not an upload to pending/ in the attachments bucket")
            continue
        try:
            result = service.check_upload(attachment_id, clock=system_clock)
        except Exception as error:
            logger.exception("attachment check failed", extra={"attachment_id": attachment_id})
            failure = failure or error
            continue
        counts[result.outcome] += 1
        logger.info(
            "attachment checked",
            extra={"attachment_id": attachment_id, "outcome": result.outcome, "reason": result.reason},
        )
    metrics.add_metric(name="AttachmentChecked", unit="Count", value=counts["checked"])
    metrics.add_metric(name="AttachmentRejected", unit="Count", value=counts["rejected"])
    metrics.flush_metrics()
    if failure is not None:
        raise failure
    return counts
