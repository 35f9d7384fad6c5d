"""API Gateway (REST, proxy) events for calling the Chalice handler in-process."""

from __future__ import annotations

import json
import uuid
from typing import Any


def api_event(method: str, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json", "host": "127.0.0.1"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/api{path}",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
            "stage": "api",
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
