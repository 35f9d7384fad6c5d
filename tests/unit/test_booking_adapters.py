"""The PASiS/PMO adapters' reading of the wire: what is refused, what is unknown, what is online."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chalicelib.web_booking.adapters import PasisAdapter, PmoAdapter
from chalicelib.web_booking.booking_system import BookingRefused, BookingSystemUnavailable
from chalicelib.web_booking.breaker import Breaker

SLOT = {
    "timeslotId": "T-1",
    "startTimeInclusive": "2027-01-13T08:00:00Z",
    "endTimeExclusive": "2027-01-13T08:30:00Z",
    "healthcareFacility": "SE2321000016-2002",
    "timeTypeName": "Läkarbesök",
}


def adapter(handler: Any, cls: Any = PasisAdapter, url: str = "http://booking.test/pasis/") -> Any:
    return cls(url, "key", httpx.Client(transport=httpx.MockTransport(handler)), Breaker(threshold=100))


def answering(payload: Any, status: int = 200) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer key"
        return httpx.Response(status, content=json.dumps(payload))

    return handler


def raising(error: type[Exception]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("boom")  # type: ignore[call-arg]

    return handler


def test_bookable_online_is_webLevel_4_in_pasis_and_visible_in_pmo():
    found = {"resultCode": "OK", "timeslots": [{**SLOT, "webLevel": 4}, {**SLOT, "timeslotId": "T-2", "webLevel": 2}]}
    assert [s.bookable_online for s in adapter(answering(found)).available("F", *_days())] == [True, False]
    pmo = {"resultCode": "OK", "timeslots": [{**SLOT, "visibleInEServices": True}, {**SLOT, "webLevel": 4}]}
    assert [s.bookable_online for s in adapter(answering(pmo), PmoAdapter).available("F", *_days())] == [True, False]


def _days() -> Any:
    from datetime import date

    return date(2027, 1, 13), date(2027, 1, 14)


def test_an_error_answer_is_a_refusal_with_its_code():
    with pytest.raises(BookingRefused) as refused:
        adapter(answering({"resultCode": "ERROR", "errorCode": "SLOT_TAKEN"})).make("T-1", "1" * 12, "F", "ref")
    assert refused.value.code == "SLOT_TAKEN"


@pytest.mark.parametrize(
    ("handler", "maybe_done", "timed_out"),
    [
        (raising(httpx.ReadTimeout), True, True),
        (raising(httpx.ConnectTimeout), False, True),
        (raising(httpx.ConnectError), False, False),
        (raising(httpx.RemoteProtocolError), True, False),
        (answering({"oops": 1}, status=500), True, False),
        (answering("not an object"), True, False),
    ],
)
def test_a_changing_call_without_an_answer_may_have_been_done(handler, maybe_done, timed_out):
    with pytest.raises(BookingSystemUnavailable) as unknown:
        adapter(handler).make("T-1", "1" * 12, "F", "ref")
    assert (unknown.value.maybe_done, unknown.value.timed_out) == (maybe_done, timed_out)


def test_a_read_without_an_answer_changed_nothing():
    with pytest.raises(BookingSystemUnavailable) as unknown:
        adapter(raising(httpx.ReadTimeout)).schedule("1" * 12, ["F"])
    assert not unknown.value.maybe_done


def test_details_not_found_is_none():
    assert adapter(answering({"resultCode": "ERROR", "errorCode": "BOOKING_NOT_FOUND"})).details(ref="r") is None


def test_an_endpoint_not_filled_in_is_unavailable_without_a_call():
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no call without an endpoint")

    with pytest.raises(BookingSystemUnavailable):
        adapter(handler, url="").schedule("1" * 12, ["F"])


def test_an_open_breaker_refuses_at_once():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    client = PasisAdapter(
        "http://b.test/", "key", httpx.Client(transport=httpx.MockTransport(handler)), Breaker(threshold=2)
    )
    for _ in range(4):
        with pytest.raises(BookingSystemUnavailable):
            client.schedule("1" * 12, ["F"])
    assert len(calls) == 2


def test_a_slot_without_a_time_zone_is_a_bad_answer():
    broken = {"resultCode": "OK", "timeslots": [{**SLOT, "startTimeInclusive": "2027-01-13T08:00:00"}]}
    with pytest.raises(BookingSystemUnavailable):
        adapter(answering(broken)).available("F", *_days())


def test_an_unreadable_configuration_is_unavailable_not_a_server_error(monkeypatch):
    from chalicelib.web_booking import adapters

    monkeypatch.setenv("BOOKING_SYSTEMS", "{not json")
    monkeypatch.delenv("BOOKING_SYSTEMS_SECRET_ARN", raising=False)
    from tests.support import fresh_settings

    fresh_settings()
    try:
        with pytest.raises(BookingSystemUnavailable):
            adapters.booking_system("PASiS").schedule("1" * 12, ["F"])
    finally:
        monkeypatch.undo()
        fresh_settings()
