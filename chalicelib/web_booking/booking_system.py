"""The booking-system port: what the backend asks of PASiS and PMO, shaped after the national scheduling
contracts (RIV-TA crm:scheduling 1.1: GetAvailableTimeslots, GetSubjectOfCareSchedule, MakeBooking,
UpdateBooking, CancelBooking, GetBookingDetails). The booking system is the master of every time; the
adapters (`adapters.py`) speak its wire format, the service applies the rules (R-45)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from chalicelib.clinics.service import BookingSystem as SystemName

__all__ = [
    "BookingDetails",
    "BookingRefused",
    "BookingSystem",
    "BookingSystemUnavailable",
    "SystemName",
    "Timeslot",
]


@dataclass(frozen=True)
class Timeslot:
    slot_id: str
    starts_at: datetime
    ends_at: datetime
    facility: str
    time_type_name: str
    bookable_online: bool  # PASiS 1177-nivå 4 / PMO a booking type visible in the e-services (R-45a)
    booking_id: str | None = None
    cancel_allowed: bool = False  # the booking system's patient permissions on a booked time
    rebook_allowed: bool = False
    hidden: bool = False  # the clinic hid this booking from the citizen (R-45a)
    booked_by: Literal["care", "patient"] | None = None
    is_invitation: bool = False


@dataclass(frozen=True)
class BookingDetails:
    booking_id: str
    status: Literal["booked", "cancelled"]
    timeslot: Timeslot
    external_refs: tuple[str, ...]


class BookingRefused(Exception):
    """The booking system answered and said no (resultCode ERROR): nothing was done there."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class BookingSystemUnavailable(Exception):
    """No usable answer: down, refused by the breaker, a 5xx, or a timeout. A timeout or a 5xx on a
    changing call leaves its outcome unknown (`maybe_done`): ask the booking system, never assume."""

    def __init__(self, system: str, *, timed_out: bool = False, maybe_done: bool = False) -> None:
        super().__init__(f"{system} unavailable")
        self.system = system
        self.timed_out = timed_out
        self.maybe_done = maybe_done


class BookingSystem(Protocol):
    name: SystemName

    def available(self, facility: str, first: date, last: date) -> list[Timeslot]: ...

    def timeslots(self, facility: str, slot_ids: list[str], invitation_id: str | None = None) -> list[Timeslot]:
        """Those of `slot_ids` that are free (with `invitation_id`: still held free for that invitation)."""
        ...

    def schedule(self, personnummer: str, facilities: list[str]) -> list[Timeslot]: ...

    def make(
        self, slot_id: str, personnummer: str, facility: str, ref: str, invitation_id: str | None = None
    ) -> Timeslot: ...

    def update(self, booking_id: str, personnummer: str, new_slot_id: str, ref: str) -> Timeslot: ...

    def cancel(self, booking_id: str, personnummer: str, ref: str) -> None: ...

    def details(self, *, booking_id: str | None = None, ref: str | None = None) -> BookingDetails | None: ...
