"""The health declaration's PDF, made after submission (R-46).

`health_declaration_pdf` (main-table stream, filtered in infra/functions.py to the INSERT of a
`HEALTHDECL#…` / `DECLARATION` item, so no other write invokes it): builds the PDF of the medically
relevant answers from the record's new image (no read), stores it in the documents bucket and records it
on the declaration. Streams are ordered and Lambda retries from the first failed record: after a failure
the later records of the batch are not touched and are reported with it (partial batch response).

Retries and the 10 minutes: Lambda retries a failed record at once, at most 5 times (the registry's stream
settings); each attempt takes well under a second and is bounded by the function's 30 s timeout, so the
last attempt ends within about 3 minutes of the first. Then the record's stream position goes to the
alarmed `HealthDeclarationPdfStreamFailures` queue; an operator rebuilds with
`{"rebuild": ["<declarationId>", ...]}` (`aws lambda invoke`, or `python -m local invoke` locally).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.core.observability import logger, metrics

bp = Blueprint(__name__)

SORT_KEY = "DECLARATION"
PK_PREFIX = "HEALTHDECL#"


def _inserted_declaration(record: dict[str, Any]) -> dict[str, Any] | None:
    if record.get("eventName") != "INSERT":
        return None
    keys = record.get("dynamodb", {}).get("Keys", {})
    if not keys.get("pk", {}).get("S", "").startswith(PK_PREFIX) or keys.get("sk", {}).get("S") != SORT_KEY:
        return None
    from chalicelib.core import dynamo

    return dynamo.from_item(record["dynamodb"].get("NewImage", {})) or None


class NotBuilt(Exception):
    """An earlier record of the batch failed: this one waits for Lambda's retry from that record."""


@bp.lambda_function(name="health_declaration_pdf")
def health_declaration_pdf(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.core.clock import system_clock
    from chalicelib.health_declarations import service

    if "rebuild" in event:  # an operator's redrive, not a stream batch
        ids = [str(i) for i in event.get("rebuild") or []][:100]
        done = service.rebuild(ids, clock=system_clock)
        metrics.flush_metrics()
        return done

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    failed_at: list[str] = []

    def handle(record: Any) -> None:
        raw: dict[str, Any] = record.raw_event
        sequence = raw.get("dynamodb", {}).get("SequenceNumber")
        if failed_at:
            raise NotBuilt(sequence)
        declaration = _inserted_declaration(raw)
        if declaration is None:
            return
        try:
            service.make_pdf(declaration, clock=system_clock)
        except Exception:
            # Ids only: the declaration's content is health data.
            logger.exception("health declaration PDF failed", extra={"sequence": sequence})
            failed_at.append(sequence)
            raise

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    metrics.flush_metrics()
    return dict(result)
