"""Booking events and notices on the wire (API.md, Machine clients)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from chalicelib.core.schemas import ApiModel, PersonnummerField
from chalicelib.notices.models import Booking

BOOKING_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
CLINIC_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class NoticeText(ApiModel):
    """The notice as printed on paper (R-40)."""

    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    place: str | None = Field(default=None, max_length=500, description="Where to come")
    enclosures: bool = Field(
        default=False, description="Referrals or preparation material go with it: printed by hand (R-43)"
    )


class BookingEvent(ApiModel):
    system: Literal["PASiS", "PMO"]
    booking_id: str = Field(pattern=BOOKING_ID)
    personnummer: PersonnummerField
    clinic_id: str = Field(pattern=CLINIC_ID)
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    booked_at: AwareDatetime = Field(description="When the booking system made this change")
    sequence: int = Field(default=0, ge=0, le=10**14, description="Orders changes with the same bookedAt")
    status: Literal["booked", "rebooked", "cancelled"]
    notice: NoticeText | None = None

    @model_validator(mode="after")
    def _notice_with_a_booking(self) -> BookingEvent:
        if self.status != "cancelled" and self.notice is None:
            raise ValueError("a booked or rebooked event carries its notice")
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("endsAt must be after startsAt")
        return self

    def to_booking(self) -> Booking:
        notice = self.notice
        return Booking(
            system=self.system,
            booking_id=self.booking_id,
            personnummer=self.personnummer,
            clinic_id=self.clinic_id,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            booked_at=self.booked_at,
            sequence=self.sequence,
            status=self.status,
            subject=notice.subject if notice else None,
            body=notice.body if notice else None,
            place=notice.place if notice else None,
            enclosures=bool(notice and notice.enclosures),
        )


PaperReason = Literal["deceased", "no-account", "account-locked", "digital-only-off", "enclosures"]


class BookingDecision(ApiModel):
    """What the booking system must do: print paper when `paperNotice` (R-41a, R-42, R-43)."""

    notice_id: str
    state: Literal["pending", "released", "cancelled"]
    release_at: str | None = Field(description="When the notice reaches the inbox (18:00 Stockholm, R-41)")
    paper_notice: bool
    paper_reason: PaperReason | None


class FollowUpView(ApiModel):
    state: Literal["due", "read", "unread", "cancelled"]
    due_at: str
    reported_at: str | None = None


class BookingNotice(BookingDecision):
    system: Literal["PASiS", "PMO"]
    booking_id: str
    clinic_id: str
    starts_at: str | None
    digital: bool = Field(description="A copy goes to the citizen's inbox")
    released_at: str | None
    read: bool | None = Field(description="Whether the citizen has opened the notice (null: not in an inbox)")
    follow_up: FollowUpView | None = Field(description="The unread follow-up, reported to the booking system")
