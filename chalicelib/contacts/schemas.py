"""The contact-details service on the wire (API.md, Machine clients)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.core.schemas import ApiModel, PersonnummerField


class ContactLookupRequest(ApiModel):
    personnummer: PersonnummerField


class ContactDetails(ApiModel):
    """Only the details that exist, only while the citizen shares them (R-13)."""

    mobile: str | None = Field(default=None, description="E.164")
    email: str | None = None
