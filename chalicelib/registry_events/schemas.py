"""Population events on the wire (API.md, Machine clients)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.core.schemas import ApiModel, PersonnummerField

EventKind = Literal["custody-changed", "protected-identity-changed", "deceased"]


class PopulationEvent(ApiModel):
    """A change in the population register for one person; the backend reads the person again."""

    kind: EventKind
    personnummer: PersonnummerField


class PopulationEventReceipt(ApiModel):
    """What the register says now, as the backend read it; proxy links follow from the next request."""

    kind: EventKind
    citizen_id: str | None = Field(description="The person's account, if they have one")
    protected_identity: bool
    deceased: bool
    related_accounts: int = Field(
        ge=0, description="Guardians and children of the person who have an account: their proxy links were affected"
    )
