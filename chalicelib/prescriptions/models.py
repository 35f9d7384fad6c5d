"""What the national medication list says about a person (plain dataclasses: cheap to import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Medication:
    """A previously registered medicine (förskrivning) as the national medication list has it."""

    medication_id: str  # the list's own id for the prescription, stable
    name: str  # e.g. "Levaxin"
    strength: str | None  # e.g. "50 mikrogram"
    form: str | None  # e.g. "tablett"
    dosage: str | None  # e.g. "1 tablett på morgonen"
    registered_on: date  # when the prescription was registered
    last_dispensed_on: date | None = None  # the latest dispensing at a pharmacy, if any
    prescriber: str | None = None  # the prescribing clinic's name

    @property
    def latest(self) -> date:
        """The newest thing the list knows about the medicine: registration or last dispensing (R-52)."""
        if self.last_dispensed_on and self.last_dispensed_on > self.registered_on:
            return self.last_dispensed_on
        return self.registered_on

    @property
    def label(self) -> str:
        return " ".join(part for part in (self.name, self.strength, self.form) if part)


@dataclass(frozen=True)
class PrescribedSupply:
    """A consumable prescribed to the person (förbrukningsartikel, R-53), orderable while valid."""

    supply_id: str
    name: str  # e.g. "TENA Flex Maxi, inkontinensskydd"
    unit: str  # e.g. "förpackning"
    max_quantity: int  # most units one order may ask for
    prescribed_on: date
    valid_until: date | None = None  # None: until further notice
    prescriber: str | None = None

    def valid_on(self, day: date) -> bool:
        return self.prescribed_on <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class DeliveryAddress:
    street: str
    postal_code: str
    city: str
    care_of: str | None = None

    def as_json(self) -> dict[str, str]:
        shown = {"street": self.street, "postalCode": self.postal_code, "city": self.city}
        if self.care_of:
            shown["careOf"] = self.care_of
        return shown

    def one_line(self) -> str:
        lead = f"c/o {self.care_of}, " if self.care_of else ""
        return f"{lead}{self.street}, {self.postal_code} {self.city}"


@dataclass(frozen=True)
class PickupPoint:
    """Where the supplier hands out orders (utlämningsställe)."""

    pickup_point_id: str
    name: str
    address: DeliveryAddress
