"""The issue's must-show, over HTTP against the running local stack."""

from __future__ import annotations

import json

from tests.support import ROOT, pnr


def test_serves_the_openapi_document_it_publishes(http):
    response = http.call("GET", "/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))


def test_full_bankid_login_and_me_from_the_register(http):
    started = http.call("POST", "/auth/bankid/start", {"personnummer": pnr("Anna")})
    assert started.status_code == 200
    assert set(started.json()) == {"orderRef", "autoStartToken", "qrStartToken"}
    order_ref = started.json()["orderRef"]
    pending = http.call("POST", "/auth/bankid/collect", {"orderRef": order_ref})
    assert pending.status_code == 200 and pending.json()["status"] == "pending"
    complete = http.call("POST", "/auth/bankid/collect", {"orderRef": order_ref})
    assert complete.status_code == 200, complete.text
    body = complete.json()
    assert body["status"] == "complete"
    assert body["session"]["token"] and body["session"]["expiresAt"].endswith("Z")
    me = http.call("GET", "/me", token=body["session"]["token"])
    assert me.status_code == 200
    assert me.json()["name"] == "Anna Andersson"


def _admin_event(personnummer, **fields):
    return {
        "ticketRef": "EASIT-E2E-1",
        "region": "Region Jönköpings län",
        "actor": "vis-support.e2e",
        "personnummer": personnummer,
        **fields,
    }


def test_lock_while_logged_in_ends_the_session_at_once(http):
    # Anna: Johan stands on Wilma's 13th birthday in test_g, which needs him unlocked.
    token = http.token_for(pnr("Anna"))
    assert http.call("GET", "/me", token=token).status_code == 200
    result = json.loads(
        http.cli(
            "invoke",
            "admin_lock_account",
            event=_admin_event(pnr("Anna"), requestedBy="care", requester="SE2321000016-S002", formRef="FORM-1"),
        )
    )
    assert result["ok"] is True
    after = http.call("GET", "/me", token=token)
    assert after.status_code == 401
    assert after.headers["Content-Type"] == "application/problem+json"
    refused = http.login(pnr("Anna"))
    assert refused.status_code == 403
    assert refused.json()["code"] == "account-locked" and refused.json()["title"] == "Inloggningen är låst"


def test_unlock_by_another_region_refused_and_by_placing_region_after_yes(http):
    http.token_for(pnr("Lars"))
    lock = _admin_event(pnr("Lars"), requestedBy="care", requester="SE2321000016-S002", formRef="FORM-2")
    assert json.loads(http.cli("invoke", "admin_lock_account", event=lock))["ok"]
    unlock = _admin_event(pnr("Lars"), requestedBy="care", formRef="FORM-3")
    wrong = json.loads(http.cli("invoke", "admin_unlock_account", event={**unlock, "region": "Region Skåne"}))
    assert wrong["ok"] is False and wrong["code"] == "wrong-region"
    decision = _admin_event(pnr("Lars"), decision="yes", headOfUnit="Lena Falk", decisionRef="B-1")
    assert json.loads(http.cli("invoke", "admin_record_unlock_decision", event=decision))["ok"]
    assert json.loads(http.cli("invoke", "admin_unlock_account", event=unlock))["ok"]
    assert http.login(pnr("Lars")).json()["status"] == "complete"


def test_no_request_causes_a_500(http):
    for method, path, body in [
        ("POST", "/auth/bankid/start", "\x00\xff"),
        ("GET", "/me", None),
        ("DELETE", "/me", None),
        ("POST", "/auth/bankid/collect", "[]"),
    ]:
        response = http.session.request(
            method, http.base + path, data=body, timeout=10, headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (method, path, response.status_code, response.text)
        assert response.headers["Content-Type"] == "application/problem+json"
