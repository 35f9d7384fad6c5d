"""Issue 13's medication list over HTTP on the local stack ("Must show"; R-52, R-53, R-35): the list is
shown to a 16-year-old, 403 for a 15-year-old and for a guardian in proxy mode, and entries more than
5 years back never appear; a renewal from the list and a supply order to the home address become cases
the clinic sees. The stack's clock is set to 10 December 2026 (Tove is 16, Leo 15, the 5-year boundary
10 December 2021 in testdata/medications.json) and put back in `finally`."""

from __future__ import annotations

from typing import Any

from tests.integration.case_helpers import CLINIC, RECEIVER
from tests.support import pnr

DAY = "2026-12-10T12:00:00+01:00"


def test_medication_list_renewal_and_supply_order(http: Any) -> None:
    try:
        http.cli("clock", "set", DAY)  # sessions follow the stack's clock: log in after moving it

        tove = http.token_for(pnr("Tove"))
        shown = http.call("GET", "/citizens/me/medications", token=tove)
        assert shown.status_code == 200, shown.text
        assert [m["medicationId"] for m in shown.json()["items"]] == ["RX-TOVE-DERMOVAT"]  # not Kåvepenin 2019
        assert shown.json()["from"] == "2021-12-10"

        leo = http.call("GET", "/citizens/me/medications", token=http.token_for(pnr("Leo")))
        assert leo.status_code == 403 and leo.headers["content-type"] == "application/problem+json"
        assert (leo.json()["code"], leo.json()["reason"]) == ("not-available", "under-16")

        erik = http.token_for(pnr("Erik"))
        (elsa,) = [
            c["citizenId"]
            for c in http.call("GET", "/me", token=erik).json()["actingFor"]
            if c["name"].startswith("Elsa")
        ]
        proxy = http.call("GET", f"/citizens/{elsa}/medications", token=erik)
        assert proxy.status_code == 403 and (proxy.json()["code"], proxy.json()["reason"]) == (
            "not-available",
            "proxy-mode",
        )
        own = http.call("GET", "/citizens/me/medications", token=erik).json()["items"]
        listed = {m["medicationId"] for m in own}
        assert "RX-ERIK-OMEPRAZOL" in listed  # registered 2024
        assert "RX-ERIK-ENALAPRIL" not in listed  # last dispensed 2021-03-02: more than 5 years back

        # A renewal from the list, retried with its Idempotency-Key: one case at the clinic
        renewal = {
            "clinicId": CLINIC,
            "medicationIds": ["RX-TOVE-DERMOVAT"],
            "freeText": "Utslaget har kommit tillbaka.",
        }
        headers = {"Authorization": f"Bearer {tove}", "Idempotency-Key": "e2e-renewal-tove"}
        first = http.session.post(
            f"{http.base}/citizens/me/prescription-renewals", json=renewal, headers=headers, timeout=30
        )
        again = http.session.post(
            f"{http.base}/citizens/me/prescription-renewals", json=renewal, headers=headers, timeout=30
        )
        assert first.status_code == again.status_code == 201, first.text
        case_id = first.json()["caseId"]
        assert again.json() == {"caseId": case_id}

        # A supply order to the home address in the population register
        sara = http.token_for(pnr("Sara"))
        ordered = http.call(
            "POST",
            "/citizens/me/supply-orders",
            {"clinicId": CLINIC, "items": [{"supplyId": "SUP-SARA-TENA", "quantity": 2}], "delivery": {"kind": "home"}},
            token=sara,
        )
        assert ordered.status_code == 201, ordered.text
        order_id = ordered.json()["orderId"]
        refused = http.call(
            "POST",
            "/citizens/me/supply-orders",
            {
                "clinicId": CLINIC,
                "items": [{"supplyId": "SUP-SARA-STOMI", "quantity": 1}],
                "delivery": {"kind": "home"},
            },
            token=sara,
        )
        assert refused.status_code == 422 and refused.json()["code"] == "prescription-expired"

        # The clinic sees both (a staff token issued on the stack's moved clock)
        receiver = http.cli("staff-token", "--hsa-id", RECEIVER, "--clinic", CLINIC, "--role", "case-receiver").strip()
        cases = http.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=receiver)
        assert cases.status_code == 200, cases.text
        assert {case_id, order_id} <= {c["caseId"] for c in cases.json()["items"]}
        renewal_view = http.call("GET", f"/staff/cases/{case_id}", token=receiver).json()
        assert renewal_view["caseTypeName"] == "Förnya recept"
        assert "Dermovat 0,05 % kräm" in renewal_view["messages"][0]["body"]
        order_view = http.call("GET", f"/staff/cases/{order_id}", token=receiver).json()
        assert "Folkbokföringsadressen: Kungsgatan 3, 211 49 Malmö" in order_view["messages"][0]["body"]
    finally:
        http.cli("clock", "reset")
