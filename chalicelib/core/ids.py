"""Identifiers and secrets. Internal ids are random; nothing in them derives from a person."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_id() -> str:
    return str(uuid.uuid4())


def keyed_id(namespace: uuid.UUID, scope: str, idempotency_key: str | None) -> str:
    """The same id for the same (scope, Idempotency-Key), so a retry finds what its first try created; a new
    random id without a key. Each capability keeps its own namespace."""
    return str(uuid.uuid5(namespace, f"{scope}:{idempotency_key}")) if idempotency_key else new_id()


def new_token() -> str:
    """A session token's secret part: 256 bits from the OS's CSPRNG."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Sessions are stored under this digest, so a leaked table does not leak usable tokens."""
    return hashlib.sha256(token.encode()).hexdigest()
