"""Issue 12: login with Freja eID Plus (seed 002) through the routes, against the stack's Freja simulator:
the same account rules and session as BankID (R-01, R-02a, R-04); only a verified JWS from a trusted
certificate at registration level PLUS logs anyone in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.admin_helpers import lock
from tests.support import pnr


def freja_sim(api: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = api.stack.environment()["FREJA_SIMULATOR_URL"] + path
    response = requests.request(method, url, json=body, timeout=5)
    assert response.status_code < 300, response.text
    return response.json() if response.text else None


@pytest.fixture(autouse=True)
def defaults(api: Any) -> Iterator[None]:
    freja_sim(api, "POST", "/sim/reset-defaults", {})
    yield
    freja_sim(api, "POST", "/sim/reset-defaults", {})


def start(api: Any, personnummer: str | None = None) -> dict[str, Any]:
    status, started, _ = api.call("POST", "/auth/freja/start", {"personnummer": personnummer} if personnummer else {})
    assert status == 200, started
    return dict(started)


def collect_until_done(api: Any, auth_ref: str) -> tuple[int, Any]:
    for _ in range(5):
        status, body, _ = api.call("POST", "/auth/freja/collect", {"authRef": auth_ref})
        if status != 200 or body["status"] != "pending":
            return status, body
    return status, body


def login(api: Any, person: str) -> tuple[int, Any]:
    return collect_until_done(api, start(api, pnr(person))["authRef"])


def audit(subject: str) -> list[dict[str, Any]]:
    from chalicelib.audit import service

    return service.entries_for(subject)


def test_freja_ssn_login_gives_the_same_me_and_session_as_bankid(api):
    status, body = login(api, "Johan")
    assert status == 200 and body["status"] == "complete", body
    token = body["session"]["token"]
    bankid = api.login(pnr("Johan"))["body"]
    assert body["me"]["citizenId"] == bankid["me"]["citizenId"]
    assert body["me"]["name"] == bankid["me"]["name"] == "Johan Lind"  # from the register, not the e-ID
    assert api.call("GET", "/me", token=token)[0] == 200
    assert api.call("POST", "/auth/logout", token=token)[0] == 204
    assert api.call("GET", "/me", token=token)[0] == 401


def test_freja_qr_login_completes_when_the_person_approves(api):
    started = start(api)
    assert started["qrCodeSecret"]
    status, pending, _ = api.call("POST", "/auth/freja/collect", {"authRef": started["authRef"]})
    assert status == 200 and pending["status"] == "pending" and pending["hintCode"]
    freja_sim(api, "POST", f"/sim/transactions/{started['authRef']}/approve", {"personalNumber": pnr("Sara")})
    status, body = collect_until_done(api, started["authRef"])
    assert status == 200 and body["status"] == "complete" and body["me"]["name"].startswith("Sara")
    status, again, _ = api.call("POST", "/auth/freja/collect", {"authRef": started["authRef"]})
    assert status == 409 and again["code"] == "order-already-used"  # one order, one session


def test_freja_refuses_a_samordningsnummer_and_the_deceased_as_bankid_does(api):
    status, body = login(api, "Alex")
    assert status == 403 and body["code"] == "coordination-number"
    status, body = login(api, "Gustav")
    assert status == 403 and body["code"] == "deceased"


def test_a_locked_account_stays_locked_with_freja(api):
    api.token_for(pnr("Lars"))
    assert lock(pnr("Lars"), "citizen")["ok"]
    status, body = login(api, "Lars")
    assert status == 403 and body["code"] == "account-locked"


@pytest.mark.parametrize(
    ("approval", "reason"),
    [({"tamper": True}, "bad-signature"), ({"signWith": "unknown"}, "unknown-x5t")],
)
def test_a_result_that_does_not_verify_is_refused_and_audited(api, approval, reason):
    started = start(api)
    freja_sim(
        api, "POST", f"/sim/transactions/{started['authRef']}/approve", {"personalNumber": pnr("Sara"), **approval}
    )
    status, body = collect_until_done(api, started["authRef"])
    assert status == 403 and body["code"] == "eid-result-untrusted"
    entries = audit(f"EID#FREJA#{started['authRef']}")
    assert [e["outcome"] for e in entries] == [reason]
    from chalicelib.accounts import service as accounts

    assert accounts.find_by_personnummer(pnr("Sara")) is None  # nobody was logged in or created


def test_the_second_signing_certificate_is_trusted_too(api):
    started = start(api)
    freja_sim(
        api, "POST", f"/sim/transactions/{started['authRef']}/approve", {"personalNumber": pnr("Sara"), "signWith": "2"}
    )
    status, body = collect_until_done(api, started["authRef"])
    assert status == 200 and body["status"] == "complete"


def test_a_registration_level_below_plus_is_refused_and_audited(api):
    freja_sim(api, "POST", "/sim/defaults", {"registrationLevel": "EXTENDED"})
    api.token_for(pnr("Sara"))
    status, body = login(api, "Sara")
    assert status == 403 and body["code"] == "freja-registration-level"
    from chalicelib.accounts import service as accounts

    citizen_id = accounts.find_by_personnummer(pnr("Sara")).citizen_id
    assert [e["outcome"] for e in audit(f"CITIZEN#{citizen_id}") if e["action"] == "login.refused"] == [
        "registration-level-extended"
    ]


def test_an_ssn_order_approved_by_someone_else_is_refused(api):
    started = start(api, pnr("Sara"))
    freja_sim(api, "POST", f"/sim/transactions/{started['authRef']}/approve", {"personalNumber": pnr("Johan")})
    status, body = collect_until_done(api, started["authRef"])
    assert status == 403 and body["code"] == "eid-result-untrusted"


@pytest.mark.parametrize(
    ("action", "hint"), [("expire", "expiredTransaction"), ("cancel-by-user", "userCancel"), ("reject", "rejected")]
)
def test_expired_cancelled_and_rejected_orders_fail_with_a_hint(api, action, hint):
    started = start(api)
    freja_sim(api, "POST", f"/sim/transactions/{started['authRef']}/{action}", {})
    status, body, _ = api.call("POST", "/auth/freja/collect", {"authRef": started["authRef"]})
    assert status == 200 and body == {"status": "failed", "hintCode": hint}


def test_cancel_and_unknown_orders(api):
    started = start(api)
    assert api.call("POST", "/auth/freja/cancel", {"authRef": started["authRef"]})[0] == 204
    status, body, _ = api.call("POST", "/auth/freja/collect", {"authRef": started["authRef"]})
    assert status == 200 and body["status"] == "failed"
    status, problem, _ = api.call("POST", "/auth/freja/collect", {"authRef": "no-such-order"})
    assert status == 404 and problem["code"] == "order-not-found"


def test_an_untrusted_result_is_audited_once(api):
    started = start(api)
    freja_sim(
        api, "POST", f"/sim/transactions/{started['authRef']}/approve", {"personalNumber": pnr("Sara"), "tamper": True}
    )
    assert collect_until_done(api, started["authRef"])[0] == 403
    status, again, _ = api.call("POST", "/auth/freja/collect", {"authRef": started["authRef"]})
    assert status == 409 and again["code"] == "order-already-used"
    assert len(audit(f"EID#FREJA#{started['authRef']}")) == 1
