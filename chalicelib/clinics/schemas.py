"""Clinic and case-type models on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.clinics import components as rules
from chalicelib.core.schemas import ApiModel

ComponentKind = Literal["single-choice", "multi-choice", "free-text", "date", "attachments", "terms"]
ComponentId = Field(pattern=rules.ID_PATTERN, description="Unique within the form: letters, digits, - and _")


class OptionModel(ApiModel):
    id: str = ComponentId
    label: str = Field(min_length=1, max_length=rules.MAX_OPTION_LABEL)


class ComponentModel(ApiModel):
    """One component of a local e-service's form (R-50), as set by the clinic admin and as the form call
    returns it."""

    id: str = ComponentId
    kind: ComponentKind
    label: str = Field(min_length=1, max_length=rules.MAX_LABEL, description="The question as the citizen sees it")
    required: bool = False
    options: list[OptionModel] | None = Field(
        default=None, max_length=rules.MAX_OPTIONS, description="single-choice and multi-choice only (at least one)"
    )
    max_length: int | None = Field(
        default=None, ge=1, le=rules.MAX_FREE_TEXT, description="free-text only; default 2000 characters"
    )
    text: str | None = Field(default=None, max_length=rules.MAX_TERMS_TEXT, description="terms only: the terms text")


class FormOut(ApiModel):
    """A case type's form (R-50). A case on it sends `answers: {componentId: value}`: an option's id
    (single-choice), a list of option ids (multi-choice), text (free-text), an ISO date (date), `true`
    (terms); the files of an attachments component go in `attachmentIds`."""

    clinic_id: str
    case_type_id: str
    name: str
    version: int
    attachments_allowed: bool
    components: list[ComponentModel]


class ClinicSummary(ApiModel):
    clinic_id: str
    name: str
    region: str


class ClinicList(ApiModel):
    items: list[ClinicSummary]


class WebBookingOut(ApiModel):
    system: Literal["PASiS", "PMO"]
    kind: Literal["book-direct", "manage-bookings"]


class CaseTypeOut(ApiModel):
    id: str
    name: str
    attachments_allowed: bool
    active: bool
    web_booking: WebBookingOut | None = None
    terms_text: str | None = None
    form_version: int | None = Field(default=None, description="R-50: the version of its form, if it has one")
    components: list[ComponentModel] | None = Field(default=None, description="R-50: the form (configuration call)")


class ClinicOut(ApiModel):
    clinic_id: str
    name: str
    region: str
    case_types: list[CaseTypeOut]


class WebBookingIn(ApiModel):
    system: Literal["PASiS", "PMO"]
    kind: Literal["book-direct", "manage-bookings"]


class CaseTypeIn(ApiModel):
    name: str = Field(min_length=1, max_length=100)
    attachments_allowed: bool | None = Field(
        default=None,
        description="Needed without components; with components it follows from an attachments component "
        "(R-50, R-22), and a contradicting value is refused",
    )
    active: bool = True
    components: list[ComponentModel] | None = Field(
        default=None,
        max_length=rules.MAX_COMPONENTS,
        description="R-50: a local e-service built from components; left out: unchanged; []: no form. "
        "Every change takes the next form version",
    )
    # R-45a: web booking is activated by a case type with its booking system, kind and terms text
    web_booking: WebBookingIn | None = None
    terms_text: str | None = Field(default=None, max_length=4000)
