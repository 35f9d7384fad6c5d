"""`population_events` (population events queue): the same events as `POST
/integrations/population-events` (`service.receive`). An event that can never be accepted (a 4xx: not
JSON, not an event, a person the register does not know) is logged by its code and dropped; anything
else (the register or DynamoDB unavailable) fails the message, which comes again and lands in the
queue's DLQ after five receives.

Log lines carry message ids, codes and counts: never a personnummer.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.core.clock import Clock, system_clock
from chalicelib.core.observability import logger, metrics

bp = Blueprint(__name__)
clock: Clock = system_clock


@bp.lambda_function(name="population_events")
def population_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from chalicelib.core import intake
    from chalicelib.population.port import population_register
    from chalicelib.registry_events import schemas, service

    counts = {"received": 0, "rejected": 0}

    def use(body: schemas.PopulationEvent) -> None:
        service.receive(body.kind, body.personnummer, actor=service.ACTOR, register=population_register(), clock=clock)

    def handle(record: Any) -> None:
        # The register or the table unavailable (5xx): try again.
        applied = intake.apply(record, schemas.PopulationEvent, use, what="population event")
        counts["received" if applied else "rejected"] += 1

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    if counts["rejected"]:
        metrics.add_metric(name="PopulationEventsRejected", unit="Count", value=counts["rejected"])
        metrics.flush_metrics()
    logger.info("population events", extra=counts)
    return dict(result)
