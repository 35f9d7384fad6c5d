"""Lambda runs one invocation per process at a time; the local API server and the event pump run
several at once, in threads of one process. Two process-wide things the app relies on are not made for
that. They are prepared here, once per process before the first invocation (as Lambda's init phase
would run), instead of being changed in the app for a situation that never arises in AWS:

- Powertools' metric set is shared by the process and `flush_metrics` checks it, then serialises it: a
  flush from another thread in between raised "Must contain at least one metric" (a 500 under load).
  The metric calls are serialised with one lock.
- boto3's default session is not thread-safe, and the app creates its clients lazily, on first use:
  client creation is serialised (the clients themselves are thread-safe).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_prepared = False


def _locked(lock: threading.RLock, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return function(*args, **kwargs)

    return call


def prepare_app_for_threads() -> None:
    global _prepared  # noqa: PLW0603 - once per process
    if _prepared:
        return
    import boto3

    from chalicelib.core.observability import metrics

    metrics_lock = threading.RLock()
    for name in ("add_metric", "add_dimension", "add_metadata", "flush_metrics", "clear_metrics"):
        setattr(metrics, name, _locked(metrics_lock, getattr(metrics, name)))
    clients_lock = threading.RLock()
    boto3.setup_default_session()
    boto3.client = _locked(clients_lock, boto3.client)
    boto3.resource = _locked(clients_lock, boto3.resource)
    _prepared = True
