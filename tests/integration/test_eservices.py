"""`GET /citizens/{cid}/services` over the routes against DynamoDB Local (R-35, R-52, R-55, R-09): an
adult, a 15-year-old, a guardian acting for a 9-year-old and a citizen with a sealed record — each list
exactly as the rules say, with Swedish reasons. The rules themselves: tests/unit/test_eservice_rules.py.

Sara Berg is an adult; Leo Andersson is 15 (born 2011-01-02); Anna Andersson is guardian of Elsa (9)."""

from __future__ import annotations

from typing import Any

from tests.integration.admin_helpers import admin, lock
from tests.support import pnr

SERVICES = [
    "messages",
    "web-booking",
    "prescription-renewal",
    "medication-list",
    "lakemedelskollen",
    "journal",
    "health-declaration",
    "supplies",
    "self-sampling",
    "support-and-treatment",
]


def services(api: Any, token: str, cid: str = "me") -> dict[str, dict[str, Any]]:
    status, body, headers = api.call("GET", f"/citizens/{cid}/services", token=token)
    assert status == 200, body
    assert headers["cache-control"] == "no-store"
    assert [i["service"] for i in body["items"]] == SERVICES  # each of the ten once, in API.md's order
    return {i["service"]: i for i in body["items"]}


def closed(listed: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: i["reasonCode"] for name, i in listed.items() if not i["available"]}


def test_an_adult_may_open_every_service(api: Any) -> None:
    listed = services(api, api.token_for(pnr("Sara")))
    assert closed(listed) == {}
    assert all(set(i) == {"service", "available"} for i in listed.values())  # no reason when open


def test_a_15_year_old_has_neither_the_medicine_list_nor_lakemedelskollen(api: Any) -> None:
    listed = services(api, api.token_for(pnr("Leo")))
    assert closed(listed) == {"medication-list": "age-limit", "lakemedelskollen": "age-limit"}
    assert listed["medication-list"]["reason"] == "Listan över tidigare förskrivna läkemedel visas från 16 års ålder."
    assert listed["lakemedelskollen"]["reason"] == "Läkemedelskollen kan användas från 18 års ålder."
    assert listed["prescription-renewal"]["available"] is True  # free text


def test_a_guardian_acting_for_a_9_year_old_has_lakemedelskollen_but_not_the_medicine_list(api: Any) -> None:
    anna = api.token_for(pnr("Anna"))
    status, me, _ = api.call("GET", "/me", token=anna)
    assert status == 200, me
    elsa = next(c["citizenId"] for c in me["actingFor"] if c["name"].startswith("Elsa"))
    listed = services(api, anna, elsa)
    assert closed(listed) == {"medication-list": "proxy-mode"}
    assert listed["lakemedelskollen"]["available"] is True  # guardians of children under 13
    assert "företräder" in listed["medication-list"]["reason"]
    assert closed(services(api, anna)) == {}  # Anna for herself: an adult


def test_a_sealed_record_closes_the_journal_only_and_unsealing_opens_it(api: Any) -> None:
    sara = api.token_for(pnr("Sara"))
    assert admin("admin_seal_record", pnr("Sara"), sealed=True, formRef="FORSEGLA-13")["recordSealed"] is True
    listed = services(api, sara)  # sealing is not a lock: the session lives on
    assert closed(listed) == {"journal": "record-sealed"}
    assert listed["journal"]["reason"] == "Journalen är förseglad."
    assert admin("admin_seal_record", pnr("Sara"), sealed=False, formRef="FORSEGLA-14")["recordSealed"] is False
    assert closed(services(api, sara)) == {}


def test_nobody_else_and_no_locked_account(api: Any) -> None:
    sara = api.token_for(pnr("Sara"))
    leo = api.token_for(pnr("Leo"))
    status, problem, _ = api.call("GET", f"/citizens/{leo.split('.')[0]}/services", token=sara)
    assert status == 404 and problem["code"] == "not-found"
    status, problem, _ = api.call("GET", "/citizens/me/services")
    assert status == 401
    status, problem, _ = api.call("GET", f"/citizens/{'x' * 500}/services", token=sara)
    assert status == 404
    # A locked account opens nothing: its sessions end with the lock, so it cannot even ask.
    assert lock(pnr("Sara"))["ok"] is True
    status, problem, _ = api.call("GET", "/citizens/me/services", token=sara)
    assert status == 401
