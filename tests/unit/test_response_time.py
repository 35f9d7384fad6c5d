"""R-20: when a case is due and when it is overdue. Wall-clock times below are Europe/Stockholm unless they
are written as UTC; the DST tests spell the UTC instants out so the helper cannot hide an offset bug."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chalicelib.cases import response_time
from chalicelib.cases.response_time import RULE, due_at, is_overdue, is_working_day

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def sthlm(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Stockholm wall-clock time as an aware UTC instant, the shape the API takes and returns."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- Working days ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 9, 14), True),  # Monday
        (date(2026, 9, 18), True),  # Friday
        (date(2026, 9, 19), False),  # Saturday
        (date(2026, 9, 20), False),  # Sunday
        (date(2026, 1, 1), False),  # New Year's Day, Thursday
        (date(2026, 1, 6), False),  # Epiphany, Tuesday
        (date(2027, 3, 25), True),  # Maundy Thursday: a half day for banks, a working day for care
        (date(2027, 3, 26), False),  # Good Friday
        (date(2027, 3, 27), False),  # Easter Eve (a Saturday anyway)
        (date(2027, 3, 29), False),  # Easter Monday
        (date(2026, 4, 30), True),  # Walpurgis Eve, Thursday
        (date(2026, 5, 1), False),  # May Day, Friday
        (date(2026, 5, 14), False),  # Ascension Day, Thursday
        (date(2026, 5, 15), True),  # the "klämdag" after Ascension is a working day
        (date(2025, 6, 6), False),  # National Day, Friday
        (date(2027, 6, 24), True),  # the day before Midsummer Eve
        (date(2027, 6, 25), False),  # Midsummer Eve (de facto)
        (date(2024, 12, 24), False),  # Christmas Eve (de facto), Tuesday
        (date(2024, 12, 25), False),  # Christmas Day
        (date(2024, 12, 26), False),  # Boxing Day
        (date(2024, 12, 27), True),  # Friday between Christmas and the weekend
        (date(2025, 12, 31), False),  # New Year's Eve (de facto), Wednesday
        (date(2026, 1, 2), True),  # Friday after New Year's Day
    ],
)
def test_working_days_are_weekdays_without_public_holidays_or_the_three_eves(day, working):
    assert is_working_day(day) is working


def test_is_working_day_refuses_a_datetime_so_no_one_forgets_the_stockholm_date():
    with pytest.raises(TypeError):
        is_working_day(datetime(2026, 9, 14, 10, tzinfo=UTC))


def test_holidays_are_computed_once_per_year():
    assert response_time._days_off(2027) is response_time._days_off(2027)


def test_importing_the_module_does_not_import_holidays():
    root = Path(__file__).resolve().parents[2]
    probe = "import sys, chalicelib.cases.response_time; print('holidays' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- Due times on ordinary days ------------------------------------------------------------------------------


def test_monday_morning_is_due_two_hours_later():
    assert due_at(utc(2026, 9, 14, 8, 0)) == utc(2026, 9, 14, 10, 0)  # Mon 10:00 CEST -> 12:00 CEST


def test_monday_before_office_hours_starts_the_clock_at_eight():
    assert due_at(sthlm(2026, 9, 14, 7, 15)) == sthlm(2026, 9, 14, 10, 0)
    assert due_at(sthlm(2026, 9, 14, 0, 0)) == sthlm(2026, 9, 14, 10, 0)


def test_late_afternoon_is_due_the_same_day_after_closing():
    assert due_at(sthlm(2026, 9, 14, 16, 30)) == sthlm(2026, 9, 14, 18, 30)


@pytest.mark.parametrize(
    ("arrival", "due"),
    [
        (sthlm(2026, 9, 14, 8, 0), sthlm(2026, 9, 14, 10, 0)),  # opening time is within office hours
        (sthlm(2026, 9, 14, 16, 59), sthlm(2026, 9, 14, 18, 59)),  # last minute before closing
        (sthlm(2026, 9, 14, 17, 0), sthlm(2026, 9, 15, 10, 0)),  # closing time is after hours
        (sthlm(2026, 9, 14, 23, 59), sthlm(2026, 9, 15, 10, 0)),
    ],
)
def test_office_hours_boundaries(arrival, due):
    assert due_at(arrival) == due


def test_friday_evening_is_due_monday_at_ten():
    assert due_at(sthlm(2026, 9, 18, 17, 30)) == sthlm(2026, 9, 21, 10, 0)


@pytest.mark.parametrize("arrival", [sthlm(2026, 9, 19, 11, 0), sthlm(2026, 9, 20, 23, 30)])
def test_weekend_is_due_monday_at_ten(arrival):
    assert due_at(arrival) == sthlm(2026, 9, 21, 10, 0)


# --- Holidays and eves --------------------------------------------------------------------------------------


def test_maundy_thursday_evening_skips_easter_and_is_due_the_tuesday_after():
    # 2027: Thu 25 Mar 18:00 CET = 17:00 UTC; Good Friday, the weekend and Easter Monday are off; DST starts
    # on Sun 28 Mar, so Tue 30 Mar 10:00 CEST = 08:00 UTC.
    arrival = utc(2027, 3, 25, 17, 0)
    assert arrival == sthlm(2027, 3, 25, 18, 0)
    assert due_at(arrival) == utc(2027, 3, 30, 8, 0)


def test_good_friday_is_due_the_tuesday_after_easter_monday():
    assert due_at(sthlm(2027, 3, 26, 10, 0)) == sthlm(2027, 3, 30, 10, 0)


def test_midsummer_eve_is_not_a_working_day():
    assert due_at(sthlm(2027, 6, 25, 10, 0)) == sthlm(2027, 6, 28, 10, 0)


def test_christmas_eve_is_due_on_the_27th_when_that_is_a_weekday():
    # 2024: Christmas Eve is a Tuesday; 25th and 26th are holidays; Friday 27th is a working day.
    assert due_at(sthlm(2024, 12, 24, 9, 0)) == sthlm(2024, 12, 27, 10, 0)
    assert due_at(sthlm(2024, 12, 23, 18, 0)) == sthlm(2024, 12, 27, 10, 0)


def test_christmas_eve_is_due_after_the_weekend_when_the_27th_is_a_saturday():
    # 2025: Christmas Eve is a Wednesday; 25th, 26th off; 27th-28th a weekend; due Monday 29th.
    assert due_at(sthlm(2025, 12, 24, 12, 0)) == sthlm(2025, 12, 29, 10, 0)


def test_new_years_eve_is_due_on_the_first_working_day_of_the_new_year():
    # 2025-12-31 is a Wednesday, 2026-01-01 a Thursday holiday, 2026-01-02 a working Friday.
    assert due_at(sthlm(2025, 12, 31, 11, 0)) == sthlm(2026, 1, 2, 10, 0)
    assert due_at(sthlm(2025, 12, 30, 17, 30)) == sthlm(2026, 1, 2, 10, 0)


# --- Daylight saving time -----------------------------------------------------------------------------------


def test_spring_forward_weekend_moves_the_due_instant_one_hour_earlier_in_utc():
    # Fri 27 Mar 2026 17:30 CET (UTC+1) = 16:30 UTC; DST starts Sun 29 Mar; Mon 30 Mar 10:00 CEST = 08:00 UTC.
    arrival = utc(2026, 3, 27, 16, 30)
    assert arrival.astimezone(STOCKHOLM).utcoffset() == timedelta(hours=1)
    due = due_at(arrival)
    assert due == utc(2026, 3, 30, 8, 0)
    assert due.astimezone(STOCKHOLM).utcoffset() == timedelta(hours=2)
    assert due.astimezone(STOCKHOLM).hour == 10


def test_fall_back_weekend_moves_the_due_instant_one_hour_later_in_utc():
    # Fri 23 Oct 2026 17:30 CEST (UTC+2) = 15:30 UTC; DST ends Sun 25 Oct; Mon 26 Oct 10:00 CET = 09:00 UTC.
    arrival = utc(2026, 10, 23, 15, 30)
    assert arrival.astimezone(STOCKHOLM).utcoffset() == timedelta(hours=2)
    due = due_at(arrival)
    assert due == utc(2026, 10, 26, 9, 0)
    assert due.astimezone(STOCKHOLM).utcoffset() == timedelta(hours=1)
    assert due.astimezone(STOCKHOLM).hour == 10


@pytest.mark.parametrize(
    "arrival",
    [
        utc(2026, 10, 24, 22, 0),  # Sun 25 Oct 00:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, the first of the two 02:30s
        utc(2026, 10, 25, 1, 30),  # 02:30 CET, the second
        utc(2026, 10, 25, 12, 0),  # 13:00 CET
    ],
)
def test_sunday_of_dst_end_is_due_monday_at_ten_cet(arrival):
    assert due_at(arrival) == utc(2026, 10, 26, 9, 0)


def test_summer_weekday_due_time_is_computed_in_cest():
    # 10:00 Stockholm in summer is 08:00 UTC, in winter 09:00 UTC.
    assert due_at(utc(2026, 6, 15, 5, 0)) == utc(2026, 6, 15, 8, 0)  # Mon 07:00 CEST
    assert due_at(utc(2026, 1, 12, 5, 0)) == utc(2026, 1, 12, 9, 0)  # Mon 06:00 CET


# --- Inputs and outputs -------------------------------------------------------------------------------------


def test_returns_aware_utc_and_accepts_any_aware_input():
    plus_five = timezone(timedelta(hours=5))
    due = due_at(datetime(2026, 9, 14, 13, 0, tzinfo=plus_five))  # = 10:00 Stockholm
    assert due.tzinfo is UTC
    assert due == utc(2026, 9, 14, 10, 0)


def test_naive_arrival_is_refused():
    with pytest.raises(ValueError):
        due_at(datetime(2026, 9, 14, 10, 0))


def test_every_arrival_in_a_year_is_due_two_hours_into_a_working_day_and_never_earlier_than_arrival():
    arrival = sthlm(2026, 1, 1)
    end = sthlm(2027, 1, 4)
    while arrival < end:
        due = due_at(arrival)
        local_due = due.astimezone(STOCKHOLM)
        assert is_working_day(local_due.date()), arrival
        assert datetime(2000, 1, 1, 10).time() <= local_due.time() < datetime(2000, 1, 1, 19).time(), arrival
        assert due > arrival, arrival
        local_arrival = arrival.astimezone(STOCKHOLM)
        if is_working_day(local_arrival.date()) and 8 <= local_arrival.hour < 17:
            assert due - arrival == timedelta(hours=2), arrival
        arrival += timedelta(minutes=20)


# --- Overdue ------------------------------------------------------------------------------------------------


def test_overdue_only_strictly_after_the_due_instant():
    due = utc(2026, 9, 14, 10, 0)
    assert not is_overdue(due, due - timedelta(microseconds=1), answered=False)
    assert not is_overdue(due, due, answered=False)
    assert is_overdue(due, due + timedelta(microseconds=1), answered=False)
    assert is_overdue(due, due + timedelta(days=3), answered=False)


def test_answered_cases_are_never_overdue():
    due = utc(2026, 9, 14, 10, 0)
    assert not is_overdue(due, due + timedelta(microseconds=1), answered=True)
    assert not is_overdue(due, due + timedelta(days=365), answered=True)


def test_overdue_compares_instants_not_wall_clocks():
    due = utc(2026, 9, 14, 10, 0)
    stockholm_now = datetime(2026, 9, 14, 12, 30, tzinfo=STOCKHOLM)  # 10:30 UTC
    assert is_overdue(due, stockholm_now, answered=False)


def test_overdue_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        is_overdue(utc(2026, 9, 14, 10, 0), datetime(2026, 9, 14, 11, 0), answered=False)
    with pytest.raises(ValueError):
        is_overdue(datetime(2026, 9, 14, 10, 0), utc(2026, 9, 14, 11, 0), answered=False)


# --- The rule text ------------------------------------------------------------------------------------------


def test_rule_text_states_the_rule_and_matches_the_module_docstring():
    for phrase in (
        "two hours",
        "Europe/Stockholm",
        "08:00 to 17:00",
        "Midsummer Eve",
        "Christmas Eve",
        "New Year's Eve",
        "16:30",
        "18:30",
        "never overdue",
    ):
        assert phrase in RULE
    docstring = " ".join((response_time.__doc__ or "").split())
    assert " ".join(RULE.split()) in docstring
