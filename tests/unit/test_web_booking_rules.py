"""R-45's dates per booking system, and the booking-system circuit breaker (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.web_booking import rules
from chalicelib.web_booking.breaker import Breaker
from tests.support import at

TUESDAY_10 = at("2027-01-12T09:00:00Z")  # 10:00 in Stockholm


def test_pasis_books_from_the_next_stockholm_day():
    assert not rules.may_book("PASiS", at("2027-01-12T22:59:00Z"), TUESDAY_10)  # 23:59 today
    assert rules.may_book("PASiS", at("2027-01-12T23:00:00Z"), TUESDAY_10)  # 00:00 tomorrow


def test_pasis_next_day_is_a_stockholm_day_not_a_utc_day():
    late_evening = at("2027-01-12T23:30:00Z")  # already Wednesday 00:30 in Stockholm
    assert not rules.may_book("PASiS", at("2027-01-13T12:00:00Z"), late_evening)
    assert rules.may_book("PASiS", at("2027-01-13T23:00:00Z"), late_evening)


def test_pmo_books_later_today_but_not_the_past():
    assert rules.may_book("PMO", TUESDAY_10 + timedelta(minutes=30), TUESDAY_10)
    assert not rules.may_book("PMO", TUESDAY_10 - timedelta(minutes=1), TUESDAY_10)
    assert not rules.may_book("PMO", TUESDAY_10, TUESDAY_10)


@pytest.mark.parametrize(("hours", "allowed"), [(25, True), (24.01, True), (24, False), (23, False)])
def test_pasis_changes_until_24_hours_before(hours, allowed):
    assert rules.may_change("PASiS", TUESDAY_10 + timedelta(hours=hours), TUESDAY_10) is allowed


def test_pasis_24_hours_are_real_hours_across_the_clock_change():
    # the night to Sunday 28 March 2027 has 23 hours in Stockholm
    saturday_10 = at("2027-03-27T09:00:00Z")
    sunday_10 = at("2027-03-28T08:00:00Z")  # 23 real hours later, same wall-clock time
    assert not rules.may_change("PASiS", sunday_10, saturday_10)
    assert rules.change_deadline("PASiS", sunday_10) == at("2027-03-27T08:00:00Z")


def test_pmo_changes_until_the_time_starts():
    assert rules.may_change("PMO", TUESDAY_10 + timedelta(minutes=5), TUESDAY_10)
    assert not rules.may_change("PMO", TUESDAY_10, TUESDAY_10)


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_failures_in_a_row_and_lets_one_trial_through():
    ticks = Ticks()
    breaker = Breaker(threshold=3, cool_down_s=30, monotonic=ticks)
    for _ in range(2):
        breaker.failed()
    assert breaker.allow()
    breaker.failed()
    assert not breaker.allow() and breaker.retry_after_s() == 30
    ticks.now = 31
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.failed()  # the trial failed: open again
    ticks.now = 40
    assert not breaker.allow()
    ticks.now = 62
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.allow() and breaker.allow()


def test_a_success_resets_the_count():
    breaker = Breaker(threshold=2, monotonic=Ticks())
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert breaker.allow()
