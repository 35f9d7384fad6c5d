"""The medication list over a JSON fixture of test persons (`testdata/medications.json`).

Shape: `{"persons": {"<personnummer>": {"medications": [...], "supplies": [...]}}, "pickupPoints": [...]}`;
dates are ISO dates. Read once per process (the fixture does not change while the stack runs). A person
the fixture does not name has no medicines and no supplies.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from chalicelib.prescriptions.models import DeliveryAddress, Medication, PickupPoint, PrescribedSupply


def _date(raw: str | None) -> date | None:
    return date.fromisoformat(raw) if raw else None


def medication_from_json(raw: dict[str, Any]) -> Medication:
    return Medication(
        medication_id=raw["medicationId"],
        name=raw["name"],
        strength=raw.get("strength"),
        form=raw.get("form"),
        dosage=raw.get("dosage"),
        registered_on=date.fromisoformat(raw["registeredOn"]),
        last_dispensed_on=_date(raw.get("lastDispensedOn")),
        prescriber=raw.get("prescriber"),
    )


def supply_from_json(raw: dict[str, Any]) -> PrescribedSupply:
    return PrescribedSupply(
        supply_id=raw["supplyId"],
        name=raw["name"],
        unit=raw["unit"],
        max_quantity=int(raw["maxQuantity"]),
        prescribed_on=date.fromisoformat(raw["prescribedOn"]),
        valid_until=_date(raw.get("validUntil")),
        prescriber=raw.get("prescriber"),
    )


def pickup_point_from_json(raw: dict[str, Any]) -> PickupPoint:
    address = raw["address"]
    return PickupPoint(
        pickup_point_id=raw["pickupPointId"],
        name=raw["name"],
        address=DeliveryAddress(address["street"], address["postalCode"], address["city"]),
    )


class JsonMedicationList:
    def __init__(
        self,
        medications: dict[str, list[Medication]],
        supplies: dict[str, list[PrescribedSupply]],
        pickup_points: list[PickupPoint],
    ) -> None:
        self._medications = medications
        self._supplies = supplies
        self._pickup_points = pickup_points

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JsonMedicationList:
        persons: dict[str, Any] = data.get("persons") or {}
        return cls(
            {pnr: [medication_from_json(m) for m in p.get("medications") or []] for pnr, p in persons.items()},
            {pnr: [supply_from_json(s) for s in p.get("supplies") or []] for pnr, p in persons.items()},
            [pickup_point_from_json(raw) for raw in data.get("pickupPoints") or []],
        )

    @classmethod
    def from_file(cls, path: str | Path) -> JsonMedicationList:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def registered(self, personnummer: str) -> list[Medication]:
        return list(self._medications.get(personnummer, ()))

    def prescribed_supplies(self, personnummer: str) -> list[PrescribedSupply]:
        return list(self._supplies.get(personnummer, ()))

    def pickup_points(self) -> list[PickupPoint]:
        return list(self._pickup_points)
