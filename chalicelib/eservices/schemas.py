"""The e-services a subject may open, on the wire (API.md: `GET /citizens/{cid}/services`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.core.schemas import ApiModel

ServiceName = Literal[
    "messages",
    "web-booking",
    "prescription-renewal",
    "medication-list",
    "lakemedelskollen",
    "journal",
    "health-declaration",
    "supplies",
    "self-sampling",
    "support-and-treatment",
]


class ServiceAvailability(ApiModel):
    service: ServiceName
    available: bool
    reason: str | None = Field(default=None, description="Why not (Swedish), when not available")
    reason_code: Literal["account-locked", "age-limit", "proxy-mode", "record-sealed", "age-unknown"] | None = Field(
        default=None, description="Stable reason, when not available"
    )


class Services(ApiModel):
    items: list[ServiceAvailability] = Field(description="Each of the ten services once, always in this order")
