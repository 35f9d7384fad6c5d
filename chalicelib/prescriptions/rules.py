"""The rules of the medication list, prescription renewal and supply orders (R-52, R-53, R-35), pure:
no storage, no clock (the service hands in today's Stockholm date), no adapters.

- R-35/R-52: the list of previously registered medicines is shown from 16 (the one age rule,
  `PersonalNumber.age_on`, R-34's birthday) and never in proxy mode; a renewal can always be asked for
  in free text.
- R-52: at most 5 years back, by calendar date: a medicine whose newest date (registration or last
  dispensing) lies before the same date 5 years ago never appears (29 February → 28 February, lag
  1930:173 as in R-34).
- R-53: only supplies prescribed to the citizen and still valid; per item 1..the prescription's maximum;
  delivery to a pickup point, the register's home address (none → refused) or another address.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from chalicelib.core.errors import Forbidden, InvalidInput
from chalicelib.eservices import rules as eservices
from chalicelib.prescriptions.models import DeliveryAddress, Medication, PickupPoint, PrescribedSupply

HISTORY_YEARS = 5
MAX_MEDICATIONS_PER_RENEWAL = 20
MAX_FREE_TEXT = 2000
MAX_ORDER_LINES = 20

RefusalReason = Literal["proxy-mode", "under-16"]
DeliveryKind = Literal["pickup-point", "home", "other"]

_REFUSALS: dict[RefusalReason, str] = {
    "proxy-mode": (
        "Listan med tidigare registrerade läkemedel visas inte i ombudsläget. "
        "Du kan beskriva läkemedlet i fritext när du ber om att förnya receptet."
    ),
    "under-16": (
        "Listan med tidigare registrerade läkemedel visas från 16 år. "
        "Du kan beskriva läkemedlet i fritext när du ber om att förnya receptet."
    ),
}


# ---------------------------------------------------------------- the medication list


def list_refusal(personnummer: str, *, proxy: bool, today: date) -> RefusalReason | None:
    """Why the medication list may not be shown to this subject today, or None when it may. The decision
    is the services list's (`eservices.rules.medication_list`), so the two never disagree."""
    facts = eservices.Facts(age=eservices.age_on(personnummer, today), proxy=proxy, record_sealed=False, locked=False)
    decided = eservices.medication_list(facts)
    if decided.available:
        return None
    return "proxy-mode" if decided.code == "proxy-mode" else "under-16"


def not_available(reason: RefusalReason) -> Forbidden:
    return Forbidden(
        _REFUSALS[reason], code="not-available", title="Tjänsten är inte tillgänglig", extra={"reason": reason}
    )


def years_back(today: date, years: int = HISTORY_YEARS) -> date:
    """The same calendar date `years` earlier; 29 February → 28 February in a common year."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return date(today.year - years, 2, 28)


def within_history(medication: Medication, today: date) -> bool:
    return medication.latest >= years_back(today)


def visible(medications: Iterable[Medication], today: date) -> list[Medication]:
    """The medicines the list shows: at most 5 years back, newest first."""
    shown = [m for m in medications if within_history(m, today)]
    return sorted(shown, key=lambda m: (m.latest, m.medication_id), reverse=True)


# ---------------------------------------------------------------- renewal


def renewal_selection(requested: Sequence[str], shown: Sequence[Medication]) -> list[Medication]:
    """The medicines a renewal names, each from the list the citizen is shown now (duplicates once)."""
    by_id = {m.medication_id: m for m in shown}
    chosen: list[Medication] = []
    for medication_id in dict.fromkeys(requested):
        medication = by_id.get(medication_id)
        if medication is None:
            raise InvalidInput(
                "Läkemedlet finns inte i din lista med tidigare registrerade läkemedel.",
                code="unknown-medication",
                extra={"medicationId": medication_id},
            )
        chosen.append(medication)
    return chosen


def require_something(medication_ids: Sequence[str], free_text: str | None) -> None:
    if not medication_ids and not (free_text or "").strip():
        raise InvalidInput(
            "Välj minst ett läkemedel ur listan eller beskriv i fritext vilket recept du vill förnya.",
            code="renewal-empty",
        )


def renewal_body(chosen: Sequence[Medication], free_text: str | None) -> str:
    parts = []
    if chosen:
        lines = "\n".join(f"- {m.label}" + (f" ({m.dosage})" if m.dosage else "") for m in chosen)
        parts.append(f"Jag vill förnya recept på:\n{lines}")
    if free_text and free_text.strip():
        parts.append(free_text.strip())
    return "\n\n".join(parts)


def renewal_record(chosen: Sequence[Medication], free_text: str | None) -> dict[str, Any]:
    """The renewal's own fields on the case (kind `prescription-renewal`)."""
    return {
        "medications": [
            {"medicationId": m.medication_id, "name": m.label, "registeredOn": m.registered_on.isoformat()}
            for m in chosen
        ],
        "freeText": free_text.strip() if free_text and free_text.strip() else None,
    }


# ---------------------------------------------------------------- supply orders


@dataclass(frozen=True)
class OrderLine:
    supply: PrescribedSupply
    quantity: int


def order_lines(
    requested: Sequence[tuple[str, int]], prescribed: Sequence[PrescribedSupply], today: date
) -> list[OrderLine]:
    """Each requested (supplyId, quantity) against the citizen's prescriptions: prescribed to them, valid
    today, 1..the prescription's maximum; each supply once per order."""
    if not requested:
        raise InvalidInput("Välj minst en artikel.", code="order-empty")
    if len(requested) > MAX_ORDER_LINES:
        raise InvalidInput(f"Högst {MAX_ORDER_LINES} artiklar per beställning.", code="order-too-large")
    by_id = {s.supply_id: s for s in prescribed}
    lines: list[OrderLine] = []
    seen: set[str] = set()
    for supply_id, quantity in requested:
        supply = by_id.get(supply_id)
        if supply is None:
            raise InvalidInput(
                "Artikeln är inte förskriven till dig. Bara förskrivna förbrukningsartiklar kan beställas.",
                code="supply-not-prescribed",
                extra={"supplyId": supply_id},
            )
        if not supply.valid_on(today):
            raise InvalidInput(
                "Förskrivningen av artikeln gäller inte längre. Kontakta din mottagning för en ny förskrivning.",
                code="prescription-expired",
                extra={"supplyId": supply_id},
            )
        if supply_id in seen:
            raise InvalidInput(
                "Samma artikel finns två gånger i beställningen.",
                code="duplicate-supply",
                extra={"supplyId": supply_id},
            )
        if not 1 <= quantity <= supply.max_quantity:
            raise InvalidInput(
                f"Du kan beställa 1–{supply.max_quantity} {supply.unit} av {supply.name}.",
                code="quantity-out-of-range",
                extra={"supplyId": supply_id, "maxQuantity": supply.max_quantity},
            )
        seen.add(supply_id)
        lines.append(OrderLine(supply, quantity))
    return lines


def orderable(prescribed: Iterable[PrescribedSupply], today: date) -> list[PrescribedSupply]:
    return sorted((s for s in prescribed if s.valid_on(today)), key=lambda s: (s.name, s.supply_id))


@dataclass(frozen=True)
class Delivery:
    kind: DeliveryKind
    address: DeliveryAddress | None = None
    pickup_point: PickupPoint | None = None

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"kind": self.kind}
        if self.pickup_point is not None:
            shown["pickupPointId"] = self.pickup_point.pickup_point_id
            shown["pickupPointName"] = self.pickup_point.name
            shown["address"] = self.pickup_point.address.as_json()
        elif self.address is not None:
            shown["address"] = self.address.as_json()
        return shown

    def text(self) -> str:
        if self.pickup_point is not None:
            return f"Utlämningsställe: {self.pickup_point.name}, {self.pickup_point.address.one_line()}"
        assert self.address is not None
        where = "Folkbokföringsadressen" if self.kind == "home" else "Annan leveransadress"
        return f"{where}: {self.address.one_line()}"


def delivery(
    kind: DeliveryKind,
    *,
    address: DeliveryAddress | None,
    pickup_point_id: str | None,
    pickup_points: Sequence[PickupPoint],
    home: DeliveryAddress | None,
) -> Delivery:
    """Where the order goes. `home` is the address the population register hands out for the citizen
    (None when it has none, e.g. protected identity). Fields that belong to another kind are refused
    rather than silently ignored: the citizen must know where the parcel goes."""
    if kind != "other" and address is not None:
        raise InvalidInput("Ange en adress bara för leverans till annan adress.", code="delivery-invalid")
    if kind != "pickup-point" and pickup_point_id is not None:
        raise InvalidInput(
            "Ange ett utlämningsställe bara för leverans till utlämningsställe.", code="delivery-invalid"
        )
    if kind == "pickup-point":
        if not pickup_point_id:
            raise InvalidInput("Välj ett utlämningsställe.", code="pickup-point-required")
        point = next((p for p in pickup_points if p.pickup_point_id == pickup_point_id), None)
        if point is None:
            raise InvalidInput("Utlämningsstället finns inte.", code="unknown-pickup-point")
        return Delivery("pickup-point", pickup_point=point)
    if kind == "home":
        if home is None:
            raise InvalidInput(
                "Vi kan inte leverera till din folkbokföringsadress. Välj ett utlämningsställe eller en annan adress.",
                code="home-address-unavailable",
            )
        return Delivery("home", address=home)
    if address is None:
        raise InvalidInput("Ange leveransadressen.", code="address-required")
    return Delivery("other", address=address)


def order_body(lines: Sequence[OrderLine], where: Delivery) -> str:
    items = "\n".join(f"- {line.supply.name}: {line.quantity} {line.supply.unit}" for line in lines)
    return f"Beställning av förskrivna förbrukningsartiklar:\n{items}\n\nLeverans: {where.text()}"


def order_record(lines: Sequence[OrderLine], where: Delivery) -> dict[str, Any]:
    """The order's own fields on the case (kind `supply-order`)."""
    return {
        "items": [
            {
                "supplyId": line.supply.supply_id,
                "name": line.supply.name,
                "unit": line.supply.unit,
                "quantity": line.quantity,
            }
            for line in lines
        ],
        "delivery": where.as_json(),
    }
