"""Open invitations (öppen kallelse, R-44): a booking system offers one citizen a few slots the clinic
chose; the invitation arrives in the inbox (kind `invitation`, notified, R-11) and the citizen books
exactly one. The invitation moves `open → booking → used` by conditional writes, so two attempts
cannot both book; the booking system releases the other slots when one is booked."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.arrivals import service as arrivals
from chalicelib.clinics import service as clinics
from chalicelib.core.clock import Clock, iso
from chalicelib.core.errors import InvalidInput, NotFound
from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.web_booking import repository
from chalicelib.web_booking.booking_system import BookingRefused, BookingSystemUnavailable
from chalicelib.web_booking.models import Invitation, OfferedSlot, invitation_id
from chalicelib.web_booking.service import (
    Done,
    InvitationExpired,
    InvitationUsed,
    SlotTaken,
    Systems,
    default_systems,
    existing_op,
    new_op,
    send,
    unavailable,
)

if TYPE_CHECKING:
    from chalicelib.guardians.service import Subject
    from chalicelib.population.port import PopulationRegister


def receive(
    *,
    system: str,
    external_id: str,
    personnummer: str,
    clinic_id: str,
    slots: list[OfferedSlot],
    expires_at: datetime,
    subject: str,
    body: str,
    clock: Clock,
    register: PopulationRegister,
) -> dict[str, Any]:
    """`POST /integrations/invitations`: the invitation in the citizen's inbox, or paper when they
    cannot receive it digitally (no active account, locked, deceased: the booking system prints it).
    A replay finds the invitation already there and answers the same."""
    from chalicelib.accounts import service as accounts

    now = clock()
    the_id = invitation_id(system, external_id)
    if (found := repository.get_invitation(the_id)) is not None:
        return _answer(found.invitation_id, None)
    try:
        clinic = clinics.get(clinic_id)
    except NotFound:
        raise InvalidInput("Mottagningen är okänd.", code="unknown-clinic") from None
    if expires_at <= now:
        raise InvalidInput("Kallelsen har redan gått ut.", code="invitation-expired")
    if any(s.starts_at <= iso(now) for s in slots):
        raise InvalidInput("En erbjuden tid har redan passerat.", code="starts-in-the-past")
    person = register.find(personnummer)
    if person is None:
        raise InvalidInput("Personen finns inte i folkbokföringen.", code="unknown-person")
    account = accounts.find_by_personnummer(personnummer)
    reason = (
        "deceased"
        if person.deceased
        else "no-account"
        if account is None or not account.active
        else "account-locked"
        if account.locked
        else None
    )
    if reason or account is None:
        return _answer(None, reason or "no-account")
    invitation = Invitation(
        invitation_id=the_id,
        system=system,
        external_id=external_id,
        citizen_id=account.citizen_id,
        clinic_id=clinic.clinic_id,
        clinic_name=clinic.name,
        slots=tuple(slots),
        expires_at=iso(expires_at),
        received_at=iso(now),
    )
    uow = UnitOfWork()
    repository.add_invitation(uow, invitation)
    arrivals.new_item(
        uow,
        account.citizen_id,
        item_id=the_id,
        kind="invitation",
        subject=subject,
        sender=clinic.name,
        at=now,
        unread=True,
        body=body,
        details={"invitation": _details(invitation)},
    )
    with contextlib.suppress(repository.InvitationTaken):  # a concurrent replay wrote it first
        uow.commit()
    return _answer(the_id, None)


def _answer(the_id: str | None, paper_reason: str | None) -> dict[str, Any]:
    return {
        "invitationId": the_id,
        "digital": the_id is not None,
        "paperNotice": the_id is None,
        "paperReason": paper_reason,
    }


def _details(invitation: Invitation) -> dict[str, Any]:
    return {
        "system": invitation.system,
        "clinicId": invitation.clinic_id,
        "clinicName": invitation.clinic_name,
        "slots": [{"slotId": s.slot_id, "startsAt": s.starts_at, "endsAt": s.ends_at} for s in invitation.slots],
        "expiresAt": invitation.expires_at,
    }


def view(citizen_id: str, the_id: str, *, clock: Clock) -> dict[str, Any] | None:
    """The invitation as the inbox shows it, with its state now (`open`, `used`, `expired`)."""
    invitation = repository.get_invitation(the_id)
    if invitation is None or invitation.citizen_id != citizen_id:
        return None
    state = "used" if invitation.state == "used" else "expired" if _expired(invitation, clock()) else "open"
    return {**_details(invitation), "state": state, "bookingId": invitation.booking_id}


def _expired(invitation: Invitation, now: datetime) -> bool:
    return iso(now) >= invitation.expires_at


def book(
    subject: Subject,
    the_id: str,
    slot_id: str,
    *,
    idempotency_key: str | None,
    clock: Clock,
    systems: Systems = default_systems,
) -> Done:
    """`POST /citizens/{cid}/invitations/{invitationId}/book`: one slot of the invitation (R-44)."""
    invitation = repository.get_invitation(the_id)
    if invitation is None or invitation.citizen_id != subject.citizen_id:
        raise NotFound("Kallelsen finns inte.", code="invitation-not-found")
    request = {"invitation": the_id, "slot": slot_id}
    op_id, op = existing_op(f"invitation:{subject.actor_citizen_id}:{subject.citizen_id}", idempotency_key, request)
    if op is not None and op.state == "confirmed":
        return Done(op.result or {}, created=False)
    now = clock()
    if op is None:
        if invitation.state == "used" or (invitation.state == "booking" and invitation.op_id != op_id):
            raise InvitationUsed("Du har redan bokat en tid från den här kallelsen.")
        if _expired(invitation, now):
            raise InvitationExpired("Kallelsen gäller inte längre.")
        offered = next((s for s in invitation.slots if s.slot_id == slot_id), None)
        if offered is None:
            raise InvalidInput("Tiden ingår inte i kallelsen.", code="slot-not-offered")
        op = new_op(
            subject,
            op_id,
            "invitation",
            request,
            system=invitation.system,
            clinic_id=invitation.clinic_id,
            clinic_name=invitation.clinic_name,
            now=now,
            slot_id=slot_id,
            invitation_id=the_id,
            starts_at=offered.starts_at,
            ends_at=offered.ends_at,
        )
        try:
            repository.claim_invitation(invitation, op_id, slot_id)
        except repository.InvitationTaken:
            uow = UnitOfWork()
            repository.drop(uow, op)
            uow.commit()
            raise InvitationUsed("Du har redan bokat en tid från den här kallelsen.") from None
    try:
        return Done(send(op, systems, subject.account.personnummer, clock, invitation), created=True)
    except SlotTaken as taken:
        taken.extra = {"freeSlots": _still_free(invitation, systems)}
        raise


def _still_free(invitation: Invitation, systems: Systems) -> list[dict[str, str]]:
    """The invitation's slots the booking system still holds free for it."""
    try:
        held = systems(invitation.system).timeslots(
            invitation.clinic_id, [s.slot_id for s in invitation.slots], invitation_id=invitation.external_id
        )
    except BookingSystemUnavailable as error:
        raise unavailable(error, pending=False) from None
    except BookingRefused:
        return []
    free = {s.slot_id for s in held}
    offered = [s for s in invitation.slots if s.slot_id in free]
    return [{"slotId": s.slot_id, "startsAt": s.starts_at, "endsAt": s.ends_at} for s in offered]
