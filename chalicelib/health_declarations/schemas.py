"""The health declaration on the wire (API.md, R-46)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from chalicelib.core.schemas import ApiModel

ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
QuestionId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# An option id, or the free text (its own limit is checked with a message that names the question).
AnswerValue = Annotated[str, StringConstraints(max_length=4000)]


class FormOption(ApiModel):
    id: str
    label: str
    needs_attention: bool = Field(description="Shown red in the clinic's PDF (needs attention); else green")


class FormQuestion(ApiModel):
    id: str
    text: str
    required: bool
    medically_relevant: bool = Field(description="Only medically relevant answers go into the clinic's PDF")
    options: list[FormOption]


class FreeTextQuestion(ApiModel):
    id: str = Field(description="The key of the free text in `answers`")
    label: str
    max_length: int
    required: bool


class HealthDeclarationForm(ApiModel):
    """The national health declaration: every question fixed-choice and mandatory, a final free text."""

    version: int
    questions: list[FormQuestion]
    free_text: FreeTextQuestion


class SubmitDeclaration(ApiModel):
    answers: dict[QuestionId, AnswerValue] = Field(
        max_length=64,
        description='`{questionId: optionId, ..., "freeText": "..."}`: every question answered with one of '
        "its options; the free text is optional",
    )
    clinic_id: str | None = Field(
        default=None, pattern=ID, description="The clinic the declaration is for; only its staff read the PDF"
    )


class DeclarationSubmitted(ApiModel):
    declaration_id: str
    valid_until: str = Field(
        description="Last day it is valid (YYYY-MM-DD, Swedish date): 12 months for adults, 6 months for "
        "children (age on the day of submission)"
    )


class DeclarationSummary(ApiModel):
    declaration_id: str
    submitted_at: str
    valid_until: str
    valid: bool = Field(description="Valid today (Swedish date)")
    clinic_id: str | None = None


class DeclarationList(ApiModel):
    """Newest first."""

    items: list[DeclarationSummary]
