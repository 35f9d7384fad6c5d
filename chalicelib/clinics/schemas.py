"""Clinic and case-type models on the wire."""

from __future__ import annotations

from pydantic import Field

from chalicelib.core.schemas import ApiModel


class ClinicSummary(ApiModel):
    clinic_id: str
    name: str
    region: str


class ClinicList(ApiModel):
    items: list[ClinicSummary]


class CaseTypeOut(ApiModel):
    id: str
    name: str
    attachments_allowed: bool
    active: bool


class ClinicOut(ApiModel):
    clinic_id: str
    name: str
    region: str
    case_types: list[CaseTypeOut]


class CaseTypeIn(ApiModel):
    name: str = Field(min_length=1, max_length=100)
    attachments_allowed: bool
    active: bool = True
