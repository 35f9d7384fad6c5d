"""Self-sampling's plain types (R-54): the kit catalogue, a delivery, an order. Cheap to import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DeliveryKind = Literal["home", "pickup-point", "other"]
Outcome = Literal["negative", "positive", "inconclusive", "not-analysed"]


@dataclass(frozen=True)
class KitType:
    kit_type: str
    name: str  # Swedish, as the citizen sees it


# The kits a citizen may order (egen provhantering). Ids are stable: they are on stored orders.
CATALOGUE: dict[str, KitType] = {
    kit.kit_type: kit
    for kit in (
        KitType("klamydia-gonorre", "Test för klamydia och gonorré"),
        KitType("hpv", "Självtest för HPV (livmoderhalscancer)"),
    )
}

OUTCOME_TEXT: dict[str, str] = {
    "negative": "Negativt – inget påvisades",
    "positive": "Positivt – påvisades",
    "inconclusive": "Oklart – provet behöver tas om",
    "not-analysed": "Provet kunde inte analyseras",
}


@dataclass(frozen=True)
class AddressInput:
    street: str
    postal_code: str
    city: str

    def to_record(self) -> dict[str, Any]:
        return {"street": self.street, "postalCode": self.postal_code, "city": self.city}


@dataclass(frozen=True)
class DeliveryInput:
    """A delivery as asked for: `home` (the population register's address), `pickup-point` (its id) or
    `other` (an address given)."""

    kind: DeliveryKind
    address: AddressInput | None = None
    pickup_point_id: str | None = None

    def to_request(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "address": self.address.to_record() if self.address else None,
            "pickupPointId": self.pickup_point_id,
        }


@dataclass(frozen=True)
class Ordered:
    order_id: str
    created: bool  # False: an Idempotency-Key retry found the first order


@dataclass(frozen=True)
class Received:
    order_id: str
    result_id: str
    duplicate: bool  # True: this result was already in the inbox (a replay)
