"""Clinic and case-type models on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.core.schemas import ApiModel


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
    attachments_allowed: bool
    active: bool = True
    # R-45a: web booking is activated by a case type with its booking system, kind and terms text
    web_booking: WebBookingIn | None = None
    terms_text: str | None = Field(default=None, max_length=4000)
