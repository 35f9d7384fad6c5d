"""The local pump filters stream records with the same patterns Lambda's FilterCriteria gets from
infra/functions.py: a consumer sees locally exactly the records it would see in AWS."""

from __future__ import annotations

from typing import Any

import pytest

from infra.functions import STREAM_CONSUMERS
from local.event_filter import matches

FILTERS = {c.function: c.filters for c in STREAM_CONSUMERS}


def record(event: str, pk: str, sk: str, new: dict[str, Any] | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}, "SequenceNumber": "1"}
    if new is not None:
        change["NewImage"] = {"pk": {"S": pk}, "sk": {"S": sk}, **new}
    return {"eventName": event, "dynamodb": change}


ARRIVAL = record("MODIFY", "CITIZEN#c1", "INBOX#i1", {"arrivalId": {"S": "a1"}})
INBOX_NEW = record("INSERT", "CITIZEN#c1", "INBOX#i1", {"arrivalId": {"S": "a1"}})
INBOX_READ = record("MODIFY", "CITIZEN#c1", "INBOX#i1", {"unread": {"BOOL": False}})
MESSAGE = record("INSERT", "CASE#k1", "MSG#2026-12-01T10:00:00.000Z#m1", {"body": {"S": "hej"}})
SESSION = record("INSERT", "CITIZEN#c1", "SESSION#abc", {"epoch": {"N": "1"}})
CASE_GONE = record("REMOVE", "CASE#k1", "CASE")
INBOX_GONE = record("REMOVE", "CITIZEN#c1", "INBOX#i1")


@pytest.mark.parametrize(
    ("event", "wanted"),
    [(ARRIVAL, True), (INBOX_NEW, True), (INBOX_READ, False), (MESSAGE, False), (SESSION, False), (INBOX_GONE, False)],
)
def test_inbox_events_sees_only_inbox_items_with_an_arrival(event: dict[str, Any], wanted: bool) -> None:
    assert matches(FILTERS["inbox_events"], event) is wanted


@pytest.mark.parametrize(
    ("event", "wanted"), [(CASE_GONE, True), (INBOX_GONE, True), (ARRIVAL, False), (MESSAGE, False)]
)
def test_case_retention_sees_only_deletions(event: dict[str, Any], wanted: bool) -> None:
    assert matches(FILTERS["case_retention"], event) is wanted


def test_no_patterns_match_everything_and_rules_follow_lambda() -> None:
    assert matches((), MESSAGE)
    assert matches(({"dynamodb": {"NewImage": {"arrivalId": {"S": [{"exists": False}]}}}},), MESSAGE)
    assert not matches(({"eventName": ["REMOVE"]}, {"eventName": ["INSERT"]}), ARRIVAL)  # any pattern, MODIFY
    assert matches(({"eventName": ["REMOVE"]}, {"eventName": ["MODIFY"]}), ARRIVAL)
    with pytest.raises(ValueError):
        matches(({"eventName": [{"anything-but": "X"}]},), ARRIVAL)


def test_the_notifier_still_recognises_every_record_the_filter_lets_through() -> None:
    from chalicelib.notifications import service

    for event in (ARRIVAL, INBOX_NEW):
        assert matches(FILTERS["inbox_events"], event)
        assert service.arrival(event) is not None
