"""Web booking on the wire (API.md: bookings, slots, invitations)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from chalicelib.core.schemas import ApiModel, PersonnummerField

ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class BookRequest(ApiModel):
    clinic_id: str = Field(pattern=ID)
    case_type_id: str = Field(pattern=ID)
    slot_id: str = Field(pattern=ID)


class RebookRequest(ApiModel):
    slot_id: str = Field(pattern=ID)


class SlotRequest(ApiModel):
    slot_id: str = Field(pattern=ID)


class Booked(ApiModel):
    booking_id: str
    slot_id: str | None = None
    status: Literal["cancelled"] | None = None


class BookedTime(ApiModel):
    booking_id: str
    system: Literal["PASiS", "PMO"]
    clinic_id: str
    clinic_name: str
    starts_at: str
    ends_at: str
    time_type_name: str
    booked_by: Literal["care", "citizen"]
    can_cancel: bool = Field(description="R-45: the clinic lets citizens manage bookings; the deadline is ahead")
    can_rebook: bool
    cancel_deadline: str = Field(description="PASiS: 24 hours before the time; PMO: when it starts")
    invitation: bool = Field(description="Booked from an open invitation")


class BookedTimes(ApiModel):
    items: list[BookedTime]
    unavailable_systems: list[Literal["PASiS", "PMO"]] = Field(
        description="Booking systems that did not answer: their times are missing from `items`"
    )


class Slot(ApiModel):
    slot_id: str
    starts_at: str
    ends_at: str
    time_type_name: str


class Slots(ApiModel):
    items: list[Slot]


class OfferedSlot(ApiModel):
    slot_id: str = Field(pattern=ID)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class InvitationText(ApiModel):
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)


class InvitationEvent(ApiModel):
    system: Literal["PASiS", "PMO"]
    invitation_id: str = Field(pattern=ID)
    personnummer: PersonnummerField
    clinic_id: str = Field(pattern=ID)
    slots: list[OfferedSlot] = Field(min_length=1, max_length=20)
    expires_at: AwareDatetime
    notice: InvitationText

    @model_validator(mode="after")
    def _slots(self) -> InvitationEvent:
        if len({s.slot_id for s in self.slots}) != len(self.slots):
            raise ValueError("each slot once")
        if any(s.ends_at <= s.starts_at for s in self.slots):
            raise ValueError("a slot's endsAt must be after its startsAt")
        return self


class InvitationDecision(ApiModel):
    invitation_id: str | None = Field(description="Ours: the inbox item's id; null when it goes on paper")
    digital: bool
    paper_notice: bool = Field(description="The booking system prints and posts the invitation")
    paper_reason: Literal["deceased", "no-account", "account-locked"] | None
