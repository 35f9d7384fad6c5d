"""Medicines and prescribed supplies for citizens (R-52, R-53, R-35): the medication list, prescription
renewal and supply orders. Renewals and orders become cases at the chosen clinic through
`cases.service.open_case` (kinds `prescription-renewal` and `supply-order`): one transaction with the
case, its first message, history, the inbox item and the Idempotency-Key guard; nothing is stored here.

The national medication list and the population register are ports (`Sources`); the rules are in
`rules.py`. Age is the one rule (`PersonalNumber.age_on` on today's Stockholm date).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from chalicelib.cases.ports import STORES, CaseStores
from chalicelib.cases.service import open_case, replayed_case
from chalicelib.core.clock import Clock, stockholm_date
from chalicelib.core.errors import InvalidInput
from chalicelib.population.port import population_register
from chalicelib.prescriptions import rules
from chalicelib.prescriptions.models import DeliveryAddress, Medication
from chalicelib.prescriptions.port import medication_list

if TYPE_CHECKING:
    from chalicelib.cases.models import Created
    from chalicelib.clinics.service import Clinic
    from chalicelib.guardians.service import Subject
    from chalicelib.population.port import PopulationRegister
    from chalicelib.prescriptions.port import MedicationList

RENEWAL = "prescription-renewal"  # the case kinds
SUPPLY_ORDER = "supply-order"
RENEWAL_CASE_TYPE = ("fornya-recept", "Förnya recept")
SUPPLY_CASE_TYPE = ("forbrukningsartiklar", "Beställ förbrukningsartiklar")


@dataclass(frozen=True)
class Sources:
    """Where the service reads from: the national medication list and the population register
    (resolved on first use; the unit tests hand in their own)."""

    medications: Callable[[], MedicationList] = field(default=medication_list)
    register: Callable[[], PopulationRegister] = field(default=population_register)


SOURCES = Sources()


def _today(clock: Clock) -> date:
    return stockholm_date(clock())


def _shown(subject: Subject, today: date, sources: Sources) -> list[Medication]:
    """The medication list this subject may see today; 403 `not-available` under 16 or in proxy mode."""
    reason = rules.list_refusal(subject.account.personnummer, proxy=subject.proxy, today=today)
    if reason is not None:
        raise rules.not_available(reason)
    return rules.visible(sources.medications().registered(subject.account.personnummer), today)


def medications(subject: Subject, *, clock: Clock, sources: Sources = SOURCES) -> dict[str, Any]:
    today = _today(clock)
    shown = _shown(subject, today, sources)
    return {
        "items": [
            {
                "medicationId": m.medication_id,
                "name": m.name,
                "strength": m.strength,
                "form": m.form,
                "dosage": m.dosage,
                "registeredOn": m.registered_on.isoformat(),
                "lastDispensedOn": m.last_dispensed_on.isoformat() if m.last_dispensed_on else None,
                "prescriber": m.prescriber,
            }
            for m in shown
        ],
        "from": rules.years_back(today).isoformat(),
    }


def supplies(subject: Subject, *, clock: Clock, sources: Sources = SOURCES) -> dict[str, Any]:
    """What the citizen may order now (valid prescriptions), and where it can be picked up."""
    today = _today(clock)
    source = sources.medications()
    return {
        "items": [
            {
                "supplyId": s.supply_id,
                "name": s.name,
                "unit": s.unit,
                "maxQuantity": s.max_quantity,
                "prescribedOn": s.prescribed_on.isoformat(),
                "validUntil": s.valid_until.isoformat() if s.valid_until else None,
                "prescriber": s.prescriber,
            }
            for s in rules.orderable(source.prescribed_supplies(subject.account.personnummer), today)
        ],
        "pickupPoints": [
            {"pickupPointId": p.pickup_point_id, "name": p.name, "address": p.address.as_json()}
            for p in source.pickup_points()
        ],
    }


def _case_type(clinic: Clinic, fixed: tuple[str, str], refused: str, code: str) -> tuple[str, str, bool]:
    """The clinic's own case type with the fixed id when it has one (active), else the fixed name. A clinic
    that has the case type but switched it off does not take these requests online."""
    own = clinic.case_type(fixed[0])
    if own is None:
        return fixed[0], fixed[1], False
    if not own.active:
        raise InvalidInput(refused, code=code)
    return own.id, own.name, own.attachments_allowed


def renew(
    subject: Subject,
    *,
    clinic_id: str,
    medication_ids: Sequence[str],
    free_text: str | None,
    idempotency_key: str | None,
    clock: Clock,
    stores: CaseStores = STORES,
    sources: Sources = SOURCES,
) -> Created:
    """R-52: a renewal request to the clinic, from the citizen's own visible list and/or in free text. Under
    16 and in proxy mode the list is not shown, so only free text (ids → 403 `not-available`)."""
    request = {"clinicId": clinic_id, "medicationIds": list(medication_ids), "freeText": free_text}
    if first := replayed_case(subject, kind=RENEWAL, idempotency_key=idempotency_key, request=request, clock=clock):
        return first  # the first answer, even if the list changed since
    rules.require_something(medication_ids, free_text)
    today = _today(clock)
    clinic = stores.clinics.get(clinic_id)
    type_id, type_name, attachments = _case_type(
        clinic, RENEWAL_CASE_TYPE, "Mottagningen tar inte emot förnyelse av recept via 1177.", "renewal-not-offered"
    )
    chosen = rules.renewal_selection(medication_ids, _shown(subject, today, sources)) if medication_ids else []
    return _open(
        subject,
        clinic,
        (type_id, type_name, attachments),
        kind=RENEWAL,
        request=request,
        body=rules.renewal_body(chosen, free_text),
        extra={"renewal": rules.renewal_record(chosen, free_text)},
        idempotency_key=idempotency_key,
        clock=clock,
        stores=stores,
    )


def _open(
    subject: Subject,
    clinic: Clinic,
    case_type: tuple[str, str, bool],
    *,
    kind: str,
    request: dict[str, Any],
    body: str,
    extra: dict[str, Any],
    idempotency_key: str | None,
    clock: Clock,
    stores: CaseStores,
) -> Created:
    """A renewal or an order as a case at the clinic (no attachments: nothing to attach to either)."""
    type_id, type_name, attachments = case_type
    return open_case(
        subject,
        clinic=clinic,
        case_type_id=type_id,
        case_type_name=type_name,
        title=type_name,
        body=body,
        attachment_ids=[],
        attachments_allowed=attachments,
        idempotency_key=idempotency_key,
        clock=clock,
        stores=stores,
        kind=kind,
        extra=extra,
        request=request,
    )


def _home(personnummer: str, sources: Sources) -> DeliveryAddress | None:
    """The address the population register hands out; none for a protected identity (R-32)."""
    person = sources.register().find(personnummer)
    if person is None or person.protected or person.address is None:
        return None
    return DeliveryAddress(person.address.street, person.address.postal_code, person.address.city)


def order_supplies(
    subject: Subject,
    *,
    clinic_id: str,
    items: Sequence[tuple[str, int]],
    delivery_kind: rules.DeliveryKind,
    address: DeliveryAddress | None,
    pickup_point_id: str | None,
    idempotency_key: str | None,
    clock: Clock,
    stores: CaseStores = STORES,
    sources: Sources = SOURCES,
) -> Created:
    """R-53: an order of supplies prescribed to the citizen, as a case at the clinic (kind `supply-order`).
    The delivery address is kept on the order as it was when ordered (the register's, for `home`)."""
    request = {
        "clinicId": clinic_id,
        "items": [list(item) for item in items],
        "delivery": {
            "kind": delivery_kind,
            "address": address.as_json() if address else None,
            "pickupPointId": pickup_point_id,
        },
    }
    if first := replayed_case(
        subject, kind=SUPPLY_ORDER, idempotency_key=idempotency_key, request=request, clock=clock
    ):
        return first  # the first answer, even if the prescription or the register's address changed since
    today = _today(clock)
    source = sources.medications()
    personnummer = subject.account.personnummer
    lines = rules.order_lines(items, source.prescribed_supplies(personnummer), today)
    where = rules.delivery(
        delivery_kind,
        address=address,
        pickup_point_id=pickup_point_id,
        pickup_points=source.pickup_points() if delivery_kind == "pickup-point" else (),
        home=_home(personnummer, sources) if delivery_kind == "home" else None,
    )
    clinic = stores.clinics.get(clinic_id)
    type_id, type_name, attachments = _case_type(
        clinic,
        SUPPLY_CASE_TYPE,
        "Mottagningen tar inte emot beställningar av förbrukningsartiklar via 1177.",
        "supplies-not-offered",
    )
    return _open(
        subject,
        clinic,
        (type_id, type_name, attachments),
        kind=SUPPLY_ORDER,
        request=request,
        body=rules.order_body(lines, where),
        extra={"supplyOrder": rules.order_record(lines, where)},
        idempotency_key=idempotency_key,
        clock=clock,
        stores=stores,
    )
