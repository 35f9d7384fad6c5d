"""Powertools Logger and Metrics, created once. Log lines carry ids and outcomes, never personal data.

`lambda_context` is Chalice middleware for every handler (routes, stream/queue/schedule/S3 functions,
console functions): Powertools' `inject_lambda_context` puts the function name, request id and cold
start on each log line, and a correlation id — API Gateway's request id for a request (the same id as
the access log's `requestId`), the Lambda request id otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "e-services"), use_rfc3339=True)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EServices"))


@logger.inject_lambda_context(clear_state=True)
def _in_context(_raw_event: Any, _lambda_context: Any, respond: Callable[[], Any], correlation_id: str | None) -> Any:
    logger.set_correlation_id(correlation_id)
    return respond()


def lambda_context(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware ('all'): the handler runs inside Powertools' logging context."""
    context = getattr(event, "lambda_context", None)  # a request
    correlation_id = None
    if context is not None:
        correlation_id = (getattr(event, "context", None) or {}).get("requestId")
    else:
        context = getattr(event, "context", None)  # an event source or a console invocation
    if context is None or not hasattr(context, "aws_request_id"):
        return get_response(event)
    correlation_id = correlation_id or context.aws_request_id
    return _in_context({}, context, lambda: get_response(event), correlation_id)
