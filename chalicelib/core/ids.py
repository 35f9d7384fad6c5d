"""Identifiers and secrets. Internal ids are random; nothing in them derives from a person."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_id() -> str:
    return str(uuid.uuid4())


def new_token() -> str:
    """A session token's secret part: 256 bits from the OS's CSPRNG."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Sessions are stored under this digest, so a leaked table does not leak usable tokens."""
    return hashlib.sha256(token.encode()).hexdigest()
