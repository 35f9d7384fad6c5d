"""Medicines on the wire (API.md: medications, prescription renewals, supply orders)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from chalicelib.core.schemas import ApiModel

ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
Id = Annotated[str, Field(pattern=ID)]


class MedicationItem(ApiModel):
    medication_id: str = Field(description="The national medication list's id of the prescription")
    name: str
    strength: str | None = None
    form: str | None = None
    dosage: str | None = None
    registered_on: str = Field(description="When the prescription was registered (YYYY-MM-DD)")
    last_dispensed_on: str | None = Field(default=None, description="The latest dispensing (YYYY-MM-DD), if any")
    prescriber: str | None = None


class Medications(ApiModel):
    """Previously registered medicines, newest first, at most 5 years back (R-52)."""

    items: list[MedicationItem]
    from_: str = Field(
        alias="from",
        description="The oldest date shown (YYYY-MM-DD): 5 years back; older medicines never appear",
    )


class SupplyAddress(ApiModel):
    care_of: str | None = Field(default=None, min_length=1, max_length=100, description="c/o")
    street: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(pattern=r"^[0-9]{3} ?[0-9]{2}$", examples=["553 20"])
    city: str = Field(min_length=1, max_length=60)


class SupplyItem(ApiModel):
    supply_id: str
    name: str
    unit: str
    max_quantity: int = Field(description="The most one order may ask for")
    prescribed_on: str
    valid_until: str | None = Field(default=None, description="Last day the prescription can be ordered on")
    prescriber: str | None = None


class SupplyPickupPoint(ApiModel):
    pickup_point_id: str
    name: str
    address: SupplyAddress


class Supplies(ApiModel):
    """Supplies prescribed to the citizen that can be ordered now, and the pickup points (R-53)."""

    items: list[SupplyItem]
    pickup_points: list[SupplyPickupPoint]


class RenewalRequest(ApiModel):
    clinic_id: str = Field(pattern=ID)
    medication_ids: list[Id] = Field(
        default_factory=list,
        max_length=20,
        description="Ids from `GET /citizens/{cid}/medications` (not under 16 nor in proxy mode)",
    )
    free_text: str | None = Field(default=None, max_length=2000)


class RenewalCreated(ApiModel):
    case_id: str


class SupplyOrderLine(ApiModel):
    supply_id: str = Field(pattern=ID)
    quantity: int = Field(ge=1, le=999)


class SupplyDelivery(ApiModel):
    kind: Literal["pickup-point", "home", "other"]
    address: SupplyAddress | None = Field(default=None, description="Only with `other`")
    pickup_point_id: str | None = Field(default=None, pattern=ID, description="Only with `pickup-point`")


class SupplyOrderRequest(ApiModel):
    clinic_id: str = Field(pattern=ID)
    items: list[SupplyOrderLine] = Field(min_length=1, max_length=20)
    delivery: SupplyDelivery


class SupplyOrderCreated(ApiModel):
    order_id: str
    case_id: str = Field(description="The order is a case at the clinic: the same id, also the inbox item's")
