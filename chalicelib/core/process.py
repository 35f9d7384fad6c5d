"""Process-wide state in one place: things built once per Lambda process (clients, keys, adapters).

`@process_wide` caches a factory's result for the life of the process (created on first use, never at
import: cold start) under a lock, because boto3 must not build clients from several threads at once.
Every such cache is registered, so `reset()` forgets all of them: the tests call it after they change
the environment, instead of knowing which module keeps what.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache, wraps
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_lock = threading.RLock()
_caches: list[Callable[[], None]] = []


def process_wide(factory: Callable[P, T]) -> Callable[P, T]:
    """Cache `factory`'s results per arguments for the process; `reset()` forgets them."""
    cached = cache(factory)

    @wraps(factory)
    def get(*args: P.args, **kwargs: P.kwargs) -> T:
        with _lock:
            return cached(*args, **kwargs)  # type: ignore[arg-type]

    with _lock:
        _caches.append(cached.cache_clear)
    get.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return get


def reset() -> None:
    """Forget every process-wide value (tests that point the process at other services)."""
    with _lock:
        for clear in _caches:
            clear()
