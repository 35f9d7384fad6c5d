"""The medication list, prescription renewal and supply orders (R-52, R-53, R-35): the pure rules, and the
service against in-memory stores and fixture sources (no DynamoDB; no Idempotency-Key, whose guard lives in
DynamoDB: tests/integration/test_prescriptions.py covers it)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.accounts.models import Account
from chalicelib.clinics.service import CaseType, Clinic
from chalicelib.core.clock import fixed_clock
from chalicelib.core.errors import Forbidden, InvalidInput, Problem, ServiceUnavailable
from chalicelib.guardians.service import Subject
from chalicelib.population.local_adapter import JsonPopulationRegister, person_from_json
from chalicelib.prescriptions import rules, service
from chalicelib.prescriptions.http_adapter import HttpMedicationList
from chalicelib.prescriptions.local_adapter import JsonMedicationList
from chalicelib.prescriptions.models import DeliveryAddress, Medication, PickupPoint, PrescribedSupply
from tests.support import ROOT
from tests.unit.fakes.cases import InMemoryCaseRepository, InMemoryClinics, in_memory_stores

TODAY = date(2026, 12, 10)
NOW = datetime(2026, 12, 10, 11, 0, tzinfo=UTC)  # 12:00 in Stockholm
ADULT = "198504022396"  # Sara
SIXTEEN = "201005102387"  # Tove, 16 since 10 May 2026
FIFTEEN = "201101022398"  # Leo, 16 on 2 January 2027
CHILD = "201706142385"  # Elsa, 9
CLINIC = "SE2321000016-1001"
FIXTURE = ROOT / "testdata" / "medications.json"


def med(medication_id: str, registered: date, dispensed: date | None = None) -> Medication:
    return Medication(medication_id, f"Medel {medication_id}", "10 mg", "tablett", "1 dagligen", registered, dispensed)


def supply(supply_id: str, *, max_quantity: int = 5, valid_until: date | None = date(2027, 6, 30)) -> PrescribedSupply:
    return PrescribedSupply(supply_id, f"Artikel {supply_id}", "förp.", max_quantity, date(2026, 1, 1), valid_until)


def code_of(error: pytest.ExceptionInfo[Problem]) -> str:
    return error.value.code


# ---------------------------------------------------------------- who sees the list


@pytest.mark.parametrize(
    ("personnummer", "day", "proxy", "reason"),
    [
        (ADULT, TODAY, False, None),
        (SIXTEEN, TODAY, False, None),
        (SIXTEEN, date(2026, 5, 9), False, "under-16"),  # the day before the 16th birthday
        (SIXTEEN, date(2026, 5, 10), False, None),  # the birthday itself
        (FIFTEEN, TODAY, False, "under-16"),
        (FIFTEEN, date(2027, 1, 2), False, None),
        (CHILD, TODAY, True, "proxy-mode"),
        (ADULT, TODAY, True, "proxy-mode"),  # proxy mode hides it whatever the age
    ],
)
def test_the_list_is_shown_from_16_and_never_in_proxy_mode(
    personnummer: str, day: date, proxy: bool, reason: str | None
) -> None:
    assert rules.list_refusal(personnummer, proxy=proxy, today=day) == reason


def test_the_refusal_is_403_not_available_with_a_swedish_reason() -> None:
    for reason in ("under-16", "proxy-mode"):
        problem = rules.not_available(reason)
        assert (problem.status, problem.code, problem.extra["reason"]) == (403, "not-available", reason)
        assert "Listan med tidigare registrerade läkemedel" in problem.detail and "fritext" in problem.detail


# ---------------------------------------------------------------- at most 5 years back


def test_five_years_back_is_the_same_calendar_date_and_29_february_becomes_28() -> None:
    assert rules.years_back(TODAY) == date(2021, 12, 10)
    assert rules.years_back(date(2028, 2, 29)) == date(2023, 2, 28)


def test_entries_older_than_five_years_never_appear_and_a_recent_dispensing_keeps_one() -> None:
    kept_by_dispensing = med("renewed", date(2018, 4, 12), dispensed=date(2024, 2, 1))
    on_the_day = med("boundary", date(2021, 12, 10))
    day_too_old = med("old", date(2021, 12, 9))
    old_dispensed = med("old-dispensed", date(2019, 1, 10), dispensed=date(2021, 3, 2))
    recent = med("recent", date(2025, 3, 10), dispensed=date(2026, 10, 1))
    shown = rules.visible([day_too_old, kept_by_dispensing, on_the_day, old_dispensed, recent], TODAY)
    assert [m.medication_id for m in shown] == ["recent", "renewed", "boundary"]  # newest first


# ---------------------------------------------------------------- renewal


def test_a_renewal_names_only_medicines_from_the_list_shown() -> None:
    shown = [med("a", date(2025, 1, 1)), med("b", date(2024, 1, 1))]
    assert [m.medication_id for m in rules.renewal_selection(["b", "a", "b"], shown)] == ["b", "a"]
    with pytest.raises(InvalidInput) as error:
        rules.renewal_selection(["a", "too-old"], shown)
    assert code_of(error) == "unknown-medication" and error.value.extra == {"medicationId": "too-old"}


def test_a_renewal_needs_a_medicine_or_free_text() -> None:
    with pytest.raises(InvalidInput) as error:
        rules.require_something([], "   ")
    assert code_of(error) == "renewal-empty"
    rules.require_something([], "Mina blodtryckstabletter")
    rules.require_something(["a"], None)


def test_the_renewal_text_lists_the_medicines_and_the_free_text() -> None:
    body = rules.renewal_body([med("a", date(2025, 1, 1))], "  Tack!  ")
    assert body == "Jag vill förnya recept på:\n- Medel a 10 mg tablett (1 dagligen)\n\nTack!"
    assert rules.renewal_record([], " ") == {"medications": [], "freeText": None}


# ---------------------------------------------------------------- supply orders


def test_only_prescribed_valid_supplies_within_the_quantity_bounds() -> None:
    prescribed = [supply("tena", max_quantity=6), supply("stomi", valid_until=date(2026, 6, 30))]
    lines = rules.order_lines([("tena", 6)], prescribed, TODAY)
    assert [(line.supply.supply_id, line.quantity) for line in lines] == [("tena", 6)]
    for requested, code in [
        ([("someone-elses", 1)], "supply-not-prescribed"),
        ([("stomi", 1)], "prescription-expired"),
        ([("tena", 7)], "quantity-out-of-range"),
        ([("tena", 0)], "quantity-out-of-range"),
        ([("tena", 1), ("tena", 2)], "duplicate-supply"),
        ([], "order-empty"),
    ]:
        with pytest.raises(InvalidInput) as error:
            rules.order_lines(requested, prescribed, TODAY)
        assert code_of(error) == code, requested


def test_a_prescription_is_orderable_from_its_first_to_its_last_day() -> None:
    item = supply("x", valid_until=date(2026, 12, 10))
    assert item.valid_on(date(2026, 1, 1)) and item.valid_on(TODAY)
    assert not item.valid_on(date(2025, 12, 31)) and not item.valid_on(date(2026, 12, 11))
    assert rules.orderable([item, supply("y", valid_until=None)], date(2026, 12, 11)) == [supply("y", valid_until=None)]


POINT = PickupPoint("PP-1", "ICA Kvantum", DeliveryAddress("Kungsgatan 20", "553 31", "Jönköping"))
HOME = DeliveryAddress("Storgatan 12", "553 20", "Jönköping")
OTHER = DeliveryAddress("Sommarvägen 1", "123 45", "Byn", care_of="Mormor")


def where(kind: Any, **given: Any) -> rules.Delivery:
    args = {"address": None, "pickup_point_id": None, "pickup_points": [POINT], "home": HOME, **given}
    return rules.delivery(kind, **args)


def test_delivery_to_a_pickup_point_the_register_address_or_another_address() -> None:
    assert where("pickup-point", pickup_point_id="PP-1").pickup_point == POINT
    assert where("home").address == HOME
    assert where("other", address=OTHER).as_json() == {
        "kind": "other",
        "address": {"street": "Sommarvägen 1", "postalCode": "123 45", "city": "Byn", "careOf": "Mormor"},
    }
    assert where("home").text() == "Folkbokföringsadressen: Storgatan 12, 553 20 Jönköping"


@pytest.mark.parametrize(
    ("kind", "given", "code"),
    [
        ("pickup-point", {}, "pickup-point-required"),
        ("pickup-point", {"pickup_point_id": "PP-404"}, "unknown-pickup-point"),
        ("home", {"home": None}, "home-address-unavailable"),  # e.g. protected identity
        ("other", {}, "address-required"),
        ("home", {"address": OTHER}, "delivery-invalid"),
        ("other", {"address": OTHER, "pickup_point_id": "PP-1"}, "delivery-invalid"),
    ],
)
def test_delivery_refusals(kind: str, given: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidInput) as error:
        where(kind, **given)
    assert code_of(error) == code


# ---------------------------------------------------------------- the service, in memory


def account(citizen_id: str, personnummer: str) -> Account:
    return Account(
        citizen_id=citizen_id,
        personnummer=personnummer,
        status="active",
        activated_at="2026-01-01T00:00:00Z",
        activated_by="self",
        first_login_at="2026-01-01T00:00:00Z",
        session_epoch=1,
        version=1,
    )


def own(personnummer: str) -> Subject:
    citizen = account(f"c-{personnummer}", personnummer)
    return Subject(citizen.citizen_id, citizen, proxy=False, actor_citizen_id=citizen.citizen_id)


def for_child(personnummer: str) -> Subject:
    child = account(f"c-{personnummer}", personnummer)
    return Subject(child.citizen_id, child, proxy=True, actor_citizen_id="c-anna", actor_name="Anna Andersson")


PROTECTED = "198203222388"  # Maria: protected identity, the register has no address


def world(*case_types: CaseType) -> tuple[dict[str, Any], InMemoryCaseRepository]:
    import json

    persons = json.loads((ROOT / "testdata" / "population.json").read_text(encoding="utf-8"))["persons"]
    medication_list = JsonMedicationList.from_file(FIXTURE)
    register = JsonPopulationRegister([person_from_json(p) for p in persons])
    repo = InMemoryCaseRepository()
    clinic = Clinic(CLINIC, "Vårdcentralen Storgatan", "Region Jönköpings län", case_types)
    stores = in_memory_stores(cases=repo, clinics=InMemoryClinics(clinic))
    sources = service.Sources(medications=lambda: medication_list, register=lambda: register)
    return {"clock": fixed_clock(NOW), "stores": stores, "sources": sources}, repo


def test_the_service_shows_a_16_year_old_her_list_and_refuses_a_15_year_old_and_proxy_mode() -> None:
    common, _ = world()
    common.pop("stores")
    shown = service.medications(own(SIXTEEN), **common)
    assert [m["medicationId"] for m in shown["items"]] == ["RX-TOVE-DERMOVAT"]  # the 2019 one is too old
    assert shown["from"] == "2021-12-10"
    anna = service.medications(own("198002282385"), **common)
    assert [m["medicationId"] for m in anna["items"]] == [
        "RX-ANNA-LEVAXIN",
        "RX-ANNA-ATORVASTATIN",
        "RX-ANNA-ALVEDON",
        "RX-ANNA-AERIUS",
    ]
    for subject, reason in [(own(FIFTEEN), "under-16"), (for_child(CHILD), "proxy-mode")]:
        with pytest.raises(Forbidden) as error:
            service.medications(subject, **common)
        assert (error.value.code, error.value.extra["reason"]) == ("not-available", reason)


def renew(subject: Subject, common: dict[str, Any], **given: Any) -> str:
    args = {"clinic_id": CLINIC, "medication_ids": [], "free_text": None, "idempotency_key": None, **given}
    return service.renew(subject, **args, **common).id


def test_a_renewal_becomes_a_case_of_kind_prescription_renewal_with_the_fixed_type() -> None:
    common, repo = world()
    case_id = renew(own(ADULT), common, medication_ids=["RX-SARA-VENTOLINE"], free_text="Tar slut nästa vecka")
    case = repo.cases[case_id]
    assert (case["kind"], case["caseTypeId"], case["caseTypeName"], case["subject"]) == (
        "prescription-renewal",
        "fornya-recept",
        "Förnya recept",
        "Förnya recept",
    )
    assert case["renewal"]["medications"][0]["medicationId"] == "RX-SARA-VENTOLINE"
    assert case["renewal"]["freeText"] == "Tar slut nästa vecka"
    assert "Ventoline Evohaler" in repo.messages[case_id][0]["body"]


def test_a_renewal_uses_the_clinics_own_active_case_type_and_respects_one_switched_off() -> None:
    common, repo = world(CaseType("fornya-recept", "Receptförnyelse", attachments_allowed=False, active=True))
    case_id = renew(own(ADULT), common, free_text="Levaxin")
    assert repo.cases[case_id]["caseTypeName"] == "Receptförnyelse"
    common, _ = world(CaseType("fornya-recept", "Receptförnyelse", attachments_allowed=False, active=False))
    with pytest.raises(InvalidInput) as error:
        renew(own(ADULT), common, free_text="Levaxin")
    assert code_of(error) == "renewal-not-offered"


def test_under_16_and_in_proxy_mode_a_renewal_is_free_text_only() -> None:
    common, repo = world()
    for subject, medication_id in [(own(FIFTEEN), "RX-LEO-MEDIKINET"), (for_child(CHILD), "RX-ELSA-NASONEX")]:
        with pytest.raises(Forbidden) as error:
            renew(subject, common, medication_ids=[medication_id])
        assert error.value.code == "not-available"
        case_id = renew(subject, common, free_text="Medicinen mot ADHD / nässprayen")
        assert repo.cases[case_id]["renewal"]["medications"] == []
    proxy_case = repo.cases[case_id]
    assert proxy_case["startedBy"]["kind"] == "guardian"  # staff see that a guardian asked
    with pytest.raises(InvalidInput) as empty:
        renew(own(ADULT), common)
    assert code_of(empty) == "renewal-empty"
    with pytest.raises(InvalidInput) as too_old:
        renew(own(ADULT), common, medication_ids=["RX-SARA-ORALOVITE"])  # 2017: never shown, never renewed
    assert code_of(too_old) == "unknown-medication"


def order(subject: Subject, common: dict[str, Any], delivery: dict[str, Any], items: Any = None) -> str:
    return service.order_supplies(
        subject,
        clinic_id=CLINIC,
        items=items or [("SUP-SARA-TENA", 2)],
        delivery_kind=delivery["kind"],
        address=delivery.get("address"),
        pickup_point_id=delivery.get("pickupPointId"),
        idempotency_key=None,
        **common,
    ).id


def test_a_supply_order_to_the_home_address_keeps_the_registers_address() -> None:
    common, repo = world()
    case_id = order(own(ADULT), common, {"kind": "home"}, [("SUP-SARA-TENA", 2), ("SUP-SARA-FRESUBIN", 30)])
    case = repo.cases[case_id]
    assert case["kind"] == "supply-order" and case["caseTypeName"] == "Beställ förbrukningsartiklar"
    assert case["supplyOrder"] == {
        "items": [
            {"supplyId": "SUP-SARA-TENA", "name": "TENA Flex Maxi, inkontinensskydd", "unit": "förp.", "quantity": 2},
            {"supplyId": "SUP-SARA-FRESUBIN", "name": "Fresubin 2 kcal, näringsdryck", "unit": "st", "quantity": 30},
        ],
        "delivery": {"kind": "home", "address": {"street": "Kungsgatan 3", "postalCode": "211 49", "city": "Malmö"}},
    }
    assert "Folkbokföringsadressen: Kungsgatan 3, 211 49 Malmö" in repo.messages[case_id][0]["body"]


def test_a_supply_order_refuses_what_is_not_prescribed_and_home_for_a_protected_identity() -> None:
    common, repo = world()
    for subject, items, code in [
        (own(ADULT), [("SUP-ELSA-FORTINI", 1)], "supply-not-prescribed"),  # someone else's prescription
        (own(ADULT), [("SUP-SARA-STOMI", 1)], "prescription-expired"),
        (own(ADULT), [("SUP-SARA-TENA", 7)], "quantity-out-of-range"),
        (own(PROTECTED), [("SUP-MARIA-TESTSTICKOR", 1)], "home-address-unavailable"),
    ]:
        with pytest.raises(InvalidInput) as error:
            order(subject, common, {"kind": "home"}, items)
        assert code_of(error) == code
    assert repo.cases == {}
    # the protected person can still have it delivered to a pickup point
    to_pickup = {"kind": "pickup-point", "pickupPointId": "PP-JKP-KVANTUM"}
    case_id = order(own(PROTECTED), common, to_pickup, [("SUP-MARIA-TESTSTICKOR", 1)])
    assert repo.cases[case_id]["supplyOrder"]["delivery"]["pickupPointName"] == "ICA Kvantum Jönköping"


def test_a_guardian_orders_a_childs_prescribed_supplies_in_proxy_mode() -> None:
    common, repo = world()
    case_id = order(for_child(CHILD), common, {"kind": "other", "address": OTHER}, [("SUP-ELSA-FORTINI", 20)])
    case = repo.cases[case_id]
    assert case["citizenId"] == f"c-{CHILD}" and case["startedBy"]["kind"] == "guardian"
    assert case["supplyOrder"]["delivery"]["address"]["careOf"] == "Mormor"


# ---------------------------------------------------------------- the adapters


def test_the_fixture_adapter_reads_the_projects_fixture() -> None:
    fixture = JsonMedicationList.from_file(FIXTURE)
    assert {m.medication_id for m in fixture.registered(SIXTEEN)} == {"RX-TOVE-DERMOVAT", "RX-TOVE-KAVEPENIN"}
    assert fixture.registered("199001011234") == [] and fixture.prescribed_supplies("199001011234") == []
    assert len(fixture.pickup_points()) == 3


def test_the_http_adapter_is_not_connected_and_answers_503() -> None:
    with pytest.raises(ServiceUnavailable) as error:
        HttpMedicationList(None).registered(ADULT)
    assert (error.value.status, error.value.code) == (503, "medication-list-unavailable")


def test_the_adapter_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core import process
    from chalicelib.prescriptions.port import medication_list

    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("MEDICATION_LIST", raising=False)
    process.reset()
    assert isinstance(medication_list(), HttpMedicationList)
    monkeypatch.setenv("MEDICATION_LIST", "local")
    process.reset()
    assert isinstance(medication_list(), JsonMedicationList)
    monkeypatch.setenv("STAGE", "local")
    monkeypatch.delenv("MEDICATION_LIST")
    process.reset()
    assert isinstance(medication_list(), JsonMedicationList)
    process.reset()
