"""Self-sampling on the wire (API.md: `POST /citizens/{cid}/sample-kits`, `POST /integrations/lab-results`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.core.schemas import ApiModel
from chalicelib.self_sampling.models import AddressInput, DeliveryInput

ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class KitAddress(ApiModel):
    street: str = Field(min_length=1, max_length=100, description="Street and number (c/o on the same line)")
    postal_code: str = Field(pattern=r"^[0-9]{3} ?[0-9]{2}$", examples=["553 20"])
    city: str = Field(min_length=1, max_length=60)


class KitDelivery(ApiModel):
    kind: Literal["home", "pickup-point", "other"] = Field(
        description="`home`: the address in the population register; `pickup-point`: `pickupPointId`; "
        "`other`: `address`"
    )
    address: KitAddress | None = Field(default=None, description="Only with `other`")
    pickup_point_id: str | None = Field(default=None, pattern=ID, description="Only with `pickup-point`")

    def to_input(self) -> DeliveryInput:
        address = self.address
        return DeliveryInput(
            kind=self.kind,
            address=AddressInput(address.street, address.postal_code, address.city) if address else None,
            pickup_point_id=self.pickup_point_id,
        )


class KitOrderRequest(ApiModel):
    kit_type: Literal["klamydia-gonorre", "hpv"] = Field(description="A kit from the catalogue")
    delivery: KitDelivery


class KitOrdered(ApiModel):
    order_id: str


class LabResult(ApiModel):
    order_id: str = Field(pattern=ID, description="The kit order's id (the kit carries it); names the citizen")
    result_id: str = Field(pattern=ID, description="The lab's id of this result: the inbox gets it once")
    analysis: str = Field(min_length=1, max_length=100, examples=["Klamydia"])
    outcome: Literal["negative", "positive", "inconclusive", "not-analysed"]
    text: str = Field(min_length=1, max_length=4000, description="The answer to the citizen, in Swedish")


class LabResultReceipt(ApiModel):
    order_id: str
    result_id: str
    duplicate: bool = Field(description="True when this result was already delivered (a replay changes nothing)")
