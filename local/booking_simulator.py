"""A booking-system simulator (PASiS and PMO) for the local stack and tests.

Speaks the booking systems' wire contract (JSON over HTTP, shaped after RIV-TA crm:scheduling 1.1; see
chalicelib/web_booking/adapters.py): `POST /{pasis|pmo}/{Operation}` with `Authorization: Bearer <apiKey>`:

  GetAvailableTimeslots    {healthcareFacility, startDate, endDate} | {healthcareFacility, timeslotIds}
  GetSubjectOfCareSchedule {subjectOfCare, healthcareFacilities}     the person's future bookings, hidden ones too
  MakeBooking              {timeslotId, subjectOfCare, healthcareFacility, externalRef, invitationId?}
  UpdateBooking            {bookingId, subjectOfCare, newTimeslotId, externalRef}
  CancelBooking            {bookingId, subjectOfCare, externalRef}
  GetBookingDetails        {bookingId} | {externalRef}

Answers are HTTP 200 with resultCode OK | INFO | ERROR (+ errorCode, message); a malformed request is 400
INVALID_REQUEST, a wrong key 401 UNAUTHORIZED. Changing calls are idempotent on externalRef (a repeat: INFO).

Schedules are made lazily and deterministically for the seed file's facilities (testdata/web-booking.json):
weekdays 08:00-16:00 Stockholm every 30 minutes, the first two of each day not bookable online (PASiS
webLevel 2 instead of 4; PMO visibleInEServices false). "Now" is the stack's clock file (`--clock-file`,
else LOCAL_CLOCK_FILE; format of chalicelib/core/clock.py), else real time. Control endpoints (no auth):

  GET  /sim/health   GET /sim/stats   POST /sim/reset   POST /sim/latency {ms}
  POST /sim/faults {system?, operation|"*", mode: error|fail-after-commit|slow, delayMs?, count?}   DELETE /sim/faults
  POST /sim/timeslots {system, healthcareFacility, startTime, endTime?, bookable, timeTypeName?}
  POST /sim/bookings {system, healthcareFacility, subjectOfCare, startTime|timeslotId, hidden?, bookedBy?, ...}
  POST /sim/bookings/search {system?, healthcareFacility?, subjectOfCare?, timeslotId?}
  POST /sim/invitations {system, healthcareFacility, subjectOfCare, slotCount?, expiresAt?}

Only test personnummer are ever sent here, in bodies only; nothing is logged.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import os
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from local.paths import HOST, ROOT

DEFAULT_SEED = ROOT / "testdata" / "web-booking.json"
SYSTEMS = {"pasis": "PASiS", "pmo": "PMO"}  # URL prefix → system
DEFAULT_KEYS = {"PASiS": "local-pasis-key", "PMO": "local-pmo-key"}
OPERATIONS = (
    "GetAvailableTimeslots",
    "GetSubjectOfCareSchedule",
    "MakeBooking",
    "UpdateBooking",
    "CancelBooking",
    "GetBookingDetails",
)
FAULT_MODES = ("error", "fail-after-commit", "slow")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
MAX_BODY = 64 * 1024
DRAIN_LIMIT = 1024 * 1024  # a larger body is not even read: the connection closes
MAX_SPAN_DAYS = 62
FIRST_SLOT, SLOT_LENGTH, SLOTS_PER_DAY = clock_time(8), timedelta(minutes=30), 16
NOT_ONLINE = (0, 1)  # the day's first two times: booked by the clinic only
TIME_TYPES = (("LAK", "Läkarbesök", "Läkare Test"), ("SSK", "Sjuksköterskebesök", "Sjuksköterska Test"))
CARE_TYPE = ("MOTT", "Mottagningsbesök")
INVITATION_LIFETIME = timedelta(days=7)
MAX_DELAY_MS = 60_000
PERSONNUMMER = re.compile(r"\d{12}")
ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
GENERATED_ID = re.compile(r"T-([A-Za-z0-9]+)-(\d{12})")

Answer = tuple[int, dict[str, Any] | None]  # None: a response with no usable body (fail-after-commit)


class Invalid(Exception):
    """A malformed request: HTTP 400, nothing done."""


class Refused(Exception):
    """The booking system says no: resultCode ERROR (control endpoints: HTTP 409)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Slot:
    slot_id: str
    system: str
    facility: str
    start: datetime
    end: datetime
    bookable: bool  # online: PASiS webLevel 4, PMO visibleInEServices
    time_type: tuple[str, str, str]  # id, name, performer
    booking_id: str | None = None  # the booking that holds it now


@dataclass
class Booking:
    booking_id: str
    system: str
    subject: str
    slot_id: str
    booked_by: str = "patient"
    hidden: bool = False
    cancel_allowed: bool = True
    rebook_allowed: bool = True
    message_allowed: bool = False
    invitation_id: str | None = None
    status: str = "booked"
    external_refs: list[str] = field(default_factory=list)


@dataclass
class Invitation:
    invitation_id: str
    system: str
    subject: str
    slot_ids: list[str]
    expires_at: datetime
    booking_id: str | None = None  # used: its other holds are released


@dataclass
class Fault:
    fault_id: str
    system: str | None  # None: both
    operation: str  # an operation or "*"
    mode: str
    delay_ms: int
    remaining: int  # -1: until cleared


class Simulator:
    """All state in memory under one lock: each operation is atomic."""

    def __init__(
        self,
        seed: dict[str, Any] | None = None,
        *,
        clock_file: Path | str | None = None,
        clock: Callable[[], datetime] | None = None,
        api_keys: dict[str, str] | None = None,
    ) -> None:
        seed = seed if seed is not None else json.loads(DEFAULT_SEED.read_text(encoding="utf-8"))
        self.facilities: dict[str, str] = {c["clinicId"]: c["system"] for c in seed["clinics"]}
        if not set(self.facilities.values()) <= set(SYSTEMS.values()):
            raise ValueError(f"the seed names a system other than {sorted(SYSTEMS.values())}")
        self.suffixes = {facility.rsplit("-", 1)[-1]: facility for facility in self.facilities}
        if len(self.suffixes) != len(self.facilities):
            raise ValueError("two seed facilities end in the same suffix: their slot ids would clash")
        self.api_keys = {**DEFAULT_KEYS, **(api_keys or {})}
        self.clock_file = Path(clock_file) if clock_file else None
        self._clock = clock
        self._shift: tuple[tuple[int, int], timedelta] | None = None
        self.lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self.slots: dict[str, Slot] = {}
        self.days: dict[tuple[str, date], list[str]] = {}  # (facility, date) → slot ids, generated and ad hoc
        self.bookings: dict[str, Booking] = {}
        self.refs: dict[tuple[str, str], tuple[str, str]] = {}  # (system, externalRef) → (bookingId, operation)
        self.invitations: dict[str, Invitation] = {}
        self.holds: dict[str, str] = {}  # slot id → invitation id
        self.faults: list[Fault] = []
        self.latency_ms = 0
        self.calls: Counter[str] = Counter()
        self.busy_ms = 0.0
        self.created = 0  # ad hoc slots and faults, for their ids

    # ------------------------------------------------------------------ time and schedules

    def now(self) -> datetime:
        if self._clock is not None:
            return self._clock()
        return datetime.now(UTC) + self._offset()

    def _offset(self) -> timedelta:
        """The clock file's shift, re-read when the file changed; real time without (a usable) one."""
        if self.clock_file is None:
            return timedelta(0)
        try:
            stat = self.clock_file.stat()
            version = (stat.st_mtime_ns, stat.st_size)
            if self._shift is None or self._shift[0] != version:
                seconds = float(json.loads(self.clock_file.read_text(encoding="utf-8"))["offsetSeconds"])
                self._shift = (version, timedelta(seconds=seconds))
        except (OSError, ValueError, KeyError, TypeError, OverflowError):
            return timedelta(0)
        return self._shift[1]

    def _day(self, facility: str, day: date) -> list[Slot]:
        key = (facility, day)
        if key not in self.days:
            ids: list[str] = []
            if day.weekday() < 5:
                suffix = facility.rsplit("-", 1)[-1]
                for index in range(SLOTS_PER_DAY):
                    local = datetime.combine(day, FIRST_SLOT, STOCKHOLM) + index * SLOT_LENGTH
                    start = local.astimezone(UTC)
                    slot = Slot(
                        f"T-{suffix}-{local:%Y%m%d%H%M}",
                        self.facilities[facility],
                        facility,
                        start,
                        start + SLOT_LENGTH,
                        bookable=index not in NOT_ONLINE,
                        time_type=TIME_TYPES[index % 2],
                    )
                    self.slots[slot.slot_id] = slot
                    ids.append(slot.slot_id)
            self.days[key] = ids
        return sorted((self.slots[i] for i in self.days[key]), key=lambda s: (s.start, s.slot_id))

    def _slot(self, slot_id: str) -> Slot | None:
        """A known slot, or a generated one whose day was never asked for yet."""
        if slot_id not in self.slots and (match := GENERATED_ID.fullmatch(slot_id)):
            facility = self.suffixes.get(match[1])
            with contextlib.suppress(ValueError):
                local = datetime.strptime(match[2], "%Y%m%d%H%M")
                if facility and 2000 <= local.year <= 2100:
                    self._day(facility, local.date())
        return self.slots.get(slot_id)

    def _holder(self, slot_id: str, now: datetime) -> Invitation | None:
        """The invitation holding the slot; a hold lapses when its invitation expired or was used."""
        invitation_id = self.holds.get(slot_id)
        if invitation_id is None:
            return None
        invitation = self.invitations[invitation_id]
        if invitation.booking_id is not None or invitation.expires_at <= now:
            del self.holds[slot_id]
            return None
        return invitation

    def _free(self, slot: Slot, now: datetime) -> bool:
        return slot.booking_id is None and self._holder(slot.slot_id, now) is None and slot.start > now

    def _facility(self, system: str, value: Any) -> str:
        facility = _id(value, "healthcareFacility")
        if self.facilities.get(facility) != system:
            raise Refused("UNKNOWN_FACILITY", f"{system} has no facility {facility}")
        return facility

    # ------------------------------------------------------------------ the contract

    def call(self, prefix: str, operation: str, body: dict[str, Any] | None, api_key: str | None) -> Answer:
        """One contract call as the HTTP server makes it (`body` None: not a JSON object)."""
        system = SYSTEMS.get(prefix)
        if system is None or operation not in OPERATIONS:
            return 404, _error("UNKNOWN_OPERATION", "no such operation")
        if not api_key or not hmac.compare_digest(api_key.encode(), self.api_keys[system].encode()):
            return 401, _error("UNAUTHORIZED", "wrong or missing api key")
        started = time.monotonic()
        try:
            with self.lock:
                self.calls[operation] += 1
                fault = self._take_fault(system, operation)
                delay_ms = self.latency_ms + (fault.delay_ms if fault and fault.mode == "slow" else 0)
            if delay_ms:
                time.sleep(delay_ms / 1000)  # outside the lock: a slow call does not hold up the others
            if fault and fault.mode == "error":
                return 503, _error("UNAVAILABLE", "simulated outage")
            if body is None:
                return 400, _error("INVALID_REQUEST", "the body must be a JSON object")
            with self.lock:
                answer = self._apply(system, operation, body)
            return (500, None) if fault and fault.mode == "fail-after-commit" else answer
        finally:
            with self.lock:
                self.busy_ms += (time.monotonic() - started) * 1000

    def _apply(self, system: str, operation: str, body: dict[str, Any]) -> Answer:
        handler = {
            "GetAvailableTimeslots": self._available,
            "GetSubjectOfCareSchedule": self._schedule,
            "MakeBooking": self._make,
            "UpdateBooking": self._update,
            "CancelBooking": self._cancel,
            "GetBookingDetails": self._details,
        }[operation]
        try:
            return 200, handler(system, body, self.now())
        except Invalid as invalid:
            return 400, _error("INVALID_REQUEST", str(invalid))
        except Refused as refused:
            return 200, _error(refused.code, refused.message)

    def _available(self, system: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        facility = self._facility(system, body.get("healthcareFacility"))
        if body.get("timeslotIds") is not None:
            wanted = dict.fromkeys(_ids(body.get("timeslotIds"), "timeslotIds"))
            slots = [s for i in wanted if (s := self._slot(i)) is not None and s.facility == facility]
        else:
            first, last = _date(body.get("startDate"), "startDate"), _date(body.get("endDate"), "endDate")
            if not 0 <= (last - first).days <= MAX_SPAN_DAYS:
                raise Invalid(f"endDate must be on or after startDate, at most {MAX_SPAN_DAYS} days later")
            days = (first + timedelta(days=n) for n in range((last - first).days + 1))
            slots = [slot for day in days for slot in self._day(facility, day)]
        invitation_id = _optional_id(body.get("invitationId"), "invitationId")
        if invitation_id is not None:  # the invitation's own slots that are still held free for it

            def still_held(s: Slot) -> bool:
                holder = self._holder(s.slot_id, now)
                return s.booking_id is None and holder is not None and holder.invitation_id == invitation_id

            chosen = (s for s in slots if still_held(s) and s.start > now)
        else:
            chosen = (s for s in slots if self._free(s, now))
        free = sorted(chosen, key=lambda s: (s.start, s.slot_id))
        return {"resultCode": "OK", "timeslots": [self._view(s) for s in free]}

    def _schedule(self, system: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        subject = _personnummer(body.get("subjectOfCare"))
        facilities = {self._facility(system, f) for f in _ids(body.get("healthcareFacilities"), "healthcareFacilities")}
        found = [
            (slot, booking)
            for booking in self.bookings.values()
            if booking.system == system and booking.subject == subject and booking.status == "booked"
            for slot in [self.slots[booking.slot_id]]
            if slot.facility in facilities and slot.start > now
        ]
        found.sort(key=lambda pair: (pair[0].start, pair[0].slot_id))
        return {"resultCode": "OK", "timeslots": [self._view(slot, booking) for slot, booking in found]}

    def _make(self, system: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        slot_id = _id(body.get("timeslotId"), "timeslotId")
        subject = _personnummer(body.get("subjectOfCare"))
        facility = self._facility(system, body.get("healthcareFacility"))
        ref = _id(body.get("externalRef"), "externalRef")
        invitation_id = _optional_id(body.get("invitationId"), "invitationId")
        if (done := self._replay(system, ref, "MakeBooking", subject)) is not None:
            return self._answer(done, "INFO")
        slot = self._slot(slot_id)
        if slot is None or slot.facility != facility:
            raise Refused("UNKNOWN_TIMESLOT", "no such timeslot at this facility")
        invitation = self.invitations.get(invitation_id) if invitation_id else None
        if invitation_id is not None:
            if invitation is None or invitation.system != system or invitation.subject != subject:
                raise Refused("INVITATION_MISMATCH", "no such invitation for this person")
            if invitation.booking_id is not None:
                raise Refused("INVITATION_USED", "the invitation has been used")
            if invitation.expires_at <= now or slot_id not in invitation.slot_ids:
                raise Refused("INVITATION_MISMATCH", "the invitation has expired or does not offer this time")
        holder = self._holder(slot_id, now)
        if slot.booking_id is not None or (holder is not None and holder is not invitation):
            raise Refused("SLOT_TAKEN", "the time is taken")
        if invitation is None and not slot.bookable:
            raise Refused("NOT_BOOKABLE", "the time cannot be booked online")
        if slot.start <= now:
            raise Refused("NOT_BOOKABLE", "the time has passed")
        booking = Booking(_booking_id(system), system, subject, slot_id, invitation_id=invitation_id)
        self.bookings[booking.booking_id] = booking
        slot.booking_id = booking.booking_id
        self._record(booking, ref, "MakeBooking")
        if invitation is not None:
            invitation.booking_id = booking.booking_id
            for held in invitation.slot_ids:
                self.holds.pop(held, None)
        return self._answer(booking, "OK")

    def _update(self, system: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        booking_id = _id(body.get("bookingId"), "bookingId")
        subject = _personnummer(body.get("subjectOfCare"))
        new_id = _id(body.get("newTimeslotId"), "newTimeslotId")
        ref = _id(body.get("externalRef"), "externalRef")
        if (done := self._replay(system, ref, "UpdateBooking", subject, booking_id)) is not None:
            return self._answer(done, "INFO")
        booking = self._own(system, booking_id, subject)
        if booking.status != "booked":
            raise Refused("BOOKING_NOT_FOUND", "the booking has been cancelled")
        if not booking.rebook_allowed:
            raise Refused("NOT_ALLOWED", "the booking cannot be moved")
        old, slot = self.slots[booking.slot_id], self._slot(new_id)
        if slot is None or slot.facility != old.facility:
            raise Refused("UNKNOWN_TIMESLOT", "no such timeslot at this facility")
        if slot.booking_id is not None or self._holder(new_id, now) is not None:
            raise Refused("SLOT_TAKEN", "the time is taken")
        if not slot.bookable or slot.start <= now:
            raise Refused("NOT_BOOKABLE", "the time cannot be booked online")
        old.booking_id, slot.booking_id, booking.slot_id = None, booking.booking_id, new_id
        self._record(booking, ref, "UpdateBooking")
        return self._answer(booking, "OK")

    def _cancel(self, system: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        booking_id = _id(body.get("bookingId"), "bookingId")
        subject = _personnummer(body.get("subjectOfCare"))
        ref = _id(body.get("externalRef"), "externalRef")
        booking = self._replay(system, ref, "CancelBooking", subject, booking_id) or self._own(
            system, booking_id, subject
        )
        if booking.status == "cancelled":
            if (system, ref) not in self.refs:
                self._record(booking, ref, "CancelBooking")
            return {**self._answer(booking, "INFO"), "errorCode": "ALREADY_CANCELLED", "message": "already cancelled"}
        if not booking.cancel_allowed:
            raise Refused("NOT_ALLOWED", "the booking cannot be cancelled")
        booking.status = "cancelled"
        self.slots[booking.slot_id].booking_id = None
        self._record(booking, ref, "CancelBooking")
        return self._answer(booking, "OK")

    def _details(self, system: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        booking_id = _optional_id(body.get("bookingId"), "bookingId")
        ref = _optional_id(body.get("externalRef"), "externalRef")
        if (booking_id is None) == (ref is None):
            raise Invalid("give either bookingId or externalRef")
        if ref is not None:
            booking_id = self.refs.get((system, ref), ("", ""))[0]
        booking = self.bookings.get(booking_id or "")
        if booking is None or booking.system != system:
            raise Refused("BOOKING_NOT_FOUND", "no such booking")
        return {"resultCode": "OK", "booking": self._booking_view(booking)}

    def _own(self, system: str, booking_id: str, subject: str) -> Booking:
        booking = self.bookings.get(booking_id)
        if booking is None or booking.system != system or booking.subject != subject:
            raise Refused("BOOKING_NOT_FOUND", "no such booking for this person")
        return booking

    def _replay(
        self, system: str, ref: str, operation: str, subject: str, booking_id: str | None = None
    ) -> Booking | None:
        """The booking an earlier call with this externalRef made or changed; None for a new ref."""
        known = self.refs.get((system, ref))
        if known is None:
            return None
        booking = self.bookings[known[0]]
        if known[1] != operation or booking.subject != subject or booking_id not in (None, known[0]):
            raise Invalid("externalRef was already used for another request")
        return booking

    def _record(self, booking: Booking, ref: str, operation: str) -> None:
        self.refs[(booking.system, ref)] = (booking.booking_id, operation)
        booking.external_refs.append(ref)

    def _answer(self, booking: Booking, result: str) -> dict[str, Any]:
        timeslot = self._view(self.slots[booking.slot_id], booking)
        return {"resultCode": result, "bookingId": booking.booking_id, "timeslot": timeslot}

    def _booking_view(self, booking: Booking) -> dict[str, Any]:
        return {
            "bookingId": booking.booking_id,
            "status": booking.status,
            "timeslot": self._view(self.slots[booking.slot_id], booking),
            "externalRefs": list(booking.external_refs),
        }

    def _view(self, slot: Slot, booking: Booking | None = None) -> dict[str, Any]:
        time_type_id, time_type_name, performer = slot.time_type
        view: dict[str, Any] = {
            "timeslotId": slot.slot_id,
            "startTimeInclusive": _iso(slot.start),
            "endTimeExclusive": _iso(slot.end),
            "healthcareFacility": slot.facility,
            "performer": performer,
            "timeTypeId": time_type_id,
            "timeTypeName": time_type_name,
            "careTypeId": CARE_TYPE[0],
            "careTypeName": CARE_TYPE[1],
            "bookingId": booking.booking_id if booking else None,
            "subjectOfCare": booking.subject if booking else None,
            "cancelBookingAllowed": booking.cancel_allowed if booking else True,
            "rebookingAllowed": booking.rebook_allowed if booking else True,
            "messageAllowed": booking.message_allowed if booking else False,
            "isInvitation": bool(booking and booking.invitation_id),
            "hidden": booking.hidden if booking else False,
            "bookedBy": booking.booked_by if booking else None,
        }
        if slot.system == "PASiS":
            view["webLevel"] = 4 if slot.bookable else 2
        else:
            view["visibleInEServices"] = slot.bookable
        return view

    # ------------------------------------------------------------------ faults

    def _take_fault(self, system: str, operation: str) -> Fault | None:
        for fault in self.faults:
            if fault.system in (None, system) and fault.operation in ("*", operation):
                if fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                return fault
        return None

    # ------------------------------------------------------------------ control endpoints

    def control(self, method: str, path: str, body: dict[str, Any] | None) -> Answer:
        routes: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
            ("GET", "/sim/health"): lambda _: {"ok": True, "facilities": dict(self.facilities)},
            ("GET", "/sim/stats"): lambda _: {
                "calls": dict(self.calls),
                "busyMs": round(self.busy_ms, 1),
                "latencyMs": self.latency_ms,
            },
            ("POST", "/sim/reset"): self._reset,
            ("POST", "/sim/faults"): self._add_fault,
            ("DELETE", "/sim/faults"): self._clear_faults,
            ("POST", "/sim/latency"): self._set_latency,
            ("POST", "/sim/timeslots"): self._add_timeslot,
            ("POST", "/sim/bookings"): self._add_booking,
            ("POST", "/sim/bookings/search"): self._search,
            ("POST", "/sim/invitations"): self._invite,
        }
        route = routes.get((method, path.rstrip("/")))
        if route is None:
            return 404, _error("NOT_FOUND", "no such control endpoint")
        if body is None:
            return 400, _error("INVALID_REQUEST", "the body must be a JSON object")
        try:
            with self.lock:
                return 200, route(body)
        except Invalid as invalid:
            return 400, _error("INVALID_REQUEST", str(invalid))
        except Refused as refused:
            return 409, _error(refused.code, refused.message)

    def _reset(self, _: dict[str, Any]) -> dict[str, Any]:
        self._clear()
        return {"ok": True}

    def _add_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        system = _optional_system(body.get("system"))
        operation = body.get("operation")
        if operation != "*" and operation not in OPERATIONS:
            raise Invalid(f"operation must be one of {', '.join(OPERATIONS)} or *")
        mode = body.get("mode")
        if mode not in FAULT_MODES:
            raise Invalid(f"mode must be one of {', '.join(FAULT_MODES)}")
        delay = _int(body.get("delayMs", 1000 if mode == "slow" else 0), "delayMs", 0, MAX_DELAY_MS)
        count = _int(body.get("count", 1), "count", -1, 1_000_000)
        if count == 0:
            raise Invalid("count must be positive, or -1 for until cleared")
        self.created += 1
        fault = Fault(f"F-{self.created}", system, str(operation), str(mode), delay, count)
        self.faults.append(fault)
        return {"faultId": fault.fault_id}

    def _clear_faults(self, _: dict[str, Any]) -> dict[str, Any]:
        cleared, self.faults = len(self.faults), []
        return {"cleared": cleared}

    def _set_latency(self, body: dict[str, Any]) -> dict[str, Any]:
        self.latency_ms = _int(body.get("ms"), "ms", 0, MAX_DELAY_MS)
        return {"ms": self.latency_ms}

    def _control_facility(self, body: dict[str, Any]) -> tuple[str, str]:
        system = _optional_system(body.get("system"))
        if system is None:
            raise Invalid("system is required (PASiS or PMO)")
        try:
            return system, self._facility(system, body.get("healthcareFacility"))
        except Refused as refused:
            raise Invalid(refused.message) from None

    def _add_timeslot(self, body: dict[str, Any]) -> dict[str, Any]:
        bookable = body.get("bookable")
        if not isinstance(bookable, bool):
            raise Invalid("bookable must be true or false")
        return self._view(self._ad_hoc(body, bookable))

    def _ad_hoc(self, body: dict[str, Any], bookable: bool) -> Slot:
        system, facility = self._control_facility(body)
        start = _instant(body.get("startTime"), "startTime")
        end = _instant(body["endTime"], "endTime") if body.get("endTime") is not None else start + SLOT_LENGTH
        if not start < end <= start + timedelta(days=1):
            raise Invalid("endTime must be after startTime, within a day")
        time_type = TIME_TYPES[0]
        if body.get("timeTypeName") is not None:
            name = body["timeTypeName"]
            if not isinstance(name, str) or not 0 < len(name) <= 100:
                raise Invalid("timeTypeName must be a text of at most 100 characters")
            time_type = ("X", name, time_type[2])
        day = start.astimezone(STOCKHOLM).date()
        self._day(facility, day)  # generated first: an ad hoc slot joins the day, never replaced by it
        self.created += 1
        local = start.astimezone(STOCKHOLM)
        slot = Slot(
            f"T-{facility.rsplit('-', 1)[-1]}-{local:%Y%m%d%H%M}-X{self.created}",
            system,
            facility,
            start,
            end,
            bookable,
            time_type,
        )
        self.slots[slot.slot_id] = slot
        self.days[(facility, day)].append(slot.slot_id)
        return slot

    def _add_booking(self, body: dict[str, Any]) -> dict[str, Any]:
        """A booking made by the clinic (e.g. hidden from the citizen, or not to be moved by them)."""
        system, facility = self._control_facility(body)
        subject = _personnummer(body.get("subjectOfCare"))
        if (body.get("timeslotId") is None) == (body.get("startTime") is None):
            raise Invalid("give either timeslotId or startTime")
        if body.get("timeslotId") is not None:
            slot = self._slot(_id(body["timeslotId"], "timeslotId"))
            if slot is None or slot.facility != facility:
                raise Invalid("no such timeslot at this facility")
            if slot.booking_id is not None or self._holder(slot.slot_id, self.now()) is not None:
                raise Refused("SLOT_TAKEN", "the time is taken")
        else:
            slot = self._ad_hoc(body, bookable=False)
        booked_by = body.get("bookedBy", "care")
        if booked_by not in ("care", "patient"):
            raise Invalid("bookedBy must be care or patient")
        booking = Booking(
            _booking_id(system),
            system,
            subject,
            slot.slot_id,
            booked_by=str(booked_by),
            hidden=_flag(body, "hidden", False),
            cancel_allowed=_flag(body, "cancelBookingAllowed", True),
            rebook_allowed=_flag(body, "rebookingAllowed", True),
            message_allowed=_flag(body, "messageAllowed", False),
        )
        self.bookings[booking.booking_id] = booking
        slot.booking_id = booking.booking_id
        return {"bookingId": booking.booking_id, "timeslot": self._view(slot, booking)}

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        system = _optional_system(body.get("system"))
        facility = _optional_id(body.get("healthcareFacility"), "healthcareFacility")
        subject = _personnummer(body["subjectOfCare"]) if body.get("subjectOfCare") is not None else None
        slot_id = _optional_id(body.get("timeslotId"), "timeslotId")
        found = [
            self._booking_view(b)
            for b in self.bookings.values()
            if system in (None, b.system)
            and facility in (None, self.slots[b.slot_id].facility)
            and subject in (None, b.subject)
            and slot_id in (None, b.slot_id)
        ]
        return {"bookings": found}

    def _invite(self, body: dict[str, Any]) -> dict[str, Any]:
        """Holds `slotCount` free bookable times, from tomorrow on, for one person until `expiresAt`."""
        system, facility = self._control_facility(body)
        subject = _personnummer(body.get("subjectOfCare"))
        count = _int(body.get("slotCount", 3), "slotCount", 1, 20)
        now = self.now()
        given = body.get("expiresAt")
        expires = _instant(given, "expiresAt") if given is not None else now + INVITATION_LIFETIME
        tomorrow = now.astimezone(STOCKHOLM).date() + timedelta(days=1)
        chosen: list[Slot] = []
        for n in range(MAX_SPAN_DAYS + 1):
            chosen += [
                s for s in self._day(facility, tomorrow + timedelta(days=n)) if s.bookable and self._free(s, now)
            ]
            if len(chosen) >= count:
                break
        if len(chosen) < count:
            raise Refused("NO_FREE_SLOTS", f"fewer than {count} free times in the next {MAX_SPAN_DAYS} days")
        invitation = Invitation(
            f"INV-{uuid.uuid4().hex[:16]}", system, subject, [s.slot_id for s in chosen[:count]], expires
        )
        self.invitations[invitation.invitation_id] = invitation
        for slot_id in invitation.slot_ids:
            self.holds[slot_id] = invitation.invitation_id
        slots = [{"slotId": s.slot_id, "startsAt": _iso(s.start), "endsAt": _iso(s.end)} for s in chosen[:count]]
        return {"invitationId": invitation.invitation_id, "slots": slots, "expiresAt": _iso(expires)}


# ------------------------------------------------------------------ validation and wire helpers


def _error(code: str, message: str) -> dict[str, Any]:
    return {"resultCode": "ERROR", "errorCode": code, "message": message}


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _booking_id(system: str) -> str:
    # Random, not counted: a booking id from before a reset never names a new booking.
    return f"{'P' if system == 'PASiS' else 'M'}B-{uuid.uuid4().hex[:12].upper()}"


def _id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise Invalid(f"{name} must be an id (1-100 of A-Z a-z 0-9 . _ : -)")
    return value


def _optional_id(value: Any, name: str) -> str | None:
    return None if value is None else _id(value, name)


def _ids(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not 0 < len(value) <= 200:
        raise Invalid(f"{name} must be a list of 1-200 ids")
    return [_id(item, name) for item in value]


def _personnummer(value: Any) -> str:
    if not isinstance(value, str) or not PERSONNUMMER.fullmatch(value):
        raise Invalid("subjectOfCare must be a personnummer of 12 digits")
    return value


def _optional_system(value: Any) -> str | None:
    if value is None:
        return None
    system = SYSTEMS.get(value.lower()) if isinstance(value, str) else None
    if system is None:
        raise Invalid("system must be PASiS or PMO")
    return system


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{name} must be an integer in [{low}, {high}]")
    return value


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false")
    return value


def _date(value: Any, name: str) -> date:
    try:
        if isinstance(value, str) and len(value) == 10:
            parsed = date.fromisoformat(value)
            if 2000 <= parsed.year <= 2100:
                return parsed
    except ValueError:
        pass
    raise Invalid(f"{name} must be a date YYYY-MM-DD")


def _instant(value: Any, name: str) -> datetime:
    try:
        if isinstance(value, str) and len(value) <= 40:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is not None and 2000 <= parsed.year <= 2100:
                return parsed.astimezone(UTC)
    except ValueError:
        pass
    raise Invalid(f"{name} must be an ISO-8601 instant with Z or an offset")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# ------------------------------------------------------------------ HTTP


def make_handler(simulator: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Headers and body go out in separate writes: without this, Nagle holds the body ~40 ms.
        disable_nagle_algorithm = True

        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # bodies hold personnummer: never logged

        def _send(self, status: int, payload: dict[str, Any] | None) -> None:
            data = json.dumps(payload).encode() if payload is not None else b"simulated failure after commit"
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if payload is not None else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            if payload is None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any] | None:
            """The JSON object sent, {} for none; None for anything else. A body that cannot be read
            whole closes the connection: what is left of it would be taken for the next request."""
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if self.headers.get("Transfer-Encoding") or not 0 <= length <= DRAIN_LIMIT:
                self.close_connection = True
                return None
            if length > MAX_BODY:  # read and dropped, so the caller gets its 400 rather than a reset
                while length > 0 and (chunk := self.rfile.read(min(MAX_BODY, length))):
                    length -= len(chunk)
                return None
            try:
                body = json.loads(self.rfile.read(length) or b"{}", parse_constant=_reject_constant)
            except (ValueError, RecursionError):
                return None
            return body if isinstance(body, dict) else None

        def _handle(self, method: str) -> None:
            try:
                parts = urlsplit(self.path).path.rstrip("/").split("/")
                body = self._body()
                if len(parts) == 3 and parts[1] in SYSTEMS:
                    if method != "POST":
                        self._send(405, _error("METHOD_NOT_ALLOWED", "contract operations are POST"))
                        return
                    auth = self.headers.get("Authorization") or ""
                    key = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
                    self._send(*simulator.call(parts[1], parts[2], body, key))
                else:
                    self._send(*simulator.control(method, "/".join(parts), body))
            except Exception:  # a handler thread never dies of a request: the caller gets a 500
                self.close_connection = True
                with contextlib.suppress(Exception):
                    self._send(500, _error("INTERNAL", "simulator error"))

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    return Handler


class SimulatorServer(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops a burst of simultaneous bookers
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, make_handler(simulator))


def serve(
    port: int = 0, simulator: Simulator | None = None, host: str = HOST
) -> tuple[SimulatorServer, threading.Thread]:
    """Starts the simulator in a daemon thread; port 0 picks a free one (server.server_address). The
    in-memory state is `server.simulator`; stop with server.shutdown()."""
    server = SimulatorServer((host, port), simulator or Simulator())
    # A short poll: shutdown() returns within it (tests start and stop many).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="booking-simulator", daemon=True)
    thread.start()
    return server, thread


def api_keys_from_env() -> dict[str, str]:
    """The keys of BOOKING_SYSTEMS (the stack's, so both ends agree); the defaults without it."""
    raw = os.environ.get("BOOKING_SYSTEMS")
    if not raw:
        return dict(DEFAULT_KEYS)
    try:
        parsed = json.loads(raw)
        return {name: str(parsed[name]["apiKey"]) for name in DEFAULT_KEYS if name in parsed}
    except (ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"BOOKING_SYSTEMS is not JSON of the form {{system: {{url, apiKey}}}}: {error}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BOOKING_PORT") or 8082))
    parser.add_argument("--clock-file", default=os.environ.get("LOCAL_CLOCK_FILE") or None)
    parser.add_argument("--seed", default=str(DEFAULT_SEED))
    args = parser.parse_args()
    seed = json.loads(Path(args.seed).read_text(encoding="utf-8"))
    simulator = Simulator(seed, clock_file=args.clock_file, api_keys=api_keys_from_env())
    server = SimulatorServer((args.host, args.port), simulator)
    print(f"Booking-system simulator on http://{args.host}:{args.port}/pasis/ and /pmo/ (control: /sim/)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
