"""Inbox models on the wire: a page of items, and one item with its case thread and attachments."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.cases.schemas import Author, FormAnswers, Message
from chalicelib.core.schemas import ApiModel
from chalicelib.forms.schemas import FormToFill


class InboxItem(ApiModel):
    id: str
    kind: Literal["case", "message", "notice", "booking", "invitation", "form"]
    subject: str
    from_: str = Field(alias="from")
    created_at: str
    updated_at: str
    unread: bool
    case_id: str | None = None


class InboxPage(ApiModel):
    items: list[InboxItem]
    next_cursor: str | None = None


class AttachmentInfo(ApiModel):
    attachment_id: str
    file_name: str
    content_type: str
    size: int
    metadata_removed: list[str] | None = Field(
        default=None, description="A photo whose metadata (e.g. GPS position) the content check removed: what"
    )
    notice: str | None = Field(default=None, description="What was removed from the photo, in Swedish")


class LabResultDetails(ApiModel):
    """A self-sampling kit's result from the lab (R-54)."""

    order_id: str
    result_id: str
    kit_type: str
    analysis: str
    outcome: str
    received_at: str


class CaseThread(ApiModel):
    case_id: str
    clinic_id: str
    clinic_name: str
    case_type_name: str
    status: str
    subject: str
    created_at: str
    started_by: Author | None = Field(default=None, description="R-36: the child, or a guardian in proxy mode")
    messages: list[Message]
    form: FormAnswers | None = Field(default=None, description="R-50/R-51: the answers sent, as answered")


class NoticeDetails(ApiModel):
    """An appointment notice's booking (R-40): the clinic, the time and the place, as on paper."""

    system: str
    booking_id: str
    clinic_id: str
    clinic_name: str
    starts_at: str
    ends_at: str | None = None
    place: str | None = None
    change: Literal["cancelled", "moved"] | None = Field(
        default=None, description="Set on a message about a change after the notice was released"
    )


class BookingActivity(ApiModel):
    """A booking the citizen made, moved or cancelled online (R-45)."""

    system: Literal["PASiS", "PMO"]
    booking_id: str
    clinic_id: str
    clinic_name: str
    starts_at: str
    ends_at: str
    time_type_name: str
    change: Literal["booked", "rebooked", "cancelled"]


class InvitationSlot(ApiModel):
    slot_id: str
    starts_at: str
    ends_at: str


class InvitationDetails(ApiModel):
    """An open invitation (R-44): book one of `slots` with `POST /citizens/{cid}/invitations/{id}/book`."""

    system: Literal["PASiS", "PMO"]
    clinic_id: str
    clinic_name: str
    slots: list[InvitationSlot]
    expires_at: str
    state: Literal["open", "used", "expired"]
    booking_id: str | None = None


class InboxItemView(InboxItem):
    body: str | None = None
    notice: NoticeDetails | None = None
    booking: BookingActivity | None = None
    lab_result: LabResultDetails | None = None
    invitation: InvitationDetails | None = None
    form: FormToFill | None = Field(
        default=None,
        description="R-51: a form care sent (kind `form`): answer it at /citizens/{cid}/forms/{id}/answers",
    )
    case: CaseThread | None = None
    attachments: list[AttachmentInfo] = Field(default_factory=list)


class ProxyGuardian(ApiModel):
    citizen_id: str
    name: str | None = Field(default=None, description="As the population register had it at the time")


class ProxyAct(ApiModel):
    at: str
    guardian: ProxyGuardian
    what: Literal[
        "case-started",
        "complaint-submitted",
        "message-sent",
        "settings-changed",
        "booking-made",
        "booking-cancelled",
        "booking-rebooked",
        "health-declaration-submitted",
        "sample-kit-ordered",
    ]
    case_id: str | None = None
    fields: list[str] | None = Field(default=None, description="settings-changed: which settings (names only)")


class ProxyActivity(ApiModel):
    """What guardians did in proxy mode for the child (R-36), newest first."""

    items: list[ProxyAct]
    next_cursor: str | None = None
