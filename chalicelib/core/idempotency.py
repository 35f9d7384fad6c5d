"""Idempotency-Key, checked at the storage key (API.md: "a retry with the same key returns the first
result and writes nothing new").

A creating call with a key writes one guard item in the same transaction as everything it creates:

    IDEMPOTENCY#<hmac(scope, key)> / IDEMPOTENCY    fingerprint of the request, the first result, TTL

The guard's Put is conditional (`attribute_not_exists`), so of two attempts with the same key exactly
one commits; the other is cancelled as a whole and answers the stored result. A retry that arrives after
the first attempt committed finds the guard before it writes anything (`replayed`), even if the world
changed meanwhile (the case was closed, the attachment is now in use). A key reused for a different
request is refused (422 `idempotency-key-reused`) instead of silently answering something else.

The scope names the caller and the operation (e.g. `case-message:<caseId>:<actor>`), so two callers
cannot collide on one key. The digest is keyed (HMAC with the lookup secret): scopes and fingerprints can
hold personal data, guard keys never show it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.core import dynamo
from chalicelib.core.config import settings
from chalicelib.core.errors import BadRequest, InvalidInput

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork

SORT_KEY = "IDEMPOTENCY"
# How long a key is remembered. A client retries within minutes; a day covers an app that was offline.
TTL_S = 24 * 3600
MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class Guard:
    digest: str
    fingerprint: str
    ttl_s: int = TTL_S

    @property
    def key(self) -> dict[str, Any]:
        return dynamo.key(f"IDEMPOTENCY#{self.digest}", SORT_KEY)


def _digest(*parts: str) -> str:
    from chalicelib.core.personal_number import hmac_key

    return hmac.new(hmac_key(), "\x00".join(parts).encode(), hashlib.sha256).hexdigest()


def checked_key(raw: str | None) -> str | None:
    """The Idempotency-Key header's value, or None; 400 when it is not 1–128 printable ASCII characters."""
    if raw is None:
        return None
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not raw.isascii() or not raw.isprintable():
        raise BadRequest("Idempotency-Key ska vara 1–128 tecken (ASCII).", code="invalid-idempotency-key")
    return raw


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def fingerprint(request: Any) -> str:
    """A keyed digest of a request (any JSON-able value): a retry has the same, another request not."""
    return _digest("fingerprint", _canonical(request))


def guard(scope: str, key: str | None, request: Any) -> Guard | None:
    """The guard for (scope, key), fingerprinting `request`; None without a key."""
    if key is None:
        return None
    return Guard(digest=_digest(scope, key), fingerprint=fingerprint(request))


def content_guard(scope: str, request: Any, ttl_s: int) -> Guard:
    """A guard keyed by the request itself, for callers that send no key (the support desk's console
    events): the same event again within `ttl_s` is a retry (a double click, a Lambda retry); after
    that it is a new request."""
    printed = fingerprint(request)
    return Guard(digest=_digest(scope, printed), fingerprint=printed, ttl_s=ttl_s)


def reused() -> InvalidInput:
    return InvalidInput(
        "Idempotency-Key har redan använts för en annan begäran. Använd en ny nyckel.",
        code="idempotency-key-reused",
    )


def replayed(g: Guard | None, now_epoch: int) -> dict[str, Any] | None:
    """The first result stored under the guard, or None when this key has not been used (yet)."""
    if g is None:
        return None
    response = dynamo.client().get_item(TableName=settings().main_table, Key=g.key, ConsistentRead=True)
    return replayed_from(g, dynamo.from_item(response["Item"]) if "Item" in response else None, now_epoch)


def replayed_from(g: Guard | None, item: dict[str, Any] | None, now_epoch: int) -> dict[str, Any] | None:
    """As `replayed`, from the guard item the caller read together with its own items (one request)."""
    if g is None:
        return None
    if not dynamo.is_live(item, now_epoch):
        return None
    assert item is not None
    if item.get("fingerprint") != g.fingerprint:
        raise reused()
    result: dict[str, Any] = item.get("result") or {}
    return result


def put_action(g: Guard, result: dict[str, Any], now_epoch: int) -> dict[str, Any]:
    """The guard's conditional Put, to go first in the creating call's transaction."""
    return {
        "Put": {
            "TableName": settings().main_table,
            "Item": dynamo.to_item(
                {
                    **{k: v["S"] for k, v in g.key.items()},
                    "type": "idempotency",
                    "fingerprint": g.fingerprint,
                    "result": result,
                    "expiresAt": now_epoch + g.ttl_s,
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


class LostRace(Exception):
    """Another attempt with the same Idempotency-Key committed first (the guard's condition failed)."""

    def __init__(self, g: Guard) -> None:
        super().__init__("idempotency-key race lost")
        self.guard = g


def add_guard(uow: UnitOfWork, g: Guard | None, result: dict[str, Any], now_epoch: int) -> None:
    """Puts the guard first in `uow` (when there is one); a lost race raises `LostRace` on commit, after
    which `winner(error, now_epoch)` is the first attempt's result."""
    if g is not None:
        uow.add(put_action(g, result, now_epoch), on_failed=lambda: LostRace(g), first=True)


def winner(error: LostRace, now_epoch: int) -> dict[str, Any]:
    """The result of the attempt that won the race for this key."""
    first = replayed(error.guard, now_epoch)
    if first is None:  # cancelled on the guard, yet no guard: it expired in between; treat as a conflict
        raise error.__cause__ or error
    return first
