"""The notice rules (R-41, R-41a, R-42, R-43), pure: release time across daylight saving, the paper
decision, the unread follow-up, the order of a booking's events."""

from __future__ import annotations

import pytest

from chalicelib.core.clock import iso
from chalicelib.notices import rules
from tests.support import at


@pytest.mark.parametrize(
    ("booked_at", "released_at"),
    [
        ("2026-12-01T13:00:00Z", "2026-12-01T17:00:00.000Z"),  # winter: 18:00 is 17:00 UTC
        ("2026-06-10T12:00:00Z", "2026-06-10T16:00:00.000Z"),  # summer: 18:00 is 16:00 UTC
        ("2026-03-29T15:30:00Z", "2026-03-29T16:00:00.000Z"),  # 17:30 on the day summer time starts
        ("2026-10-25T16:30:00Z", "2026-10-25T17:00:00.000Z"),  # 17:30 on the day summer time ends
        ("2026-03-28T16:30:00Z", "2026-03-28T17:00:00.000Z"),  # the day before: still winter time
        ("2026-12-01T17:00:00Z", "2026-12-01T17:00:00.000Z"),  # made at 18:00 sharp: at once
        ("2026-12-01T18:05:00Z", "2026-12-01T18:05:00.000Z"),  # made after 18:00: at once
        ("2026-12-01T23:30:00Z", "2026-12-02T17:00:00.000Z"),  # 00:30 next day in Stockholm: that day's 18:00
        ("2026-03-29T00:30:00Z", "2026-03-29T16:00:00.000Z"),  # 01:30, before the clocks go forward
    ],
)
def test_a_notice_is_released_at_18_stockholm_on_the_booking_day_or_at_once(booked_at: str, released_at: str) -> None:
    assert iso(rules.release_at(at(booked_at))) == released_at


@pytest.mark.parametrize(
    ("facts", "paper", "reason", "digital"),
    [
        ({}, False, None, True),
        ({"digital_only": False}, True, "digital-only-off", True),
        ({"enclosures": True}, True, "enclosures", True),
        ({"locked": True}, True, "account-locked", True),  # the inbox still gets it
        ({"has_account": False}, True, "no-account", False),
        ({"deceased": True}, True, "deceased", False),
        ({"deceased": True, "has_account": False, "locked": True}, True, "deceased", False),
    ],
)
def test_the_paper_decision(facts: dict[str, bool], paper: bool, reason: str | None, digital: bool) -> None:
    given = {"deceased": False, "has_account": True, "locked": False, "digital_only": True, "enclosures": False}
    decision = rules.paper_decision(**(given | facts))
    assert (decision.paper, decision.reason, decision.digital) == (paper, reason, digital)


@pytest.mark.parametrize(
    ("starts_at", "reported_at"),
    [
        ("2027-02-01T08:00:00Z", "2027-01-19T17:00:00.000Z"),  # far off: 7 days after release
        ("2027-01-20T08:00:00Z", "2027-01-17T08:00:00.000Z"),  # sooner: 3 days before the visit
        ("2027-01-13T08:00:00Z", "2027-01-12T17:00:00.000Z"),  # within 3 days: at release, not before
    ],
)
def test_an_unread_notice_is_reported_7_days_after_release_or_3_days_before_the_visit(
    starts_at: str, reported_at: str
) -> None:
    assert iso(rules.unread_report_at(at("2027-01-12T17:00:00Z"), at(starts_at))) == reported_at


def test_events_are_ordered_by_booked_at_then_sequence_as_strings() -> None:
    versions = [
        rules.version(at("2027-01-12T13:00:00Z"), 0),
        rules.version(at("2027-01-12T13:00:00Z"), 2),
        rules.version(at("2027-01-12T13:00:00Z"), 10),
        rules.version(at("2027-01-12T14:00:00+01:00"), 11),  # the same instant in another offset
        rules.version(at("2027-01-12T13:00:00.5Z"), 0),
        rules.version(at("2027-01-13T00:00:00Z"), 0),
    ]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
