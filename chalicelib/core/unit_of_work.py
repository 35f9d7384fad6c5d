"""The unit of work: the writes of one decision, committed together or not at all.

Services decide; repositories know keys and turn each write into a DynamoDB action and `add` it here,
naming what a failed condition on it means (`on_failed`); the service commits once, and one
TransactWriteItems carries everything (the business item, its audit entry, the inbox arrival, the
Idempotency-Key guard). Unit tests use an in-memory twin (`tests/unit/fakes/`) with the same `commit`.

    uow = UnitOfWork()
    cases.add_message(uow, case, message)          # repository: keys, condition, on_failed
    audit.append(uow, entry)
    uow.commit()                                   # one request; raises what the failed action names
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.core import dynamo

MAX_ACTIONS = 100  # DynamoDB's limit per TransactWriteItems

OnFailed = Callable[[], BaseException]


class UnitOfWork:
    """Collects actions; `commit()` writes them in one TransactWriteItems."""

    def __init__(self, *, token: str | None = None) -> None:
        self._actions: list[Mapping[str, Any]] = []
        self._on_failed: list[OnFailed | None] = []
        self._token = token  # ClientRequestToken: DynamoDB's own 10-minute idempotency for a resend
        self.committed = False

    def add(self, action: Mapping[str, Any], *, on_failed: OnFailed | None = None, first: bool = False) -> None:
        """One Put/Update/Delete/ConditionCheck. `on_failed()` is raised when its condition fails;
        `first` puts it before the others (the Idempotency-Key guard: a replay is recognised first)."""
        if self.committed:
            raise RuntimeError("this unit of work has been committed")
        if first:
            self._actions.insert(0, action)
            self._on_failed.insert(0, on_failed)
        else:
            self._actions.append(action)
            self._on_failed.append(on_failed)

    @property
    def actions(self) -> list[Mapping[str, Any]]:
        return list(self._actions)

    def __len__(self) -> int:
        return len(self._actions)

    def commit(self) -> None:
        """All or nothing. On a cancelled transaction raises `on_failed()` of the first action whose
        condition failed and that names one; otherwise `dynamo.TransactionConflict` (with per-action
        reasons; `dynamo.is_unavailable` tells a retryable cancellation)."""
        if self.committed:
            raise RuntimeError("this unit of work has been committed")
        if len(self._actions) > MAX_ACTIONS:
            raise ValueError(f"a transaction holds at most {MAX_ACTIONS} actions, not {len(self._actions)}")
        if self._actions:
            try:
                dynamo.transact_write(self._actions, token=self._token)
            except dynamo.TransactionConflict as conflict:
                for index, on_failed in enumerate(self._on_failed):
                    if on_failed is not None and conflict.failed(index):
                        raise on_failed() from conflict
                raise
        self.committed = True
