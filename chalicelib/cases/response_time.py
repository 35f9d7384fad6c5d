"""When a case must be answered (R-20).

Rule (quotable as is; the same text is `RULE`):

    Care aims to answer a case within two hours, and at the latest on the same working day. All times are
    reasoned about in Swedish time (Europe/Stockholm). Working days are Monday to Friday, except Swedish
    public holidays and Midsummer Eve, Christmas Eve and New Year's Eve. Office hours are 08:00 to 17:00
    (a case that arrives at 17:00 or later counts as arriving after hours). The response clock starts when
    the case arrives if that is during office hours on a working day; at 08:00 that day if it arrives
    before 08:00 on a working day; otherwise (after hours, at a weekend or on a holiday) at 08:00 on the
    next working day. The case is due two hours after the clock starts, on the Swedish wall clock, so a
    case arriving at 16:30 on a working day is due at 18:30 the same day. A case is overdue when it is
    still unanswered after its due time; an answered case is never overdue.

Instants in and out are aware UTC datetimes; only the reasoning above uses Stockholm wall-clock time.
`holidays` and `zoneinfo` are imported on first use to keep cold starts low, and each year's holidays
are computed once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from chalicelib.core.clock import stockholm

RULE = (
    "Care aims to answer a case within two hours, and at the latest on the same working day. All times are "
    "reasoned about in Swedish time (Europe/Stockholm). Working days are Monday to Friday, except Swedish "
    "public holidays and Midsummer Eve, Christmas Eve and New Year's Eve. Office hours are 08:00 to 17:00 "
    "(a case that arrives at 17:00 or later counts as arriving after hours). The response clock starts when "
    "the case arrives if that is during office hours on a working day; at 08:00 that day if it arrives "
    "before 08:00 on a working day; otherwise (after hours, at a weekend or on a holiday) at 08:00 on the "
    "next working day. The case is due two hours after the clock starts, on the Swedish wall clock, so a "
    "case arriving at 16:30 on a working day is due at 18:30 the same day. A case is overdue when it is "
    "still unanswered after its due time; an answered case is never overdue."
)

OFFICE_OPENS = time(8, 0)
OFFICE_CLOSES = time(17, 0)
RESPONSE_TIME = timedelta(hours=2)

_SATURDAY = 5


@cache
def _days_off(year: int) -> frozenset[date]:
    """Swedish public holidays plus the de-facto non-working eves (Midsummer, Christmas and New Year's Eve).

    Sundays are not listed as holidays (`include_sundays=False`); weekends are handled by the weekday test,
    so Saturday holidays (Easter Eve, Midsummer Day, All Saints' Day...) change nothing.
    """
    import holidays

    days = holidays.country_holidays(
        "SE", years=year, categories=(holidays.PUBLIC, holidays.DE_FACTO), include_sundays=False
    )
    return frozenset(days.keys())


def is_working_day(day: date) -> bool:
    """Monday to Friday and neither a Swedish public holiday nor Midsummer, Christmas or New Year's Eve."""
    if isinstance(day, datetime):
        raise TypeError("is_working_day takes a date; use the Stockholm date of an instant")
    return day.weekday() < _SATURDAY and day not in _days_off(day.year)


def _next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _require_aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def clock_start(arrival: datetime) -> datetime:
    """When the response clock starts for a case arriving at `arrival` (aware UTC in, aware UTC out)."""
    _require_aware(arrival, "arrival")
    local = arrival.astimezone(stockholm())
    day, at = local.date(), local.time()
    if is_working_day(day) and at < OFFICE_CLOSES:
        start = max(local.replace(tzinfo=None), datetime.combine(day, OFFICE_OPENS))
    else:
        start = datetime.combine(_next_working_day(day), OFFICE_OPENS)
    return _from_stockholm_wall_clock(start)


def due_at(arrival: datetime) -> datetime:
    """When a case arriving at `arrival` must be answered: clock start plus two hours of Stockholm wall clock."""
    start_local = clock_start(arrival).astimezone(stockholm()).replace(tzinfo=None)
    return _from_stockholm_wall_clock(start_local + RESPONSE_TIME)


def is_overdue(due: datetime, now: datetime, answered: bool) -> bool:
    """True when the case is unanswered and `now` is past `due`. At the due instant itself it is not overdue."""
    _require_aware(due, "due")
    _require_aware(now, "now")
    return not answered and now > due


def _from_stockholm_wall_clock(wall: datetime) -> datetime:
    """A naive Stockholm wall-clock time as an aware UTC instant (only 08:00-19:00 on weekdays reaches here,
    so DST gaps and folds, which fall early on Sunday mornings, never apply)."""
    return wall.replace(tzinfo=stockholm()).astimezone(UTC)
