"""A release worker that cannot read its page now (DynamoDB unreachable or throttling) asks for a
continuation at once instead of failing its message into a redelivery six minutes later."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ConnectTimeoutError

from chalicelib.notices import release
from chalicelib.notices.ports import STORES
from tests.support import at


class _Unreachable:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def due(self, *args: Any) -> Any:
        raise self.error


def test_an_unreachable_index_ends_the_run_unfinished() -> None:
    stores = replace(STORES, notices=_Unreachable(ConnectTimeoutError(endpoint_url="http://dynamodb")))
    now = at("2027-01-12T17:00:00Z")
    run = release.release_due(3, now, clock=lambda: now, stores=stores)
    assert (run.finished, run.released, run.read) == (False, 0, 0)


def test_any_other_failure_is_raised() -> None:
    stores = replace(STORES, notices=_Unreachable(ValueError("a bug")))
    now = at("2027-01-12T17:00:00Z")
    with pytest.raises(ValueError):
        release.release_due(3, now, clock=lambda: now, stores=stores)
