"""Login starts are limited per client address and per personnummer (issue 7, defect 4), so nobody can
flood BankID through us or keep a known personnummer out by cancelling its orders again and again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import fresh_settings, pnr


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def set_limits(per_address: int, per_person: int) -> None:
        monkeypatch.setenv("AUTH_START_LIMIT_PER_ADDRESS", str(per_address))
        monkeypatch.setenv("AUTH_START_LIMIT_PER_PERSON", str(per_person))
        fresh_settings()

    yield set_limits
    monkeypatch.undo()
    fresh_settings()


def _mid_window_clock(window_s: int) -> Any:
    """A clock in the middle of a limit's window, so no count rolls over while a test runs (a CI run
    once crossed a window's edge between two starts)."""
    from chalicelib.core.clock import epoch_seconds, fixed_clock, system_clock

    now = epoch_seconds(system_clock())
    middle = now - now % window_s + window_s // 2
    return fixed_clock(datetime.fromtimestamp(middle, UTC))


def _orders() -> int:
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings

    # A test-only count of stored BankID orders (the table holds only this test's data).
    items = dynamo.client().scan(TableName=settings().main_table, ProjectionExpression="pk")["Items"]
    return sum(i["pk"]["S"].startswith("BANKID#") for i in items)


def test_starts_from_one_address_beyond_the_limit_get_429_with_retry_after(
    api: Any, limits: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.auth import routes
    from chalicelib.auth.service import ADDRESS_WINDOW_S

    monkeypatch.setattr(routes, "system_clock", _mid_window_clock(ADDRESS_WINDOW_S))
    limits(per_address=3, per_person=100)
    for _ in range(3):
        assert api.call("POST", "/auth/bankid/start", {})[0] == 200
    stored = _orders()
    status, problem, headers = api.call("POST", "/auth/bankid/start", {"personnummer": pnr("Sara")})
    assert status == 429, problem
    assert headers["content-type"] == "application/problem+json"
    assert problem["code"] == "rate-limited" and problem["status"] == 429
    assert 1 <= int(headers["retry-after"]) <= 60 and problem["retryAfter"] == int(headers["retry-after"])
    assert _orders() == stored  # refused before BankID: no order, nothing written


def test_starts_for_one_personnummer_are_limited_whichever_address_they_come_from(limits: Any) -> None:
    from chalicelib.auth import service
    from chalicelib.auth.routes import bankid_client
    from chalicelib.core.errors import Conflict, TooManyRequests

    limits(per_address=100, per_person=2)
    clock = _mid_window_clock(service.PERSON_WINDOW_S)
    service.start(pnr("Sara"), "192.0.2.1", bankid=bankid_client(), clock=clock)
    with pytest.raises(Conflict):  # BankID: one order per person; this start cancelled both (it counts)
        service.start(pnr("Sara"), "192.0.2.2", bankid=bankid_client(), clock=clock)
    with pytest.raises(TooManyRequests) as refused:
        service.start(pnr("Sara"), "192.0.2.3", bankid=bankid_client(), clock=clock)
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 300
    # Someone else, and the QR flow without a personnummer, are not affected.
    for personnummer in (pnr("Johan"), None):
        started = service.start(personnummer, "192.0.2.3", bankid=bankid_client(), clock=clock)
        service.cancel(started.order_ref, bankid=bankid_client())  # leave no pending order for later tests


def test_a_refused_start_does_not_cancel_the_persons_pending_login(api: Any, limits: Any) -> None:
    from chalicelib.auth import service
    from chalicelib.auth.routes import bankid_client
    from chalicelib.core.errors import TooManyRequests

    limits(per_address=100, per_person=1)
    clock = _mid_window_clock(service.PERSON_WINDOW_S)
    started = service.start(pnr("Sara"), "192.0.2.1", bankid=bankid_client(), clock=clock)  # Sara herself
    with pytest.raises(TooManyRequests):  # an attacker with Sara's personnummer, from elsewhere
        service.start(pnr("Sara"), "198.51.100.7", bankid=bankid_client(), clock=clock)
    outcome = None
    for _ in range(5):
        outcome = api.call("POST", "/auth/bankid/collect", {"orderRef": started.order_ref})
        if outcome[1]["status"] != "pending":
            break
    assert outcome is not None and outcome[0] == 200 and outcome[1]["status"] == "complete"


def test_a_limit_of_zero_turns_the_limit_off(api: Any, limits: Any) -> None:
    limits(per_address=0, per_person=0)
    for _ in range(8):
        assert api.call("POST", "/auth/bankid/start", {})[0] == 200
