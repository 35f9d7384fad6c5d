"""OpenAPI 3.1 from the same pydantic models the routes use.

Each route is declared with `documented(...)`, which registers it with Chalice and records its
request and response models here, by name: the models module is imported only when the document is
built or the route runs, because pydantic is a large part of a cold start. `document()` builds the
schema that `GET /openapi.json` serves and that `docs/openapi.json` must equal (a test checks).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Chalice, ChaliceUnhandledError, ChaliceViewError

if TYPE_CHECKING:
    from pydantic import BaseModel

_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    tag: str
    models: str  # module holding the named models
    request: str | None
    responses: dict[int, str | None]
    security: str | None
    problems: tuple[int, ...] = field(default_factory=tuple)
    query: tuple[str, ...] = field(default_factory=tuple)  # optional string query parameters
    idempotent: bool = False  # a creating call that takes an Idempotency-Key


OPERATIONS: list[Operation] = []

ViewFunction = Callable[..., Any]


def documented(
    blueprint: Blueprint | Chalice,
    path: str,
    method: str,
    *,
    summary: str,
    tag: str,
    models: str = "",
    request: str | None = None,
    responses: dict[int, str | None] | None = None,
    security: str | None = None,
    problems: tuple[int, ...] = (),
    query: tuple[str, ...] = (),
    idempotent: bool = False,
) -> Callable[[ViewFunction], ViewFunction]:
    operation = Operation(
        path=path,
        method=method.upper(),
        summary=summary,
        tag=tag,
        models=models,
        request=request,
        responses=responses or {200: None},
        security=security,
        problems=problems,
        query=query,
        idempotent=idempotent,
    )

    def register(view: ViewFunction) -> ViewFunction:
        OPERATIONS.append(operation)
        return blueprint.route(path, methods=[operation.method])(_guarded(view))

    return register


def _guarded(view: ViewFunction) -> ViewFunction:
    """Lets every exception of a view reach the error middleware. Chalice answers anything that is not
    a `ChaliceUnhandledError` itself with a bare 500, so the middleware could never tell a DynamoDB
    outage (503) from a bug (500)."""
    from chalicelib.core.errors import Unhandled

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except (ChaliceUnhandledError, ChaliceViewError):
            raise
        except Exception as error:
            raise Unhandled(error) from error

    return guarded


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable, machine-readable reason"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}

_SECURITY_SCHEMES = {
    "citizenSession": {
        "type": "http",
        "scheme": "bearer",
        "description": "Opaque session token from POST /auth/bankid/collect",
    },
    "staffJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "careSystemJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Machine JWT from the staff IdP with `client` and scope `contact-details:read`",
    },
    "bookingSystemJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Machine JWT from the staff IdP with `client` and scope `bookings:write`",
    },
    "populationSystemJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Machine JWT from the staff IdP with `client` and scope `population:write`",
    },
    "labSystemJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Machine JWT from the staff IdP with `client` and scope `lab-results:write`",
    },
}

_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content"}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer", "minimum": 1}}
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key returns the first result and writes nothing new (kept 24 hours). "
    "The same key with a different request is 422 `idempotency-key-reused`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[\\x20-\\x7e]+$"},
}
_PROBLEM_TEXT = {
    429: "Too many requests (problem `rate-limited`, with Retry-After)",
    503: "Temporarily unavailable (problem `service-unavailable`, with Retry-After): try again later",
}
# The title is what `openapi-python-client` names its package after (`e_services_api_client`).
TITLE = "E-services API"
_DESCRIPTION = (
    "A 1177-style patient e-services API: citizen login, inbox and cases. "
    "Errors are application/problem+json with a stable `code`.\n\n"
    "Login: prefer the QR / autostart flow (`POST /auth/bankid/start` with an empty body): it needs no "
    "personnummer and nobody else can cancel it. A start with a personnummer becomes BankID's "
    "`requirement.personalNumber`; BankID allows one order per person, so such starts are limited per "
    "personnummer as well as per client address (429 with Retry-After).\n\n"
    "Every operation may answer 503 `service-unavailable` with Retry-After when a dependency is down."
)
# Deployed, the API is the API Gateway stage `api`; `make run` serves the same paths at the root.
_SERVERS = [{"url": "/api", "description": "This host, under the API Gateway stage `api`"}]
_TAGS = {
    "Citizen login": "BankID login (QR / autostart or personnummer), the session and who is logged in",
    "Inbox": "The citizen's messages and notices, and the log of staff who opened their records",
    "Cases": "Citizens write to their clinic: new cases, replies and complaints",
    "Attachments": "Files attached to cases, uploaded and read through pre-signed URLs",
    "Settings": "The citizen's notification and privacy choices",
    "Clinics": "Public search of clinics and the case types they accept",
    "Staff": "Clinic staff answer, assign and close cases (staff JWT from the region's IdP)",
    "Contact details": "Care systems read a citizen's contact details (machine JWT)",
    "Bookings": "Booking systems send booking events; their notices reach the inbox after 18:00 (machine JWT)",
    "Web booking": "Booked times, bookable times, booking, cancelling and rebooking in the clinic's booking "
    "system, and open invitations (R-44, R-45, R-45a)",
    "Population register": "Changes in the population register: custody, protected identity, death (machine JWT)",
    "Health declaration": "The national health declaration before a visit (R-46): the form, submitting, validity, "
    "and the clinic's PDF of medically relevant answers",
    "Medicines": "The medication list (from 16, not in proxy mode), prescription renewals and orders of "
    "prescribed supplies (R-52, R-53, R-35)",
    "E-services": "Which e-services the citizen (or a guardian for a child) may open now (R-35, R-55, R-09)",
    "Self-sampling": "Test kits ordered by citizens and the labs' results, delivered to the inbox (R-54)",
}
_AUTHENTICATION = {
    None: "Public: needs no authentication.",
    "citizenSession": "Needs a citizen session: `Authorization: Bearer <token>` from `POST /auth/bankid/collect`.",
    "staffJwt": "Needs a staff JWT from the region's IdP: `Authorization: Bearer <jwt>`.",
    "careSystemJwt": "Needs a care system's machine JWT with scope `contact-details:read`.",
    "bookingSystemJwt": "Needs a booking system's machine JWT with scope `bookings:write`.",
    "populationSystemJwt": "Needs the population register feed's machine JWT with scope `population:write`.",
    "labSystemJwt": "Needs a laboratory system's machine JWT with scope `lab-results:write`.",
}
_IDEMPOTENT_TEXT = "Safe to retry with the same `Idempotency-Key`."
_PARAMETERS = {
    "cid": "`me`, or a citizen's id: `citizenId` from `GET /me` or one of its `actingFor` (a child)",
    "itemId": "An inbox item's id",
    "caseId": "A case's id",
    "attachmentId": "An attachment's id",
    "clinicId": "A clinic's id",
    "caseTypeId": "A case type's id within the clinic",
    "cursor": "The `nextCursor` of the previous page; omitted for the first page",
    "disposition": "`attachment` to download the file; anything else shows it inline",
    "q": "Part of the clinic's name",
    "status": "Which cases: `open` (default), `closed` or `overdue`",
    "system": "The booking system: `PASiS` or `PMO`",
    "bookingId": "The booking's id in that booking system",
    "invitationId": "The open invitation's id: its inbox item's id",
    "formId": "A form care sent: its inbox item's id (`formId`)",
    "declarationId": "A health declaration's id (`declarationId` from submitting it)",
    "from": "First day (YYYY-MM-DD, Swedish time); default today",
    "to": "Last day (YYYY-MM-DD, Swedish time); default 13 days after `from`; at most 31 days in all",
}


def _description(op: Operation) -> str:
    parts = [op.summary.rstrip(".") + ".", _AUTHENTICATION[op.security]]
    if op.idempotent:
        parts.append(_IDEMPOTENT_TEXT)
    return "\n\n".join(parts)


def _parameter(name: str, where: str, required: bool, max_length: int) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": _PARAMETERS[name],
        "schema": {"type": "string", "maxLength": max_length},
    }


def document() -> dict[str, Any]:
    import importlib

    from pydantic.json_schema import models_json_schema

    def resolve(op: Operation, name: str | None) -> type[BaseModel] | None:
        # A name with a "/" is a media type: a binary body (e.g. a PDF), not a model.
        return getattr(importlib.import_module(op.models), name) if name and "/" not in name else None

    models: list[type[BaseModel]] = []
    for op in OPERATIONS:
        for model in (resolve(op, op.request), *(resolve(op, n) for n in op.responses.values())):
            if model is not None and model not in models:
                models.append(model)
    schema_refs, definitions = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}", by_alias=True
    )
    schemas = dict(definitions.get("$defs", {}))
    schemas["Problem"] = _PROBLEM_SCHEMA

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return schema_refs[(model, "validation")]

    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(OPERATIONS, key=lambda o: (o.path, o.method)):
        entry: dict[str, Any] = {
            "summary": op.summary,
            "description": _description(op),
            "tags": [op.tag],
            "operationId": op.method.lower() + "_" + re.sub(r"[^A-Za-z0-9]+", "_", op.path).strip("_"),
            "responses": {},
        }
        parameters = [_parameter(name, "path", True, 128) for name in _PARAM.findall(op.path)]
        parameters += [_parameter(name, "query", False, 200) for name in op.query]
        if op.idempotent:
            parameters.append(_IDEMPOTENCY_KEY)
        if parameters:
            entry["parameters"] = parameters
        request = resolve(op, op.request)
        if request is not None:
            entry["requestBody"] = {
                # An empty body is fine where the model has no required field (e.g. start's optional pnr).
                "required": any(f.is_required() for f in request.model_fields.values()),
                "content": {"application/json": {"schema": ref(request)}},
            }
        for status, name in op.responses.items():
            response: dict[str, Any] = {"description": _STATUS_TEXT.get(status, str(status))}
            model = resolve(op, name)
            if model is not None or (name and "/" in name):  # a model's JSON, or a binary body (e.g. a PDF)
                binary = {str(name): {"schema": {"type": "string", "format": "binary"}}}
                response["content"] = {"application/json": {"schema": ref(model)}} if model else binary
            entry["responses"][str(status)] = response
        for status in (*op.problems, 503):
            described: dict[str, Any] = {"description": _PROBLEM_TEXT.get(status, "Problem"), "content": problem}
            if status in (429, 503):
                described["headers"] = _RETRY_AFTER
            entry["responses"][str(status)] = described
        entry["responses"]["4XX"] = {"description": "Problem (RFC 9457)", "content": problem}
        # An empty list says "public" outright (linters and generated clients read a missing one as unknown).
        entry["security"] = [{op.security: []}] if op.security else []
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    undescribed = {op.tag for op in OPERATIONS} - set(_TAGS)
    if undescribed:
        raise ValueError(f"give each tag a description in _TAGS: {sorted(undescribed)}")
    used = {op.tag for op in OPERATIONS}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": "1.0.0",
            "description": _DESCRIPTION,
            "contact": {"name": "E-services team"},
        },
        "servers": _SERVERS,
        "tags": [{"name": name, "description": text} for name, text in _TAGS.items() if name in used],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": _SECURITY_SCHEMES},
    }


docs = Blueprint(__name__)


@docs.route("/openapi.json", methods=["GET"])
def openapi_json() -> dict[str, Any]:
    return document()
