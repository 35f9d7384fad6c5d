"""Form handling's models on the wire (R-51)."""

from __future__ import annotations

from pydantic import Field, JsonValue

from chalicelib.cases.schemas import AnswerKey, AttachmentIds, CaseCreated
from chalicelib.clinics.schemas import ComponentModel
from chalicelib.core.schemas import ApiModel, PersonnummerField

__all__ = ["AnswerFormRequest", "CaseCreated", "FormSent", "FormToFill", "SendFormRequest"]


class SendFormRequest(ApiModel):
    personnummer: PersonnummerField
    case_type_id: str = Field(min_length=1, max_length=64, description="A case type of the clinic with a form")
    message: str = Field(min_length=1, max_length=4000, description="Why care asks; shown with the form")


class FormSent(ApiModel):
    form_id: str = Field(description="Also the id of the citizen's inbox item (kind `form`)")


class AnswerFormRequest(ApiModel):
    answers: dict[AnswerKey, JsonValue] = Field(
        default_factory=dict,
        max_length=50,
        description="`{componentId: value}` as for a case on a local e-service (R-50), checked against the "
        "form as it was sent",
    )
    attachment_ids: list[str] = AttachmentIds


class FormToFill(ApiModel):
    """A form care sent (R-51), as its inbox item shows it: what to fill in and whether it is answered."""

    form_id: str
    clinic_id: str
    clinic_name: str
    case_type_id: str
    name: str
    message: str
    sent_at: str
    version: int
    attachments_allowed: bool
    components: list[ComponentModel]
    state: str = Field(description="`sent` (to fill in) or `answered`")
    case_id: str | None = Field(default=None, description="The case the answers became, once answered")
