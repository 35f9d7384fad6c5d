"""Rate limits in the application, behind the WAF's coarser per-address limit in AWS (infra/).

Fixed-window counters in the main table, one item per (limit, subject, window):

    RATE#<limit>#<hmac(subject)> / <window start epoch>    hits (atomic ADD), expiresAt (TTL)

Every limit of a request is taken in one request to DynamoDB: an UpdateItem for one limit, a
transaction for several, so a request refused by one limit does not count against the others. The
counter only grows while below the limit (`hits < :limit` is the write's condition), so a flood cannot
push a window's count beyond it. A fixed window lets up to twice the limit through around a window's
edge; that is acceptable for these limits (a few logins per minute), and cheap (one write, no reads).

Subjects (a client address, a personnummer) are personal data: keys hold a keyed hash only.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core import dynamo
from chalicelib.core.clock import epoch_seconds
from chalicelib.core.config import settings
from chalicelib.core.errors import TooManyRequests


@dataclass(frozen=True)
class Limit:
    name: str  # what is limited, e.g. "auth-start-address"
    subject: str  # who: a client address, a personnummer (hashed before it is stored)
    limit: int  # at most this many per window
    window_s: int


def _subject_key(limit: Limit) -> str:
    from chalicelib.core.personal_number import hmac_key

    return hmac.new(hmac_key(), f"{limit.name}\x00{limit.subject}".encode(), hashlib.sha256).hexdigest()


def _window(limit: Limit, now_epoch: int) -> int:
    return now_epoch - now_epoch % limit.window_s


def _update(limit: Limit, now_epoch: int) -> dict[str, Any]:
    start = _window(limit, now_epoch)
    return {
        "TableName": settings().main_table,
        "Key": dynamo.key(f"RATE#{limit.name}#{_subject_key(limit)}", str(start)),
        "UpdateExpression": "ADD hits :one SET expiresAt = :expires",
        "ConditionExpression": "attribute_not_exists(hits) OR hits < :limit",
        "ExpressionAttributeValues": dynamo.values(one=1, limit=limit.limit, expires=start + limit.window_s + 60),
    }


def _refused(limit: Limit, now_epoch: int) -> TooManyRequests:
    retry_after = _window(limit, now_epoch) + limit.window_s - now_epoch
    return TooManyRequests(
        "För många försök på kort tid. Vänta en stund och försök igen.",
        retry_after_s=retry_after,
        code="rate-limited",
    )


def consume(limits: list[Limit], now: datetime) -> None:
    """Counts one hit against every limit, or raises 429 (with Retry-After) counting none."""
    now_epoch = epoch_seconds(now)
    active = [limit for limit in limits if limit.limit > 0]
    if not active:
        return
    if len(active) == 1:
        try:
            dynamo.client().update_item(**_update(active[0], now_epoch))
        except Exception as error:
            if dynamo.is_condition_failure(error):
                raise _refused(active[0], now_epoch) from None
            raise
        return
    try:
        dynamo.transact_write([{"Update": _update(limit, now_epoch)} for limit in active])
    except dynamo.TransactionConflict as conflict:
        refused = [limit for i, limit in enumerate(active) if conflict.failed(i)]
        if not refused:
            raise
        problems = [_refused(limit, now_epoch) for limit in refused]
        raise max(problems, key=lambda p: int(p.headers["Retry-After"])) from None
