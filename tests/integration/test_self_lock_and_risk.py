"""Issue 12: BankID's risk level (returnRisk) acted on, and the citizen's own emergency lock, lifted by a
BankID issued after the lock (never a care-placed one, R-08). Through the routes, against DynamoDB Local
and the stack's BankID simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.integration.admin_helpers import lock
from tests.support import pnr


def bankid_sim(api: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = api.stack.environment()["BANKID_SIMULATOR_URL"] + path
    response = requests.request(method, url, json=body, timeout=5)
    assert response.status_code < 300, response.text
    return response.json() if response.text else None


@pytest.fixture(autouse=True)
def clean_defaults(api: Any) -> Iterator[None]:
    bankid_sim(api, "DELETE", "/sim/defaults")
    yield
    bankid_sim(api, "DELETE", "/sim/defaults")


def audit_actions(citizen_id: str) -> list[dict[str, Any]]:
    from chalicelib.audit import service as audit

    return [e for e in audit.entries_for(f"CITIZEN#{citizen_id}")]


def test_a_high_risk_bankid_login_is_refused_and_audited(api):
    first = api.token_for(pnr("Sara"))  # the account exists: the refusal is audited under it
    citizen_id = first.split(".")[0]
    bankid_sim(api, "POST", "/sim/defaults", {"personalNumber": pnr("Sara"), "risk": "high"})
    refused = api.login(pnr("Sara"))
    assert refused["status"] == 403 and refused["body"]["code"] == "login-risk-high"
    assert "riskabel" in refused["body"]["detail"]
    entries = [e for e in audit_actions(citizen_id) if e["action"] == "login.refused"]
    assert entries and entries[0]["outcome"] == "login-risk-high" and entries[0]["details"]["risk"] == "high"
    assert pnr("Sara") not in str(entries)


def test_a_moderate_risk_login_is_allowed_and_audited(api):
    bankid_sim(api, "POST", "/sim/defaults", {"personalNumber": pnr("Sara"), "risk": "moderate"})
    token = api.token_for(pnr("Sara"))
    citizen_id = token.split(".")[0]
    assert api.call("GET", "/me", token=token)[0] == 200
    moderate = [e for e in audit_actions(citizen_id) if e["action"] == "login.risk-moderate"]
    assert len(moderate) == 1 and moderate[0]["details"]["provider"] == "bankid"


def test_bankid_orders_ask_for_the_risk_level(api):
    status, started, _ = api.call("POST", "/auth/bankid/start", {"personnummer": pnr("Sara")})
    assert status == 200
    assert bankid_sim(api, "GET", f"/sim/orders/{started['orderRef']}")["returnRisk"] is True
    assert api.call("POST", "/auth/bankid/cancel", {"orderRef": started["orderRef"]})[0] == 204  # one order a person


def self_lock(api: Any, token: str) -> str:
    status, started, _ = api.call("POST", "/me/lock/start", {}, token=token)
    assert status == 200, started
    assert bankid_sim(api, "GET", f"/sim/orders/{started['orderRef']}")["kind"] == "sign"
    for _ in range(5):
        status, collected, _ = api.call("POST", "/me/lock/collect", {"orderRef": started["orderRef"]}, token=token)
        assert status == 200, collected
        if collected["status"] != "pending":
            return str(collected["status"])
    raise AssertionError("the sign order never completed")


def test_self_lock_ends_every_session_and_refuses_login(api):
    from chalicelib.accounts import service as accounts

    phone, laptop = api.token_for(pnr("Lars")), api.token_for(pnr("Lars"))
    assert self_lock(api, phone) == "complete"
    for token in (phone, laptop):
        status, problem, _ = api.call("GET", "/me", token=token)
        assert status == 401, problem
    refused = api.login(pnr("Lars"))
    assert refused["status"] == 403 and refused["body"]["code"] == "account-locked"
    assert refused["body"]["title"] == "Inloggningen är låst"
    account = accounts.find_by_personnummer(pnr("Lars"))
    assert account.lock.requested_by == "citizen" and account.lock.channel == "self-service"
    assert [e["action"] for e in audit_actions(account.citizen_id)].count("account.lock") == 1


def test_a_bankid_issued_after_the_lock_lifts_it_an_older_one_does_not(api):
    from chalicelib.accounts import service as accounts

    token = api.token_for(pnr("Lars"))
    assert self_lock(api, token) == "complete"
    today = datetime.now(UTC).date()
    bankid_sim(api, "POST", "/sim/defaults", {"personalNumber": pnr("Lars"), "bankIdIssueDate": str(today)})
    same_day = api.login(pnr("Lars"))
    assert same_day["status"] == 403 and same_day["body"]["code"] == "account-locked"
    newer = str(today + timedelta(days=2))
    bankid_sim(api, "POST", "/sim/defaults", {"personalNumber": pnr("Lars"), "bankIdIssueDate": newer})
    unlocked = api.login(pnr("Lars"))
    assert unlocked["status"] == 200 and unlocked["body"]["status"] == "complete"
    account = accounts.find_by_personnummer(pnr("Lars"))
    assert account.lock is None and account.last_unlocked_at
    unlock = [e for e in audit_actions(account.citizen_id) if e["action"] == "account.unlock"]
    assert unlock and unlock[0]["details"]["channel"] == "newer-e-id"
    assert api.call("GET", "/me", token=unlocked["body"]["session"]["token"])[0] == 200


def test_a_care_placed_lock_is_not_lifted_by_a_new_bankid(api):
    api.token_for(pnr("Lars"))
    assert lock(pnr("Lars"), "care")["ok"]
    newer = str(datetime.now(UTC).date() + timedelta(days=30))
    bankid_sim(api, "POST", "/sim/defaults", {"personalNumber": pnr("Lars"), "bankIdIssueDate": newer})
    refused = api.login(pnr("Lars"))
    assert refused["status"] == 403 and refused["body"]["code"] == "account-locked"
    assert "vårdens begäran" in refused["body"]["detail"]


def test_a_lock_sign_order_never_logs_anyone_in(api):
    token = api.token_for(pnr("Lars"))
    status, started, _ = api.call("POST", "/me/lock/start", {}, token=token)
    assert status == 200
    outcomes = [api.call("POST", "/auth/bankid/collect", {"orderRef": started["orderRef"]})[:2] for _ in range(3)]
    assert all(status != 200 or body["status"] != "complete" for status, body in outcomes), outcomes
    assert any(status == 409 for status, _ in outcomes)
    assert api.call("GET", "/me", token=token)[0] == 200  # and the account is not locked either


def test_another_citizens_lock_order_is_not_found(api):
    lars = api.token_for(pnr("Lars"))
    sara = api.token_for(pnr("Sara"))
    status, started, _ = api.call("POST", "/me/lock/start", {}, token=lars)
    status, problem, _ = api.call("POST", "/me/lock/collect", {"orderRef": started["orderRef"]}, token=sara)
    assert status == 404 and problem["code"] == "order-not-found"
    bankid_sim(api, "POST", f"/sim/orders/{started['orderRef']}/fail", {})  # one order a person: end it
