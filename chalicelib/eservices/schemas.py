"""The e-services a subject may open, on the wire (API.md: `GET /citizens/{cid}/services`)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.core.schemas import ApiModel
from chalicelib.eservices.rules import ReasonCode, Service


class ServiceAvailability(ApiModel):
    service: Service
    available: bool
    reason: str | None = Field(default=None, description="Why not (Swedish), when not available")
    reason_code: ReasonCode | None = Field(
        default=None, description="Stable reason, when not available"
    )


class Services(ApiModel):
    items: list[ServiceAvailability] = Field(description="Each of the ten services once, always in this order")
