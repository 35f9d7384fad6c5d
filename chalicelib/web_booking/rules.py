"""R-45's deadlines, per booking system (seed 004, "Bokade tider"):

- PASiS: a booked time can be cancelled and rebooked until 24 hours before it; new bookings and
  rebookings go to the day after today (Stockholm) at the earliest.
- PMO: a new time can be booked, or a booked one moved, to the current day. The seed names no cancel
  deadline for PMO: until the time starts.

The booking system's own permissions on a time (`cancel_booking_allowed`, `rebooking_allowed`) and the
clinic's activated case types (R-45a) come on top; these functions are the dates only."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from chalicelib.clinics.service import BookingSystem
from chalicelib.core.clock import stockholm, stockholm_date

PASIS_CHANGE_BEFORE = timedelta(hours=24)


def earliest_start(system: BookingSystem, now: datetime) -> datetime:
    """The earliest start a new booking or a rebooking may have."""
    if system == "PASiS":
        tomorrow = stockholm_date(now) + timedelta(days=1)
        return datetime.combine(tomorrow, time(0, 0), tzinfo=stockholm())
    return now


def change_deadline(system: BookingSystem, starts_at: datetime) -> datetime:
    """Until when a booked time may be cancelled or moved."""
    return starts_at - PASIS_CHANGE_BEFORE if system == "PASiS" else starts_at


def may_book(system: BookingSystem, starts_at: datetime, now: datetime) -> bool:
    return starts_at >= earliest_start(system, now) and starts_at > now


def may_change(system: BookingSystem, starts_at: datetime, now: datetime) -> bool:
    return now < change_deadline(system, starts_at)
