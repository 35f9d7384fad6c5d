"""A circuit breaker per booking system and process: after `threshold` failures in a row the booking
system gets `cool_down_s` of rest, and callers get a 503 at once instead of waiting on timeouts (which
would hold API concurrency and pile onto a system that is already struggling). After the rest one call
goes through (half-open): success closes the circuit, failure opens it again.

Per process on purpose: Lambda runs many processes, each learns on its own within `threshold` calls;
a shared breaker would cost a DynamoDB round trip on every booking call."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

THRESHOLD = 5
COOL_DOWN_S = 30.0


@dataclass
class Breaker:
    threshold: int = THRESHOLD
    cool_down_s: float = COOL_DOWN_S
    monotonic: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    _trial: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self) -> bool:
        """May a call go to the booking system now?"""
        with self._lock:
            if self.opened_at is None:
                return True
            if self.monotonic() - self.opened_at < self.cool_down_s or self._trial:
                return False
            self._trial = True  # half-open: exactly one trial call
            return True

    def retry_after_s(self) -> int:
        with self._lock:
            if self.opened_at is None:
                return 1
            return max(1, round(self.cool_down_s - (self.monotonic() - self.opened_at)))

    def succeeded(self) -> None:
        with self._lock:
            self.failures, self.opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        with self._lock:
            self.failures += 1
            if self._trial or self.failures >= self.threshold:
                self.opened_at, self._trial = self.monotonic(), False
