"""Optimistic concurrency: read, decide, write with a version check; on a lost race, read again.

Appending to a case must not fail because someone else appended first: the write is retried with fresh
state, a bounded number of times, with a little random backoff so that two writers do not collide again
in lockstep. Only when every attempt lost is the caller told (409 `concurrent-change`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from chalicelib.core.errors import Conflict

T = TypeVar("T")
ATTEMPTS = 6
BACKOFF_S = 0.005  # doubled per attempt: 5, 10, 20, 40, 80 ms at most (jittered)


class VersionConflict(Exception):
    """What the attempt read changed before its write committed: read again and retry."""


def retrying(attempt: Callable[[], T], *, conflict: Conflict, attempts: int = ATTEMPTS) -> T:
    """`attempt()` until it does not raise VersionConflict; `conflict` when every attempt did."""
    for n in range(attempts):
        try:
            return attempt()
        except VersionConflict:
            if n + 1 < attempts:
                time.sleep(random.uniform(0, BACKOFF_S * 2**n))  # noqa: S311 - jitter, not a secret
    raise conflict
