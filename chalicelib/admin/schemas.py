"""Typed events of the support desk's console functions (API.md, Support desk)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.core.regions import Region
from chalicelib.core.schemas import ApiModel, PersonnummerField
from chalicelib.settings.schemas import SettingsChanges

Text = Field(min_length=1, max_length=200)


class AdminEvent(ApiModel):
    ticket_ref: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$",
        description="The support ticket (Easit / service portal) this action belongs to",
    )
    region: Region
    actor: str = Field(min_length=1, max_length=128, description="Who at the support desk carries out the action")
    personnummer: PersonnummerField


class LockAccountEvent(AdminEvent):
    requested_by: Literal["citizen", "care"]
    requester: str = Field(
        min_length=1,
        max_length=200,
        description='"citizen", or the treating staff member who signed the form (HSA-id/name)',
    )
    form_ref: str = Text


class UnlockAccountEvent(AdminEvent):
    requested_by: Literal["citizen", "care"]
    form_ref: str = Text


class UnlockDecisionEvent(AdminEvent):
    decision: Literal["yes", "no"]
    head_of_unit: str = Field(min_length=1, max_length=200, description="The head of unit (verksamhetschef)")
    decision_ref: str = Text


class SealRecordEvent(AdminEvent):
    sealed: bool = True
    form_ref: str = Text


class ChangeSettingsEvent(AdminEvent):
    """R-15: the support desk changes settings for a citizen who can no longer do it. Same fields, merge
    semantics and rules as PATCH /citizens/{cid}/settings."""

    changes: SettingsChanges
