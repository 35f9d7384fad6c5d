"""The provider rate limit: a token bucket per process, shared by the sender's threads.

`NOTIFICATION_SEND_RATE_PER_S` (default 4) provider calls per second per process, bursts up to one
second's worth. The queue consumer's MaximumConcurrency (infra/functions.py) caps the processes, so
the account-wide rate is at most concurrency × rate: keep that under the SNS SMS and SES sending quotas
(docs/architecture.md, Delivery guarantees).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chalicelib.core.config import settings
from chalicelib.core.process import process_wide

ENV = "NOTIFICATION_SEND_RATE_PER_S"
DEFAULT_RATE_PER_S = 4.0


def _sleep_until(instant: float) -> None:
    time.sleep(max(0.0, instant - time.monotonic()))


class TokenBucket:
    """`rate_per_s` tokens a second, at most `burst` saved up. A caller that finds no token reserves
    the next one and waits for it outside the lock, so waiting callers are served in order at the rate."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        wait_until: Callable[[float], None] = _sleep_until,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("the rate must be positive")
        self.rate = rate_per_s
        self.burst = max(1.0, rate_per_s if burst is None else burst)
        self._now = now
        self._wait_until = wait_until
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._stamp = now()

    def acquire(self, max_wait_s: float | None = None) -> float | None:
        """Takes a token, waiting for it if need be. Returns the instant (on the bucket's clock) it was
        granted, or None, taking nothing, when it would come later than `max_wait_s` from now."""
        with self._lock:
            now = self._now()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            ready = now if self._tokens >= 1 else now + (1 - self._tokens) / self.rate
            if max_wait_s is not None and ready - now > max_wait_s:
                return None
            self._tokens -= 1
        if ready > now:
            self._wait_until(ready)
        return ready


def configured_rate() -> float:
    configured = settings().notification_send_rate_per_s
    return DEFAULT_RATE_PER_S if configured is None else configured


@process_wide
def limiter() -> TokenBucket:
    """The process's bucket, built on first use from the settings (`core.process.reset()` forgets it)."""
    return TokenBucket(configured_rate())
