"""The medication list, prescription renewals and supply orders over the routes, against DynamoDB Local
(issue 13, item 4 and 5; R-52, R-53, R-35). The local fixture adapter reads testdata/medications.json;
the routes run on a fixed clock (10 December 2026, Stockholm), so the fixture's 5-year boundary
(10 December 2021) and the ages hold whatever day the tests run: Tove is 16, Leo 15, Elsa 9.

Anna Andersson is a guardian of Elsa; Sara Berg has prescribed supplies; Maria Nilsson has protected
identity (the register hands out no address)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.core.clock import fixed_clock
from tests.integration.case_helpers import ADMIN, CLINIC, RECEIVER, staff_token
from tests.support import pnr

NOW = datetime(2026, 12, 10, 11, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def on_a_fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.prescriptions import routes

    monkeypatch.setattr(routes, "system_clock", fixed_clock(NOW))


def child_id(api: Any, token: str, name: str) -> str:
    status, me, _ = api.call("GET", "/me", token=token)
    assert status == 200, me
    return next(c["citizenId"] for c in me["actingFor"] if c["name"].startswith(name))


def renew(api: Any, token: str, body: dict[str, Any], *, cid: str = "me", key: str | None = None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else None
    status, answer, _ = api.call(
        "POST", f"/citizens/{cid}/prescription-renewals", {"clinicId": CLINIC, **body}, token=token, headers=headers
    )
    return status, answer


def order(api: Any, token: str, body: dict[str, Any], *, cid: str = "me", key: str | None = None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else None
    status, answer, _ = api.call(
        "POST", f"/citizens/{cid}/supply-orders", {"clinicId": CLINIC, **body}, token=token, headers=headers
    )
    return status, answer


def staff_case(api: Any, case_id: str) -> dict[str, Any]:
    status, view, _ = api.call("GET", f"/staff/cases/{case_id}", token=staff_token(RECEIVER))
    assert status == 200, view
    return dict(view)


# ---------------------------------------------------------------- the medication list


def test_a_16_year_old_sees_her_list_without_entries_older_than_five_years(api):
    status, shown, headers = api.call("GET", "/citizens/me/medications", token=api.token_for(pnr("Tove")))
    assert status == 200, shown
    assert [m["medicationId"] for m in shown["items"]] == ["RX-TOVE-DERMOVAT"]  # Kåvepenin 2019 never appears
    assert shown["items"][0] == {
        "medicationId": "RX-TOVE-DERMOVAT",
        "name": "Dermovat",
        "strength": "0,05 %",
        "form": "kräm",
        "dosage": "Smörjs tunt 1 gång dagligen i högst 2 veckor",
        "registeredOn": "2025-11-20",
        "lastDispensedOn": None,
        "prescriber": "Hudmottagningen Länssjukhuset",
    }
    assert shown["from"] == "2021-12-10" and headers["cache-control"] == "no-store"


def test_an_adults_list_goes_five_years_back_by_the_newest_date(api):
    status, shown, _ = api.call("GET", "/citizens/me/medications", token=api.token_for(pnr("Anna")))
    assert status == 200
    # Atorvastatin was registered 2018 but dispensed 2024; Aerius on the boundary day; Loratadin the day
    # before and Kåvepenin (2020) are more than 5 years back
    assert [m["medicationId"] for m in shown["items"]] == [
        "RX-ANNA-LEVAXIN",
        "RX-ANNA-ATORVASTATIN",
        "RX-ANNA-ALVEDON",
        "RX-ANNA-AERIUS",
    ]


def test_a_15_year_old_and_a_guardian_in_proxy_mode_get_403_not_available(api):
    status, problem, headers = api.call("GET", "/citizens/me/medications", token=api.token_for(pnr("Leo")))
    assert status == 403 and headers["content-type"] == "application/problem+json"
    assert (problem["code"], problem["reason"]) == ("not-available", "under-16")
    assert "16 år" in problem["detail"]

    anna = api.token_for(pnr("Anna"))
    elsa = child_id(api, anna, "Elsa")
    status, problem, _ = api.call("GET", f"/citizens/{elsa}/medications", token=anna)
    assert status == 403 and (problem["code"], problem["reason"]) == ("not-available", "proxy-mode")
    assert "ombudsläget" in problem["detail"]


def test_another_citizens_list_is_not_found(api):
    sara, johan = api.token_for(pnr("Sara")), api.token_for(pnr("Johan"))
    johan_id = johan.split(".")[0]
    for path in ("medications", "supplies"):
        assert api.call("GET", f"/citizens/{johan_id}/{path}", token=sara)[0] == 404
    assert api.call("GET", "/citizens/me/medications")[0] == 401


# ---------------------------------------------------------------- renewals


def test_a_renewal_from_the_list_becomes_a_case_at_the_clinic_once_per_idempotency_key(api):
    sara = api.token_for(pnr("Sara"))
    request = {"medicationIds": ["RX-SARA-VENTOLINE"], "freeText": "Sprayen tar slut nästa vecka."}
    status, created = renew(api, sara, request, key="renew-1")
    assert status == 201, created
    case_id = created["caseId"]
    assert renew(api, sara, request, key="renew-1") == (201, {"caseId": case_id})  # a retry: the first result
    status, problem = renew(api, sara, {**request, "freeText": "Något annat"}, key="renew-1")
    assert status == 422 and problem["code"] == "idempotency-key-reused"

    status, listed, _ = api.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=staff_token(RECEIVER))
    assert [c["caseId"] for c in listed["items"]] == [case_id]  # written once
    view = staff_case(api, case_id)
    assert view["caseTypeName"] == "Förnya recept"
    body = view["messages"][0]["body"]
    assert "Ventoline Evohaler 0,1 mg/dos inhalationsspray" in body and "Sprayen tar slut" in body

    status, page, _ = api.call("GET", "/citizens/me/inbox", token=sara)
    assert status == 200 and [i["id"] for i in page["items"]] == [case_id]


def test_a_renewal_uses_the_clinics_own_case_type_and_none_when_it_is_switched_off(api):
    admin = staff_token(ADMIN)
    path = f"/staff/clinics/{CLINIC}/case-types/fornya-recept"
    config = {"name": "Förnya recept hos oss", "attachmentsAllowed": False, "active": True}
    assert api.call("PUT", path, config, token=admin)[0] == 200
    sara = api.token_for(pnr("Sara"))
    status, created = renew(api, sara, {"freeText": "Mina astmamediciner"})
    assert status == 201
    assert staff_case(api, created["caseId"])["caseTypeName"] == "Förnya recept hos oss"

    assert api.call("PUT", path, {**config, "active": False}, token=admin)[0] == 200
    status, problem = renew(api, sara, {"freeText": "Mina astmamediciner igen"})
    assert status == 422 and problem["code"] == "renewal-not-offered"


def test_under_16_and_in_proxy_mode_a_renewal_is_free_text_only(api):
    leo = api.token_for(pnr("Leo"))
    status, problem = renew(api, leo, {"medicationIds": ["RX-LEO-MEDIKINET"]})
    assert status == 403 and problem["code"] == "not-available"
    assert renew(api, leo, {"freeText": "Min ADHD-medicin"})[0] == 201

    anna = api.token_for(pnr("Anna"))
    elsa = child_id(api, anna, "Elsa")
    status, problem = renew(api, anna, {"medicationIds": ["RX-ELSA-NASONEX"]}, cid=elsa)
    assert status == 403 and problem["reason"] == "proxy-mode"
    status, created = renew(api, anna, {"freeText": "Elsas nässpray"}, cid=elsa)
    assert status == 201
    view = staff_case(api, created["caseId"])
    assert view["startedBy"]["kind"] == "guardian" and view["startedBy"]["name"] == "Anna Andersson"


def test_renewal_refusals(api):
    sara = api.token_for(pnr("Sara"))
    refusals: list[tuple[dict[str, Any], str]] = [
        ({}, "renewal-empty"),
        ({"freeText": "   "}, "renewal-empty"),
        ({"medicationIds": ["RX-SARA-ORALOVITE"]}, "unknown-medication"),  # 2017: more than 5 years back
        ({"medicationIds": ["RX-ANNA-LEVAXIN"]}, "unknown-medication"),  # someone else's
        ({"medicationIds": ["../x"]}, "invalid-input"),
        ({"medicationIds": ["RX-1"] * 21}, "invalid-input"),
        ({"freeText": "x" * 2001}, "invalid-input"),
    ]
    for body, code in refusals:
        status, problem = renew(api, sara, body)
        assert (status, problem["code"]) == (422, code), body
    status, problem = renew(api, sara, {"clinicId": "SE2321000016-0000", "freeText": "x"})
    assert (status, problem["code"]) == (404, "clinic-not-found")
    assert api.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=staff_token(RECEIVER))[1]["items"] == []


# ---------------------------------------------------------------- supply orders


def test_the_supplies_a_citizen_may_order_and_the_pickup_points(api):
    status, shown, _ = api.call("GET", "/citizens/me/supplies", token=api.token_for(pnr("Sara")))
    assert status == 200
    assert [s["supplyId"] for s in shown["items"]] == ["SUP-SARA-FRESUBIN", "SUP-SARA-TENA"]  # not the expired
    assert shown["items"][1]["maxQuantity"] == 6
    assert {p["pickupPointId"] for p in shown["pickupPoints"]} == {"PP-JKP-KVANTUM", "PP-MMO-HJARTAT", "PP-VXJ-COOP"}


def test_a_supply_order_to_the_home_address_becomes_a_case_with_the_registers_address(api):
    sara = api.token_for(pnr("Sara"))
    request = {"items": [{"supplyId": "SUP-SARA-TENA", "quantity": 3}], "delivery": {"kind": "home"}}
    status, created = order(api, sara, request, key="order-1")
    assert status == 201, created
    assert created["orderId"] == created["caseId"]
    assert order(api, sara, request, key="order-1") == (201, created)
    view = staff_case(api, created["orderId"])
    assert view["caseTypeName"] == "Beställ förbrukningsartiklar"
    body = view["messages"][0]["body"]
    assert "TENA Flex Maxi, inkontinensskydd: 3 förp." in body
    assert "Folkbokföringsadressen: Kungsgatan 3, 211 49 Malmö" in body

    from chalicelib.cases.repository import DYNAMO

    stored = DYNAMO.get_case(created["orderId"])
    assert stored is not None and stored["kind"] == "supply-order"
    assert stored["supplyOrder"]["delivery"] == {
        "kind": "home",
        "address": {"street": "Kungsgatan 3", "postalCode": "211 49", "city": "Malmö"},
    }


def test_a_supply_order_to_a_pickup_point_or_another_address(api):
    sara = api.token_for(pnr("Sara"))
    items = [{"supplyId": "SUP-SARA-FRESUBIN", "quantity": 30}]
    status, created = order(
        api, sara, {"items": items, "delivery": {"kind": "pickup-point", "pickupPointId": "PP-MMO-HJARTAT"}}
    )
    assert status == 201
    assert "Utlämningsställe: Apotek Hjärtat Triangeln" in staff_case(api, created["orderId"])["messages"][0]["body"]
    other = {
        "kind": "other",
        "address": {"careOf": "Berg", "street": "Sommarvägen 1", "postalCode": "12345", "city": "Byn"},
    }
    status, created = order(api, sara, {"items": items, "delivery": other})
    assert status == 201
    assert (
        "Annan leveransadress: c/o Berg, Sommarvägen 1, 12345 Byn"
        in staff_case(api, created["orderId"])["messages"][0]["body"]
    )


def test_a_guardian_orders_the_childs_prescribed_supplies(api):
    anna = api.token_for(pnr("Anna"))
    elsa = child_id(api, anna, "Elsa")
    request = {"items": [{"supplyId": "SUP-ELSA-FORTINI", "quantity": 20}], "delivery": {"kind": "home"}}
    status, created = order(api, anna, request, cid=elsa)
    assert status == 201, created
    view = staff_case(api, created["orderId"])
    assert view["startedBy"]["kind"] == "guardian" and "Storgatan 12, 553 20 Jönköping" in view["messages"][0]["body"]
    status, problem = order(api, anna, request)  # Anna herself has no such prescription
    assert (status, problem["code"]) == (422, "supply-not-prescribed")


def test_supply_order_refusals(api):
    sara = api.token_for(pnr("Sara"))
    tena = [{"supplyId": "SUP-SARA-TENA", "quantity": 1}]
    refusals: list[tuple[dict[str, Any], str]] = [
        (
            {"items": [{"supplyId": "SUP-ANNA-TESTSTICKOR", "quantity": 1}], "delivery": {"kind": "home"}},
            "supply-not-prescribed",
        ),
        (
            {"items": [{"supplyId": "SUP-SARA-STOMI", "quantity": 1}], "delivery": {"kind": "home"}},
            "prescription-expired",
        ),
        (
            {"items": [{"supplyId": "SUP-SARA-TENA", "quantity": 7}], "delivery": {"kind": "home"}},
            "quantity-out-of-range",
        ),
        ({"items": tena * 2, "delivery": {"kind": "home"}}, "duplicate-supply"),
        ({"items": [{"supplyId": "SUP-SARA-TENA", "quantity": 0}], "delivery": {"kind": "home"}}, "invalid-input"),
        ({"items": [], "delivery": {"kind": "home"}}, "invalid-input"),
        ({"items": tena, "delivery": {"kind": "pickup-point"}}, "pickup-point-required"),
        ({"items": tena, "delivery": {"kind": "pickup-point", "pickupPointId": "PP-NOPE"}}, "unknown-pickup-point"),
        ({"items": tena, "delivery": {"kind": "other"}}, "address-required"),
        (
            {
                "items": tena,
                "delivery": {"kind": "other", "address": {"street": "A 1", "postalCode": "1", "city": "B"}},
            },
            "invalid-input",
        ),
        ({"items": tena, "delivery": {"kind": "home", "pickupPointId": "PP-MMO-HJARTAT"}}, "delivery-invalid"),
        ({"items": tena, "delivery": {"kind": "drone"}}, "invalid-input"),
    ]
    for body, code in refusals:
        status, problem = order(api, sara, body)
        assert (status, problem["code"]) == (422, code), body
    assert api.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=staff_token(RECEIVER))[1]["items"] == []


def test_no_delivery_to_the_home_of_a_protected_identity(api):
    maria = api.token_for(pnr("Maria"))
    items = [{"supplyId": "SUP-MARIA-TESTSTICKOR", "quantity": 2}]
    status, problem = order(api, maria, {"items": items, "delivery": {"kind": "home"}})
    assert (status, problem["code"]) == (422, "home-address-unavailable")
    status, _ = order(
        api, maria, {"items": items, "delivery": {"kind": "pickup-point", "pickupPointId": "PP-JKP-KVANTUM"}}
    )
    assert status == 201


def test_a_retry_answers_the_first_order_even_after_the_prescription_changed(api, monkeypatch):
    """The Idempotency-Key's retry is answered before anything is checked again: the first result, not a
    new verdict on a list that changed in between (here: the prescription gone from the list)."""
    from chalicelib.prescriptions.local_adapter import JsonMedicationList

    sara = api.token_for(pnr("Sara"))
    request = {"items": [{"supplyId": "SUP-SARA-FRESUBIN", "quantity": 10}], "delivery": {"kind": "home"}}
    status, created = order(api, sara, request, key="order-then-expired")
    assert status == 201, created
    monkeypatch.setattr(JsonMedicationList, "prescribed_supplies", lambda self, personnummer: [])
    assert order(api, sara, request, key="order-then-expired") == (201, created)
    refused, problem = order(api, sara, request, key="a-new-order")  # a new order is judged on today's list
    assert refused == 422, problem


def test_one_key_for_a_renewal_and_then_an_order_names_two_cases(api):
    sara = api.token_for(pnr("Sara"))
    status, renewal = renew(api, sara, {"freeText": "Ventoline, som förut."}, key="same-key-two-kinds")
    assert status == 201, renewal
    request = {"items": [{"supplyId": "SUP-SARA-TENA", "quantity": 1}], "delivery": {"kind": "home"}}
    status, ordered = order(api, sara, request, key="same-key-two-kinds")
    assert status == 201, ordered
    assert ordered["caseId"] != renewal["caseId"]
    assert staff_case(api, ordered["caseId"])["caseTypeName"] == "Beställ förbrukningsartiklar"
    assert staff_case(api, renewal["caseId"])["caseTypeName"] == "Förnya recept"
