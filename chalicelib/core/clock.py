"""Time. Instants are UTC; business dates are computed in Europe/Stockholm (DESIGN.md, Time)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
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
    now = datetime.now(UTC)
    shift = _local_shift()
    return now + shift if shift else now


# The local stack's clock (`python -m local clock set ISO-INSTANT`): the API and the functions run that
# far ahead or behind, so a person can stand at 17:59 and at 18:00. Local stage only; in AWS the variable
# is never set and this is one cached None check.
_shift_cache: tuple[tuple[int, int], timedelta] | None = None


def _local_shift() -> timedelta | None:
    global _shift_cache  # noqa: PLW0603 - the last file read, keyed by its mtime and size
    from chalicelib.core.config import local_clock_file

    path = local_clock_file()
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None  # no clock set: real time
    version = (stat.st_mtime_ns, stat.st_size)
    if _shift_cache is None or _shift_cache[0] != version:
        try:
            with open(path, encoding="utf-8") as handle:
                seconds = float(json.load(handle)["offsetSeconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # half-written or not ours: real time rather than a wrong one
        _shift_cache = (version, timedelta(seconds=seconds))
    return _shift_cache[1]


def fixed_clock(instant: datetime) -> Clock:
    if instant.tzinfo is None:
        raise ValueError("a fixed clock needs an aware datetime")
    frozen = instant.astimezone(UTC)
    return lambda: frozen


def iso(instant: datetime) -> str:
    """UTC ISO 8601 with a Z, second precision with milliseconds, as the API promises."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def scheduled_time(event: object) -> datetime | None:
    """A schedule event's planned `time` (EventBridge Scheduler: "2026-01-01T17:00:00Z"): scheduled
    functions take "now" from it, so a late or repeated run acts as of its planned time."""
    raw = event.get("time") if isinstance(event, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        found = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def instant(value: str) -> datetime:
    """The inverse of `iso`: a stored UTC instant ("...Z") as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def epoch_seconds(instant: datetime) -> int:
    return int(instant.timestamp())
