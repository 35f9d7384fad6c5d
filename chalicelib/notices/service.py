"""Booking events in, notices out (R-40..R-43, R-41a): the intake and what a booking's notice became.

A booking system sends `booked`, `rebooked` and `cancelled` for one (system, bookingId), more than once
and out of order. Each notice keeps the version (`bookedAt`, `sequence`) of the last event applied: an
event that is not newer changes nothing and gets the stored answer, so replays are harmless. The paper
decision is taken once, by the first event of a booking (R-41a). Until release the clinic may move or
cancel the booking and the citizen sees only the final state (R-41); after release each change puts a
new message in the inbox. Releasing is in `release.py`; a notice due already (booked after 18:00) is
released by the event that makes it so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.arrivals import service as arrivals
from chalicelib.core.clock import Clock, iso, stockholm
from chalicelib.core.concurrency import retrying
from chalicelib.core.errors import Conflict, InvalidInput, NotFound
from chalicelib.core.personal_number import lookup_key
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.notices import rules
from chalicelib.notices.models import Booking, Content, FollowUp, Notice, item_id, notice_id
from chalicelib.notices.ports import STORES, NoticeStores

if TYPE_CHECKING:
    from chalicelib.staff.identity import StaffPrincipal

CLOCK_SKEW = timedelta(minutes=5)
# The 18:00 burst is notified at the providers' rate (docs/architecture.md, Capacity): a notice's arrival
# is swept as lost only after the whole burst could have drained, not after the usual two minutes.
NOTIFY_WITHIN = timedelta(hours=1)  # how far ahead of our clock a booking system's bookedAt may be


class UnknownPerson(InvalidInput):
    code = "unknown-person"


class UnknownClinic(InvalidInput):
    code = "unknown-clinic"


class StartsInThePast(InvalidInput):
    code = "starts-in-the-past"


class BookedInTheFuture(InvalidInput):
    code = "booked-in-the-future"


class OtherPerson(Conflict):
    code = "booking-person-mismatch"


def receive(booking: Booking, *, clock: Clock, stores: NoticeStores = STORES) -> dict[str, Any]:
    """Applies a booking event; the answer (202) says what the booking system must know."""
    return retrying(
        lambda: _receive(booking, clock(), stores),
        conflict=Conflict("Bokningen ändrades samtidigt. Skicka händelsen igen.", code="booking-busy"),
    )


def _receive(booking: Booking, now: datetime, stores: NoticeStores) -> dict[str, Any]:
    current = stores.notices.get(booking.system, booking.booking_id)
    version = rules.version(booking.booked_at, booking.sequence)
    if current is not None and version <= current.version:
        return decision(current)  # a replay, or an older event arriving late: nothing changes
    _check(booking, now, current, stores)
    uow = stores.new_uow()
    notice = _apply(uow, booking, version, current, now=now, stores=stores)
    if notice.state == "pending" and notice.release_at and notice.release_at <= iso(now):
        notice = release(uow, notice, now, stores)  # due already (booked after 18:00): at once
    stores.notices.put(uow, notice, replaces=current.version if current else None)
    uow.commit()
    return decision(notice)


def _check(booking: Booking, now: datetime, current: Notice | None, stores: NoticeStores) -> None:
    """What makes an event unacceptable: 422 (or 409), nothing written."""
    if booking.booked_at > now + CLOCK_SKEW:
        raise BookedInTheFuture("bookedAt ligger i framtiden.")
    if booking.status != "cancelled" and booking.starts_at <= now:
        raise StartsInThePast("Besökstiden har redan passerat.")
    if current is not None and current.person_key != lookup_key(booking.personnummer):
        raise OtherPerson("Bokningen gäller en annan person.")
    try:
        stores.clinics.get(booking.clinic_id)
    except NotFound:
        raise UnknownClinic("Mottagningen är okänd.") from None
    if stores.register().find(booking.personnummer) is None:
        raise UnknownPerson("Personen finns inte i folkbokföringen.")


def _content(booking: Booking, stores: NoticeStores) -> Content:
    return Content(
        subject=booking.subject or "Kallelse",
        body=booking.body or "",
        clinic_name=stores.clinics.get(booking.clinic_id).name,
        starts_at=iso(booking.starts_at),
        ends_at=iso(booking.ends_at) if booking.ends_at else None,
        place=booking.place,
    )


def _apply(
    uow: UnitOfWork, booking: Booking, version: str, current: Notice | None, *, now: datetime, stores: NoticeStores
) -> Notice:
    """The notice after this (newer) event; inbox messages for changes after release join `uow`."""
    if current is None or (current.state == "cancelled" and booking.status != "cancelled"):
        return _new(booking, version, now, stores)  # a booking we did not know, or booked again
    changed = current.with_(status=booking.status, version=version, clinic_id=booking.clinic_id)
    if booking.status == "cancelled":
        if current.state == "released":
            changed = _tell(uow, changed, "cancelled", now, stores)
        return changed.with_(state="cancelled", follow_up=_stop(current.follow_up))
    content = _content(booking, stores)
    changed = changed.with_(content=content)
    if current.state == "released":
        changed = _tell(uow, changed, "moved", now, stores)
        if changed.follow_up and changed.follow_up.state == "due" and changed.released_at:
            due = rules.unread_report_at(_instant(changed.released_at), booking.starts_at)
            changed = changed.with_(follow_up=FollowUp(due_at=iso(due)))
    return changed  # pending: the one notice released later carries the final time


def _new(booking: Booking, version: str, now: datetime, stores: NoticeStores) -> Notice:
    """A booking's first event (or one booked again after a cancellation): the paper decision (R-41a)."""
    cancelled = booking.status == "cancelled"
    account = stores.accounts.find_by_personnummer(booking.personnummer)
    person = stores.register().find(booking.personnummer)
    active = account is not None and account.active
    paper = rules.paper_decision(
        deceased=bool(person and person.deceased),
        has_account=active,
        locked=bool(active and account and account.locked),
        digital_only=bool(active and account and stores.digital_only(account.citizen_id)),
        enclosures=booking.enclosures,
    )
    return Notice(
        system=booking.system,
        booking_id=booking.booking_id,
        notice_id=notice_id(booking.system, booking.booking_id),
        person_key=lookup_key(booking.personnummer),
        citizen_id=account.citizen_id if active and account else None,
        clinic_id=booking.clinic_id,
        status=booking.status,
        version=version,
        state="cancelled" if cancelled else "pending",
        content=None if cancelled else _content(booking, stores),
        release_at=None if cancelled else iso(rules.release_at(booking.booked_at)),
        digital=paper.digital and not cancelled,
        paper_notice=paper.paper and not cancelled,
        paper_reason=paper.reason if paper.paper and not cancelled else None,
        received_at=iso(now),
    )


def release(uow: UnitOfWork, notice: Notice, now: datetime, stores: NoticeStores) -> Notice:
    """The notice reaches the inbox (R-40): one `notice` item, unread, notified through the arrival's
    outbox marker (R-11). Returns the notice as released; the caller writes it in the same `uow`."""
    if not notice.digital or notice.citizen_id is None or notice.content is None:
        return notice.with_(state="released", released_at=iso(now))  # paper only: nothing to put in an inbox
    content = notice.content
    item = item_id(notice, "notice")
    arrivals.new_item(
        uow,
        notice.citizen_id,
        item_id=item,
        kind="notice",
        subject=content.subject,
        sender=content.clinic_name,
        at=now,
        unread=True,
        body=content.body,
        details={"notice": _details(notice)},
        notify_within=NOTIFY_WITHIN,
        repo=stores.arrivals,
    )
    due = rules.unread_report_at(now, _instant(content.starts_at))
    return notice.with_(state="released", released_at=iso(now), item_id=item, follow_up=FollowUp(due_at=iso(due)))


def _tell(uow: UnitOfWork, notice: Notice, change: str, now: datetime, stores: NoticeStores) -> Notice:
    """A released booking changed: a new message in the inbox says so (R-41), notified like any arrival."""
    if not notice.digital or notice.citizen_id is None or notice.content is None:
        return notice
    content = notice.content
    when = _local_text(content.starts_at)
    if change == "cancelled":
        subject = f"Avbokad tid: {content.clinic_name}"
        body = f"Din tid {when} hos {content.clinic_name} är avbokad. Kontakta mottagningen om du har frågor."
    else:
        subject = f"Ändrad tid: {content.clinic_name}"
        body = f"Din tid hos {content.clinic_name} är flyttad till {when}.\n\n{content.body}".rstrip()
    message = item_id(notice, change)
    arrivals.new_item(
        uow,
        notice.citizen_id,
        item_id=message,
        kind="notice",
        subject=subject,
        sender=content.clinic_name,
        at=now,
        unread=True,
        body=body,
        details={"notice": {**_details(notice), "change": change}},
        notify_within=NOTIFY_WITHIN,
        repo=stores.arrivals,
    )
    return notice.with_(messages=(*notice.messages, message))


def _stop(follow_up: FollowUp | None) -> FollowUp | None:
    if follow_up is None or follow_up.state != "due":
        return follow_up
    return FollowUp(due_at=follow_up.due_at, state="cancelled")


def _details(notice: Notice) -> dict[str, Any]:
    content = notice.content
    assert content is not None
    return {
        "system": notice.system,
        "bookingId": notice.booking_id,
        "clinicId": notice.clinic_id,
        "clinicName": content.clinic_name,
        "startsAt": content.starts_at,
        "endsAt": content.ends_at,
        "place": content.place,
    }


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _local_text(value: str) -> str:
    """`2026-12-03 kl. 09:30`, in Stockholm time: what the citizen reads in a message."""
    return _instant(value).astimezone(stockholm()).strftime("%Y-%m-%d kl. %H:%M")


# ---------------------------------------------------------------- what became of a booking's notice


def decision(notice: Notice) -> dict[str, Any]:
    """The intake's answer: what the booking system must do (print paper or not) and when we release."""
    return {
        "noticeId": notice.notice_id,
        "state": notice.state,
        "releaseAt": notice.release_at,
        "paperNotice": notice.paper_notice,
        "paperReason": notice.paper_reason,
    }


def view(system: str, booking_id: str, *, clock: Clock, stores: NoticeStores = STORES) -> dict[str, Any]:
    """`GET /integrations/bookings/{system}/{bookingId}`: the decision, the release, whether it was read.
    A paper-only notice has nothing to release: it reads `released` once its release time has passed."""
    notice = find(system, booking_id, stores=stores)
    if not notice.digital and notice.state == "pending" and notice.release_at and notice.release_at <= iso(clock()):
        notice = notice.with_(state="released", released_at=notice.release_at)
    return {**decision(notice), **_progress(notice, stores)}


def find(system: str, booking_id: str, *, stores: NoticeStores = STORES) -> Notice:
    notice = stores.notices.get(system, booking_id)
    if notice is None:
        raise NotFound("Bokningen finns inte.", code="booking-not-found")
    return notice


def _progress(notice: Notice, stores: NoticeStores) -> dict[str, Any]:
    read: bool | None = None
    if notice.item_id and notice.citizen_id:
        item = stores.arrivals.get_item(notice.citizen_id, notice.item_id)
        read = item is not None and not item.get("unread")
    follow_up = notice.follow_up
    return {
        "system": notice.system,
        "bookingId": notice.booking_id,
        "clinicId": notice.clinic_id,
        "startsAt": notice.content.starts_at if notice.content else None,
        "digital": notice.digital,
        "releasedAt": notice.released_at,
        "read": read,
        "followUp": (
            {"state": follow_up.state, "dueAt": follow_up.due_at, "reportedAt": follow_up.reported_at}
            if follow_up
            else None
        ),
    }


def staff_view(
    staff: StaffPrincipal, clinic_id: str, system: str, booking_id: str, *, clock: Clock, stores: NoticeStores = STORES
) -> dict[str, Any]:
    """Staff at the booking's clinic see what became of its notice, read or not; every look is audited
    under the citizen (or the keyed hash of the personnummer when there is no account)."""
    from chalicelib.audit import service as audit

    staff.require(clinic_id, "case-receiver", "case-handler", "clinic-admin")
    notice = find(system, booking_id, stores=stores)
    if notice.clinic_id != clinic_id:
        raise NotFound("Bokningen finns inte.", code="booking-not-found")
    shown = view(system, booking_id, clock=clock, stores=stores)
    audit.append(
        audit.AuditEntry(
            subject=audit.citizen_subject(notice.citizen_id)
            if notice.citizen_id
            else audit.person_subject(notice.person_key),
            action="read.booking-notice",
            actor_kind="staff",
            actor=staff.hsa_id,
            at=clock(),
            outcome="ok",
            details={"clinicId": clinic_id, "staffName": staff.name, "noticeId": notice.notice_id},
        )
    )
    return shown
