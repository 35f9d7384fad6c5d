"""The HTTP edge: body parsing, bearer tokens, JSON/problem responses, and the error middleware.

Routes stay thin: `parse_body(Model)` → service → `ok(model)`. Every 4xx leaves here as
problem+json with a stable `code`; nothing a caller sends can produce a 500.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalice.app import Request, Response

from chalicelib.core.errors import (
    PROBLEM_JSON,
    BadRequest,
    InvalidInput,
    Problem,
    ServiceUnavailable,
    Unauthenticated,
    Unhandled,
)
from chalicelib.core.observability import logger, metrics

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound="BaseModel")

MAX_BODY_BYTES = 256 * 1024

# Chalice answers some errors itself before a view runs; give them our shape and a stable code.
_CHALICE_CODES = {
    "BadRequestError": "bad-request",
    "BadRequest": "bad-request",
    "UnsupportedMediaType": "unsupported-media-type",
    "MethodNotAllowedError": "method-not-allowed",
    "NotFoundError": "not-found",
    "UnauthorizedError": "unauthenticated",
    "ForbiddenError": "forbidden",
    # Chalice answers an unexpected exception in a view itself (only ChaliceUnhandledError reaches us).
    "InternalServerError": "internal-error",
}


# Swedish titles and details for Chalice's own answers (its messages are English and name internals).
_CHALICE_TITLES = {
    "method-not-allowed": "Metoden stöds inte",
    "unsupported-media-type": "Innehållstypen stöds inte",
    "not-found": "Finns inte",
    "internal-error": "Tekniskt fel",
}
_CHALICE_DETAILS = {
    "method-not-allowed": "Adressen finns men tar inte emot den här metoden.",
    "unsupported-media-type": "Skicka JSON (Content-Type: application/json).",
    "internal-error": "Ett oväntat fel inträffade. Försök igen senare.",
}


def _json(
    value: Any, status: int, content_type: str = "application/json", headers: dict[str, str] | None = None
) -> Response:
    return Response(
        body=json.dumps(value, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": content_type, "Cache-Control": "no-store", **(headers or {})},
    )


def ok(value: BaseModel | dict[str, Any] | None = None, status: int = 200) -> Response:
    if value is None:
        return Response(body="", status_code=204 if status == 200 else status, headers={"Cache-Control": "no-store"})
    if not isinstance(value, dict):
        value = value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _json(value, status)


def problem_response(problem: Problem) -> Response:
    return _json(problem.body(), problem.status, PROBLEM_JSON, problem.headers)


def _validation_problem(error: ValidationError) -> InvalidInput:
    # Never echo the input back: it may be a personnummer.
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"], "type": e["type"]}
        for e in error.errors(include_input=False, include_url=False)
    ]
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return InvalidInput(f"Kontrollera uppgifterna: {fields}", code="invalid-input", extra={"errors": errors})


def parse_body(request: Request, model: type[M]) -> M:
    try:
        raw = request.raw_body or b""
    except UnicodeEncodeError:  # a lone surrogate in the event's body string
        raise BadRequest("Kroppen är inte giltig UTF-8.", code="invalid-json") from None
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("Begäran är för stor.", code="body-too-large", status=413)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
            # An escaped lone surrogate ("\ud800") parses, but could never be stored or hashed as UTF-8.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeError, RecursionError):  # RecursionError: nesting too deep
            raise BadRequest("Kroppen är inte giltig JSON.", code="invalid-json") from None
    if not isinstance(data, dict):
        raise BadRequest("Kroppen ska vara ett JSON-objekt.", code="invalid-json")
    return validate(model, data)


def validate(model: type[M], data: Any) -> M:
    from pydantic import ValidationError  # lazily: pydantic is a large part of a cold start

    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _validation_problem(error) from None


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 4096:
        raise Unauthenticated("Ange en giltig inloggning (Authorization: Bearer).", code="unauthenticated")
    return token


def _unexpected(error: BaseException) -> Problem:
    """A dependency that is down or throttling is 503 with Retry-After (the caller may retry); anything
    else is a bug: a logged 500 without details."""
    from chalicelib.core.dynamo import is_unavailable

    if is_unavailable(error):
        logger.warning("dependency unavailable", extra={"error": type(error).__name__})
        metrics.add_metric(name="DependencyUnavailable", unit="Count", value=1)
        return ServiceUnavailable()
    logger.exception("unhandled error", exc_info=error)
    return Problem(
        "Ett oväntat fel inträffade. Försök igen senare.", code="internal-error", title="Tekniskt fel", status=500
    )


def error_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Renders problems, converts Chalice's own error bodies, and turns any crash into a logged 500."""
    started = time.perf_counter()
    try:
        response = get_response(event)
    except Problem as problem:
        response = problem_response(problem)
    except Exception as error:
        response = problem_response(_unexpected(error.cause if isinstance(error, Unhandled) else error))
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = _CHALICE_CODES.get(str(body["Code"]), "bad-request")
        title = _CHALICE_TITLES.get(code)
        detail = _CHALICE_DETAILS.get(code) or str(body.get("Message", ""))
        response = problem_response(Problem(detail, code=code, title=title, status=response.status_code))
    elapsed_ms = (time.perf_counter() - started) * 1000
    context = getattr(event, "context", None) or {}
    logger.info(
        "request",
        extra={
            "route": context.get("resourcePath"),
            "method": getattr(event, "method", None),
            "status": response.status_code,
            "duration_ms": round(elapsed_ms, 1),
            "request_id": context.get("requestId"),
        },
    )
    metrics.add_metric(name=f"Http{response.status_code // 100}xx", unit="Count", value=1)
    metrics.flush_metrics()
    return response


def idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header of a creating call (API.md), checked; None when absent."""
    from chalicelib.core.idempotency import checked_key

    return checked_key(request.headers.get("idempotency-key"))


def query_param(request: Request, name: str) -> str | None:
    params: Any = request.query_params or {}  # a MultiDict in Chalice
    value = params.get(name)
    return None if value is None else str(value)
