"""Web booking (webbtidbok, R-45, R-45a): the citizen's booked times, the times they may book online,
and booking, cancelling and rebooking directly in the clinic's booking system (PASiS or PMO), which
stays the master of every time.

Never half-booked: every change is an operation recorded here first (`requested`, in the reconcile
index), then sent to the booking system with the operation's id as its reference, then confirmed here
together with the citizen's inbox message (R-45: every booking activity puts a message in the inbox,
notified as any arrival, R-11). When the booking system fails mid-call the outcome is asked for by the
reference (`GetBookingDetails`) and the call retried with it, which cannot book twice; what stays
unknown is left for the reconciler (`reconciler.py`) and the citizen gets a 503/504 to retry with the
same Idempotency-Key, which resumes the same operation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.arrivals import service as arrivals
from chalicelib.audit import repository as audit_repository
from chalicelib.clinics import service as clinics
from chalicelib.core import idempotency
from chalicelib.core.clock import Clock, instant, iso, stockholm, stockholm_date
from chalicelib.core.errors import Conflict, Gone, InvalidInput, NotFound, ServiceUnavailable
from chalicelib.core.idempotency import checked_key
from chalicelib.core.observability import metrics
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.guardians import activity
from chalicelib.web_booking import repository, rules
from chalicelib.web_booking.booking_system import (
    BookingRefused,
    BookingSystem,
    BookingSystemUnavailable,
    Timeslot,
)
from chalicelib.web_booking.models import Invitation, Operation, OpKind, message_id, op_id

if TYPE_CHECKING:
    from chalicelib.guardians.service import Subject

Systems = Callable[[str], BookingSystem]
RECONCILE_AFTER = timedelta(minutes=1)  # a request in flight is never older than this (API timeout 15 s)
DEFAULT_DAYS = 14
MAX_DAYS = 31


def default_systems(name: str) -> BookingSystem:
    from chalicelib.web_booking import adapters

    return adapters.booking_system(name)  # type: ignore[arg-type]


# ---------------------------------------------------------------- problems


class SlotTaken(Conflict):
    code = "slot-taken"


class RuleBroken(InvalidInput):
    """R-45 or the booking system's own permission says no; `code` names which."""


class NotOffered(InvalidInput):
    code = "web-booking-not-offered"


class InvitationUsed(Conflict):
    code = "invitation-used"


class InvitationExpired(Gone):
    code = "invitation-expired"


def unavailable(error: BookingSystemUnavailable, pending: bool) -> ServiceUnavailable:
    detail = "Tidbokningssystemet svarar inte just nu. Försök igen om en stund."
    if pending:
        detail = (
            "Tidbokningssystemet svarade inte i tid. Vi vet ännu inte om ändringen gick igenom; "
            "försök igen med samma begäran, så blir det inte dubbelt."
        )
    problem = ServiceUnavailable(detail, code="booking-system-unavailable", retry_after_s=5)
    if error.timed_out:
        problem.status, problem.code = 504, "booking-system-timeout"
    return problem


def _refused(refused: BookingRefused, kind: OpKind) -> Exception:
    if refused.code == "SLOT_TAKEN":
        return SlotTaken("Tiden hann bokas av någon annan. Välj en annan tid.")
    if refused.code in ("NOT_BOOKABLE", "UNKNOWN_TIMESLOT"):
        return RuleBroken("Tiden går inte att boka via 1177.", code="not-bookable-online")
    if refused.code == "NOT_ALLOWED":
        code = "not-cancellable" if kind == "cancel" else "not-rebookable"
        return RuleBroken("Mottagningen tillåter inte ändringen via 1177.", code=code)
    if refused.code == "BOOKING_NOT_FOUND":
        return NotFound("Bokningen finns inte.", code="booking-not-found")
    if refused.code == "INVITATION_USED":
        return InvitationUsed("Du har redan bokat en tid från den här kallelsen.")
    if refused.code == "INVITATION_MISMATCH":
        return InvitationExpired("Kallelsen gäller inte längre.")
    return RuleBroken("Tidbokningssystemet godtog inte bokningen.", code="booking-refused")


# ---------------------------------------------------------------- reads


def bookings(subject: Subject, *, clock: Clock, systems: Systems = default_systems) -> dict[str, Any]:
    """The citizen's booked times at every clinic with web booking (R-45a), not those the clinic hid;
    what may be done with each (R-45). One call per booking system; a system that is down is named."""
    now = clock()
    by_clinic = {c.clinic_id: c for c in clinics.web_booking_clinics()}
    facilities: dict[str, list[str]] = {}
    for clinic in by_clinic.values():
        facilities.setdefault(clinic.system, []).append(clinic.clinic_id)
    items: list[dict[str, Any]] = []
    unavailable: list[str] = []
    for system, ids in sorted(facilities.items()):
        try:
            slots = systems(system).schedule(subject.account.personnummer, sorted(ids))
        except (BookingSystemUnavailable, BookingRefused):
            unavailable.append(system)
            continue
        for slot in slots:
            at = by_clinic.get(slot.facility)
            if slot.hidden or at is None or at.system != system or not slot.booking_id:
                continue
            items.append(_booked(slot, at, now))
    items.sort(key=lambda i: (i["startsAt"], i["bookingId"]))
    return {"items": items, "unavailableSystems": unavailable}


def _booked(slot: Timeslot, clinic: clinics.WebBookingClinic, now: datetime) -> dict[str, Any]:
    manage = "manage-bookings" in clinic.kinds
    may_change = rules.may_change(clinic.system, slot.starts_at, now)
    return {
        "bookingId": slot.booking_id,
        "system": clinic.system,
        "clinicId": clinic.clinic_id,
        "clinicName": clinic.name,
        "startsAt": iso(slot.starts_at),
        "endsAt": iso(slot.ends_at),
        "timeTypeName": slot.time_type_name,
        "bookedBy": "citizen" if slot.booked_by == "patient" else "care",
        "canCancel": manage and slot.cancel_allowed and may_change,
        "canRebook": manage and slot.rebook_allowed and may_change,
        "cancelDeadline": iso(rules.change_deadline(clinic.system, slot.starts_at)),
        "invitation": slot.is_invitation,
    }


def _web_case_type(clinic_id: str, case_type_id: str) -> tuple[clinics.Clinic, clinics.WebBooking]:
    clinic = clinics.get(clinic_id)
    case_type = clinic.case_type(case_type_id)
    web = case_type.web_booking if case_type and case_type.active else None
    if web is None or web.kind != "book-direct":
        raise NotOffered("Mottagningen erbjuder inte den här tidbokningen via 1177.")
    return clinic, web


def slots(
    clinic_id: str,
    case_type_id: str,
    first: date | None,
    last: date | None,
    *,
    clock: Clock,
    systems: Systems = default_systems,
) -> dict[str, Any]:
    """Times the citizen may book online at the clinic (R-45, R-45a): free, marked bookable online by
    the booking system, and no earlier than the system's rule allows (PASiS: tomorrow; PMO: today)."""
    _, web = _web_case_type(clinic_id, case_type_id)
    now = clock()
    today = stockholm_date(now)
    first = max(first or today, today)
    last = last or first + timedelta(days=DEFAULT_DAYS - 1)
    if last < first or (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"Välj högst {MAX_DAYS} dagar, från idag och framåt.", code="invalid-date-range")
    try:
        found = systems(web.system).available(clinic_id, first, last)
    except BookingSystemUnavailable as error:
        raise unavailable(error, pending=False) from None
    earliest = rules.earliest_start(web.system, now)
    items = [
        {"slotId": s.slot_id, "startsAt": iso(s.starts_at), "endsAt": iso(s.ends_at), "timeTypeName": s.time_type_name}
        for s in sorted(found, key=lambda s: (s.starts_at, s.slot_id))
        if s.bookable_online and s.starts_at >= earliest and s.starts_at > now
    ]
    return {"items": items}


# ---------------------------------------------------------------- changes


@dataclass(frozen=True)
class Done:
    """A change's answer; `created` is False when it is a replay of the first answer."""

    result: dict[str, Any]
    created: bool


def existing_op(scope: str, key: str | None, request: dict[str, Any]) -> tuple[str, Operation | None]:
    """The operation id for this call, and the operation a retry with the same key finds."""
    the_id = op_id(scope, checked_key(key))
    if key is None:
        return the_id, None
    existing = repository.get_op(the_id)
    if existing is not None and existing.fingerprint != idempotency.fingerprint(request):
        raise idempotency.reused()
    return the_id, existing


def new_op(
    subject: Subject,
    the_id: str,
    kind: OpKind,
    request: dict[str, Any],
    *,
    system: str,
    clinic_id: str,
    clinic_name: str,
    now: datetime,
    **fields: Any,
) -> Operation:
    op = Operation(
        op_id=the_id,
        kind=kind,
        state="requested",
        system=system,
        clinic_id=clinic_id,
        clinic_name=clinic_name,
        citizen_id=subject.citizen_id,
        actor_citizen_id=subject.actor_citizen_id,
        actor_name=subject.actor_name if subject.proxy else None,
        fingerprint=idempotency.fingerprint(request),
        created_at=iso(now),
        reconcile_at=iso(now + RECONCILE_AFTER),
        **fields,
    )
    repository.add_requested(op)
    return op


def book(
    subject: Subject,
    *,
    clinic_id: str,
    case_type_id: str,
    slot_id: str,
    idempotency_key: str | None,
    clock: Clock,
    systems: Systems = default_systems,
) -> Done:
    """`POST /citizens/{cid}/bookings`: books a time directly (R-45); 201 `{bookingId}`."""
    request = {"clinic": clinic_id, "caseType": case_type_id, "slot": slot_id}
    the_id, op = existing_op(f"book:{subject.actor_citizen_id}:{subject.citizen_id}", idempotency_key, request)
    if op is not None and op.state == "confirmed":
        return Done(op.result or {}, created=False)
    now = clock()
    if op is None:
        clinic, web = _web_case_type(clinic_id, case_type_id)
        slot = _free_slot(systems(web.system), clinic_id, slot_id)
        if not slot.bookable_online:
            raise RuleBroken("Tiden går inte att boka via 1177.", code="not-bookable-online")
        if not rules.may_book(web.system, slot.starts_at, now):
            raise RuleBroken(_too_early(web.system), code="too-late-to-book")
        op = new_op(
            subject,
            the_id,
            "book",
            request,
            system=web.system,
            clinic_id=clinic_id,
            clinic_name=clinic.name,
            now=now,
            **_slot_fields(slot),
        )
    return Done(send(op, systems, subject.account.personnummer, clock), created=True)


def _slot_fields(slot: Timeslot) -> dict[str, Any]:
    return {
        "slot_id": slot.slot_id,
        "starts_at": iso(slot.starts_at),
        "ends_at": iso(slot.ends_at),
        "time_type_name": slot.time_type_name,
    }


def stored_slot(op: Operation) -> Timeslot:
    """The time an operation concerns, as recorded when it was requested."""
    assert op.slot_id and op.starts_at and op.ends_at
    return Timeslot(
        slot_id=op.slot_id,
        starts_at=instant(op.starts_at),
        ends_at=instant(op.ends_at),
        facility=op.clinic_id,
        time_type_name=op.time_type_name or "",
        bookable_online=True,
        booking_id=op.booking_id,
    )


def _too_early(system: str) -> str:
    if system == "PASiS":
        return "Tider kan bokas tidigast dagen efter idag."
    return "Tiden har redan passerat."


def _free_slot(system: BookingSystem, facility: str, slot_id: str) -> Timeslot:
    try:
        found = system.timeslots(facility, [slot_id])
    except BookingSystemUnavailable as error:
        raise unavailable(error, pending=False) from None
    slot = next((s for s in found if s.slot_id == slot_id), None)
    if slot is None:
        raise SlotTaken("Tiden är inte ledig längre. Välj en annan tid.")
    return slot


def _own_booking(subject: Subject, booking_id: str, systems: Systems) -> tuple[Timeslot, clinics.WebBookingClinic]:
    """The citizen's booked time (not hidden) at a clinic where they may manage bookings (R-45a)."""
    by_clinic = {c.clinic_id: c for c in clinics.web_booking_clinics()}
    for system in sorted({c.system for c in by_clinic.values()}):
        ids = sorted(c.clinic_id for c in by_clinic.values() if c.system == system)
        try:
            found = systems(system).schedule(subject.account.personnummer, ids)
        except BookingSystemUnavailable as error:
            raise unavailable(error, pending=False) from None
        for slot in found:
            clinic = by_clinic.get(slot.facility)
            if slot.booking_id == booking_id and not slot.hidden and clinic is not None:
                if "manage-bookings" not in clinic.kinds:
                    raise NotOffered("Mottagningen erbjuder inte av- och ombokning via 1177.")
                return slot, clinic
    raise NotFound("Bokningen finns inte.", code="booking-not-found")


def cancel(
    subject: Subject, booking_id: str, *, idempotency_key: str | None, clock: Clock, systems: Systems = default_systems
) -> Done:
    """`POST /citizens/{cid}/bookings/{bookingId}/cancel` (R-45: PASiS until 24 h before)."""
    request = {"booking": booking_id}
    scope = f"cancel:{subject.actor_citizen_id}:{subject.citizen_id}"
    the_id, op = existing_op(scope, idempotency_key, request)
    if op is not None and op.state == "confirmed":
        return Done(op.result or {}, created=False)
    now = clock()
    if op is None:
        slot, clinic = _own_booking(subject, booking_id, systems)
        if not slot.cancel_allowed:
            raise RuleBroken("Mottagningen tillåter inte avbokning av tiden via 1177.", code="not-cancellable")
        if not rules.may_change(clinic.system, slot.starts_at, now):
            raise RuleBroken(_too_late(clinic.system, "avbokas"), code="too-late-to-cancel")
        op = new_op(
            subject,
            the_id,
            "cancel",
            request,
            system=clinic.system,
            clinic_id=clinic.clinic_id,
            clinic_name=clinic.name,
            now=now,
            booking_id=booking_id,
            **_slot_fields(slot),
        )
    return Done(send(op, systems, subject.account.personnummer, clock), created=True)


def _too_late(system: str, verb: str) -> str:
    if system == "PASiS":
        return f"Tiden kan bara {verb} fram till 24 timmar innan den börjar."
    return f"Tiden kan inte längre {verb}."


def rebook(
    subject: Subject,
    booking_id: str,
    slot_id: str,
    *,
    idempotency_key: str | None,
    clock: Clock,
    systems: Systems = default_systems,
) -> Done:
    """`POST /citizens/{cid}/bookings/{bookingId}/rebook` (R-45: PASiS until 24 h before and to
    tomorrow at the earliest; PMO to the current day)."""
    request = {"booking": booking_id, "slot": slot_id}
    scope = f"rebook:{subject.actor_citizen_id}:{subject.citizen_id}"
    the_id, op = existing_op(scope, idempotency_key, request)
    if op is not None and op.state == "confirmed":
        return Done(op.result or {}, created=False)
    now = clock()
    if op is None:
        current, clinic = _own_booking(subject, booking_id, systems)
        if not current.rebook_allowed:
            raise RuleBroken("Mottagningen tillåter inte ombokning av tiden via 1177.", code="not-rebookable")
        if not rules.may_change(clinic.system, current.starts_at, now):
            raise RuleBroken(_too_late(clinic.system, "ombokas"), code="too-late-to-rebook")
        target = _free_slot(systems(clinic.system), clinic.clinic_id, slot_id)
        if not target.bookable_online:
            raise RuleBroken("Tiden går inte att boka via 1177.", code="not-bookable-online")
        if not rules.may_book(clinic.system, target.starts_at, now):
            raise RuleBroken(_too_early(clinic.system), code="too-late-to-rebook")
        op = new_op(
            subject,
            the_id,
            "rebook",
            request,
            system=clinic.system,
            clinic_id=clinic.clinic_id,
            clinic_name=clinic.name,
            now=now,
            booking_id=booking_id,
            **_slot_fields(target),
        )
    return Done(send(op, systems, subject.account.personnummer, clock), created=True)


# ---------------------------------------------------------------- talking to the booking system


def send(
    op: Operation, systems: Systems, personnummer: str, clock: Clock, invitation: Invitation | None = None
) -> dict[str, Any]:
    """Sends the recorded operation; resolves an unknown outcome by its reference and retries once
    (the reference makes the retry harmless); confirms, or drops it when the booking system refused."""
    system = systems(op.system)
    try:
        slot = _apply(system, op, personnummer, invitation)
    except BookingRefused as refused:
        abandon(op)
        raise _refused(refused, op.kind) from None
    except BookingSystemUnavailable as error:
        if not error.maybe_done:
            abandon(op)  # it never reached the booking system: nothing to reconcile
            raise unavailable(error, pending=False) from None
        try:
            slot = resolved(system, op) or _apply(system, op, personnummer, invitation)
        except BookingRefused as refused:
            abandon(op)
            raise _refused(refused, op.kind) from None
        except BookingSystemUnavailable as again:
            metrics.add_metric(name="BookingLeftForReconciler", unit="Count", value=1)
            raise unavailable(again, pending=True) from None
    return confirm(op, slot, clock())


def _apply(system: BookingSystem, op: Operation, personnummer: str, invitation: Invitation | None) -> Timeslot:
    assert op.slot_id is not None
    if op.kind in ("book", "invitation"):
        external = invitation.external_id if invitation else None
        return system.make(op.slot_id, personnummer, op.clinic_id, op.op_id, invitation_id=external)
    assert op.booking_id is not None
    if op.kind == "rebook":
        return system.update(op.booking_id, personnummer, op.slot_id, op.op_id)
    system.cancel(op.booking_id, personnummer, op.op_id)
    return stored_slot(op)


def resolved(system: BookingSystem, op: Operation) -> Timeslot | None:
    """What the booking system did with this operation's reference, if anything."""
    details = system.details(ref=op.op_id)
    if details is None or op.op_id not in details.external_refs:
        return None
    if op.kind == "cancel":
        return stored_slot(op) if details.status == "cancelled" else None
    return details.timeslot


def abandon(op: Operation) -> None:
    """The booking system did nothing with it: the operation goes (and an invitation opens again)."""
    uow = UnitOfWork()
    repository.drop(uow, op)
    if op.kind == "invitation" and op.invitation_id:
        invitation = repository.get_invitation(op.invitation_id)
        if invitation is not None:
            repository.release_invitation(invitation, op.op_id)
    with contextlib.suppress(repository.OperationSettled):  # settled meanwhile: nothing to drop
        uow.commit()


_CHANGES = {"book": "booked", "invitation": "booked", "cancel": "cancelled", "rebook": "rebooked"}
_PROXY_ACTS = {"book": "booking-made", "invitation": "booking-made", "cancel": "booking-cancelled"}


def confirm(op: Operation, slot: Timeslot, now: datetime) -> dict[str, Any]:
    """Records the booking system's yes with the citizen's inbox message (R-45, notified: R-11) and,
    in proxy mode, the guardian's trace (R-36), in one transaction. A second confirmer (the request's
    retry and the reconciler) loses on the operation's state and changes nothing."""
    change = _CHANGES[op.kind]
    result: dict[str, Any] = {"bookingId": slot.booking_id or op.booking_id}
    if op.kind == "cancel":
        result["status"] = "cancelled"
    if op.kind in ("rebook", "invitation"):
        result["slotId"] = op.slot_id
    uow = UnitOfWork()
    repository.confirm(uow, op, result, now)
    subject, body = _message(change, op.clinic_name, slot)
    arrivals.new_item(
        uow,
        op.citizen_id,
        item_id=message_id(op),
        kind="booking",
        subject=subject,
        sender=op.clinic_name,
        at=now,
        unread=True,
        body=body,
        details={
            "booking": {
                "system": op.system,
                "bookingId": result["bookingId"],
                "clinicId": op.clinic_id,
                "clinicName": op.clinic_name,
                "startsAt": iso(slot.starts_at),
                "endsAt": iso(slot.ends_at),
                "timeTypeName": slot.time_type_name,
                "change": change,
            }
        },
    )
    if op.kind == "invitation" and op.invitation_id:
        invitation = repository.get_invitation(op.invitation_id)
        if invitation is not None:
            repository.use_invitation(uow, invitation, op.op_id, slot.slot_id, str(result["bookingId"]))
    if op.actor_citizen_id != op.citizen_id:
        activity.record_act(
            uow,
            child_id=op.citizen_id,
            guardian_id=op.actor_citizen_id,
            guardian_name=op.actor_name,
            what=_PROXY_ACTS.get(op.kind, "booking-rebooked"),  # type: ignore[arg-type]
            at=now,
            log=audit_repository.DYNAMO,
            details={"bookingId": result["bookingId"]},
        )
    try:
        uow.commit()
    except repository.OperationSettled:
        return result  # the reconciler (or a retry) confirmed it first, with the same message id
    metrics.add_metric(name=f"Booking{change.title()}", unit="Count", value=1)
    return result


def _message(change: str, clinic_name: str, slot: Timeslot) -> tuple[str, str]:
    when = slot.starts_at.astimezone(stockholm()).strftime("%Y-%m-%d kl. %H:%M")
    what = f"{slot.time_type_name} " if slot.time_type_name else ""
    if change == "cancelled":
        return f"Avbokad tid: {clinic_name}", f"Din tid {when} hos {clinic_name} är avbokad."
    if change == "rebooked":
        return f"Ombokad tid: {clinic_name}", f"Din tid hos {clinic_name} är ombokad till {when}."
    return f"Bokad tid: {clinic_name}", f"Du har bokat {what}{when} hos {clinic_name}.".replace("  ", " ")
