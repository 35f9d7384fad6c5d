"""Queued intake: an SQS message that carries the same JSON body as an HTTP call (booking events,
population events). The body is validated like the request would be and applied; an event that can
never be accepted (not JSON, a 4xx) is logged by its code and dropped, so it does not go round to the
DLQ; anything else fails the message, which SQS hands over again. Log lines carry the message id and
the code: never the body (it may hold a personnummer)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.core.errors import Problem
from chalicelib.core.http import validate
from chalicelib.core.observability import logger

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


def apply(
    record: Any,
    model: type[M],
    use: Callable[[M], object],
    *,
    what: str,
    retry: Callable[[Problem], bool] = lambda problem: problem.status >= 500,
) -> bool:
    """True when applied, False when rejected for good; raises when the message should come again."""
    try:
        try:
            data = json.loads(record.body)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            raise Problem("Meddelandet är inte ett JSON-objekt.", code="invalid-json")
        use(validate(model, data))
    except Problem as problem:
        if retry(problem):
            raise
        logger.warning(f"{what} rejected", extra={"code": problem.code, "messageId": record.message_id})
        return False
    return True
