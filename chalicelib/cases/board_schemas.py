"""The patient board's models on the wire (R-27)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.core.schemas import ApiModel


class SetClinicRequest(ApiModel):
    clinic_id: str = Field(
        pattern=r"^[A-Za-z0-9-]{1,64}$", description="The HSA-id of the clinic the complaint concerns"
    )


class PatientBoardRef(ApiModel):
    hsa_id: str
    name: str


class ClinicSet(ApiModel):
    """The complaint now at its clinic; the patient board it came through is kept (and keeps reading it)."""

    case_id: str
    clinic_id: str
    clinic_name: str
    status: str
    patient_board: PatientBoardRef
