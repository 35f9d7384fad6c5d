"""Opaque page cursors: DynamoDB's LastEvaluatedKey, base64url-encoded, checked on the way back in so a
cursor cannot be turned into a read of someone else's partition."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.core.errors import BadRequest


def encode(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None, expect: dict[str, str]) -> dict[str, Any] | None:
    """The key, if every attribute in `expect` has exactly that string value; else 400."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        valid = isinstance(key, dict) and all(key.get(name) == {"S": value} for name, value in expect.items())
        valid = valid and all(isinstance(v, dict) and list(v) == ["S"] for v in key.values())
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        valid = False
    if not valid:
        raise BadRequest("Ogiltig sidmarkör.", code="invalid-cursor")
    return key
