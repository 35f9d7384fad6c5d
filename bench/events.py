"""API Gateway (REST, proxy) events for calling the Chalice handler in-process."""

from __future__ import annotations

import json
import uuid
from typing import Any


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    token: str | None = None,
    resource: str | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`resource` is the route template (e.g. /citizens/{cid}/inbox) with `params` filling it."""
    headers = {"content-type": "application/json", "host": "127.0.0.1"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/api{path}",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
            "stage": "api",
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
