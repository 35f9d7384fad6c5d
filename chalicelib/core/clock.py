"""Time. Instants are UTC; business dates are computed in Europe/Stockholm (DESIGN.md, Time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


@cache
def stockholm() -> ZoneInfo:
    """Europe/Stockholm, loaded on first use (zoneinfo costs ~7 ms of a cold start)."""
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Stockholm")


def stockholm_date(instant: datetime) -> date:
    """The calendar date in Sweden at `instant`: business dates and cut-offs use this."""
    return instant.astimezone(stockholm()).date()


Clock = Callable[[], datetime]
"""Returns the current instant as an aware UTC datetime. Services take one so tests can pick the date."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(instant: datetime) -> Clock:
    if instant.tzinfo is None:
        raise ValueError("a fixed clock needs an aware datetime")
    frozen = instant.astimezone(UTC)
    return lambda: frozen


def iso(instant: datetime) -> str:
    """UTC ISO 8601 with a Z, second precision with milliseconds, as the API promises."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_seconds(instant: datetime) -> int:
    return int(instant.timestamp())
