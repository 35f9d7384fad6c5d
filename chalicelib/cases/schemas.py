"""Case and access-log models on the wire (the inbox's are in `chalicelib.inbox.schemas`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, StringConstraints, model_validator

from chalicelib.core.schemas import ApiModel, PersonnummerField

Body = Field(min_length=1, max_length=10_000)
Subject = Field(min_length=1, max_length=200)
AttachmentIds: list[str] = Field(default_factory=list, max_length=20)


AnswerKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Answers = Field(
    default=None,
    max_length=50,
    description="R-50: for a case type with a form, `{componentId: value}`: an option's id (single-choice), a "
    "list of option ids (multi-choice), text (free-text), an ISO date (date), true (terms); the files of an "
    "attachments component go in attachmentIds. Checked against the form's current version: 422 "
    "`answer-required` / `answer-invalid` / `answer-unknown` naming the question, with `componentId`",
)


class StartCaseRequest(ApiModel):
    clinic_id: str = Field(min_length=1, max_length=64)
    case_type_id: str = Field(min_length=1, max_length=64)
    subject: str | None = Field(
        default=None, min_length=1, max_length=200, description="Left out on a form: the case type's name"
    )
    body: str | None = Field(
        default=None, min_length=1, max_length=10_000, description="Needed unless the case type has a form"
    )
    attachment_ids: list[str] = AttachmentIds
    answers: dict[AnswerKey, JsonValue] | None = Answers


class FormAnswer(ApiModel):
    """One question of the form a case was answered with, as it was then (R-50)."""

    component_id: str
    label: str
    kind: str
    value: JsonValue = Field(description="The answer; null when left unanswered")
    option_labels: list[str] | None = Field(default=None, description="Choice questions: the chosen options' labels")


class FormAnswers(ApiModel):
    """A case's structured answers with the form version they answered (later changes of the case type
    do not change them)."""

    version: int
    answers: list[FormAnswer]
    form_id: str | None = Field(default=None, description="R-51: the form care sent, when the case answers one")
    sent_by: dict[str, Any] | None = Field(default=None, description="R-51: who sent the form (HSA-id, name)")


class MessageRequest(ApiModel):
    body: str = Body
    attachment_ids: list[str] = AttachmentIds


class PatientBoardTarget(ApiModel):
    region: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=500, description="Where it happened, in the citizen's words")


class ComplaintRequest(ApiModel):
    clinic_id: str | None = Field(default=None, min_length=1, max_length=64)
    patient_board: PatientBoardTarget | None = None
    event_date: date = Field(description="When it happened; for a whole care process, the date it started")
    concerns_care_process: bool = False
    body: str = Body

    @model_validator(mode="after")
    def one_target(self) -> ComplaintRequest:
        if (self.clinic_id is None) == (self.patient_board is None):
            raise ValueError("give either clinicId or patientBoard")
        return self


class CaseCreated(ApiModel):
    case_id: str


class MessageCreated(ApiModel):
    message_id: str


class StaffMessageRequest(ApiModel):
    kind: Literal["answer", "partial-answer", "counter-question"]
    body: str = Body
    attachment_ids: list[str] = AttachmentIds


class AssignRequest(ApiModel):
    handler_hsa_id: str = Field(min_length=1, max_length=64)


class ConversationRequest(ApiModel):
    personnummer: PersonnummerField
    subject: str = Subject
    body: str = Body
    attachment_ids: list[str] = AttachmentIds


class Author(ApiModel):
    """Who wrote or started (R-31, R-36): the citizen, a guardian in proxy mode (named), or staff."""

    kind: Literal["citizen", "guardian", "staff"]
    name: str | None = None
    clinic: str | None = Field(default=None, description="Staff: the clinic they wrote from")
    hsa_id: str | None = Field(default=None, description="Staff view only: the staff member's HSA-id")
    guardian_citizen_id: str | None = Field(default=None, description="Staff view only: which guardian")


class CaseSummary(ApiModel):
    case_id: str
    kind: str
    subject: str
    case_type_name: str
    status: str
    created_at: str
    updated_at: str
    due_at: str | None = None
    overdue: bool
    handler_hsa_id: str | None = None
    started_by: Author


class CaseList(ApiModel):
    items: list[CaseSummary]
    next_cursor: str | None = None


class Message(ApiModel):
    id: str
    kind: str
    author: Author
    body: str
    created_at: str
    attachment_ids: list[str]


class StaffCaseView(CaseSummary):
    clinic_id: str
    complaint: dict[str, Any] | None = None
    form: FormAnswers | None = Field(default=None, description="R-50/R-51: the answers of a form case")
    renewal: dict[str, Any] | None = Field(
        default=None, description="R-52: a prescription renewal's medicines (from the list) and free text"
    )
    supply_order: dict[str, Any] | None = Field(
        default=None, description="R-53: a supply order's items and delivery (pickup point, home or other address)"
    )
    citizen: dict[str, Any]
    messages: list[Message]
    history: list[dict[str, Any]]


class CaseState(ApiModel):
    case_id: str
    status: str
    handler_hsa_id: str | None = None
    closed_at: str | None = None


class AccessEntry(ApiModel):
    at: str
    staff_name: str
    staff_hsa_id: str
    clinic_id: str | None = None
    clinic_name: str | None = None
    what: str


class AccessLog(ApiModel):
    items: list[AccessEntry]
