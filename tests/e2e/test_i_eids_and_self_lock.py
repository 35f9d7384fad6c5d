"""Issue 12 on the local stack ("Must show"), over HTTP against the running API and its e-ID simulators:
Freja eID Plus login (QR and personnummer orders) with the same account rules and session as BankID,
results that do not verify or fall short of PLUS refused and audited; BankID's risk level acted on; the
citizen's own emergency lock, lifted by a BankID issued after it but never a care-placed one.

The simulators' control endpoints (/sim/...) set the scene: BankID's `/sim/defaults` (risk, issue date;
per person) and Freja's (registration level) are back to their defaults around each test. Audit entries
have no citizen-facing read over HTTP: they are read from the stack's audit table in-process (the stack's
environment is this process's, as in test_g_population).

Persons: Alex (samordningsnummer) and Gustav (deceased), whom no other test logs in, for the refusals;
everyone else is a fresh adult from `python -m local population add-synthetic`, which never hands out a
number the register already holds, so no lock or risk setting here can touch a person another test
uses. Every BankID order started here is collected to its end or cancelled (one order per person)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.support import at, pnr

STOCKHOLM = ZoneInfo("Europe/Stockholm")


# ------------------------------------------------------------------ helpers


def simulator(http: Any, which: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A control call to the BankID or Freja simulator (personnummer in bodies only, never URLs)."""
    answer = requests.request(method, http.env[f"{which}_SIMULATOR_URL"] + path, json=body or {}, timeout=10)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.text else None


def bankid_sim(http: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return simulator(http, "BANKID", method, path, body)


def freja_sim(http: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return simulator(http, "FREJA", method, path, body)


@pytest.fixture(autouse=True)
def simulator_defaults(http: Any) -> Iterator[None]:
    def reset() -> None:
        bankid_sim(http, "DELETE", "/sim/defaults")
        freja_sim(http, "POST", "/sim/reset-defaults")

    reset()
    yield
    reset()


def adults(http: Any, count: int) -> list[str]:
    numbers = http.cli("population", "add-synthetic", str(count)).split()
    assert len(numbers) == len(set(numbers)) == count
    return list(numbers)


def freja_start(http: Any, personnummer: str | None = None) -> dict[str, Any]:
    started = http.call("POST", "/auth/freja/start", {"personnummer": personnummer} if personnummer else {})
    assert started.status_code == 200, started.text
    return dict(started.json())


def freja_collect(http: Any, auth_ref: str) -> requests.Response:
    """Collects until the order is no longer pending (an SSN order is approved on the second poll)."""
    for _ in range(5):
        answer = http.call("POST", "/auth/freja/collect", {"authRef": auth_ref})
        if answer.status_code != 200 or answer.json()["status"] != "pending":
            return answer
    raise AssertionError("the Freja order never ended")


def freja_login(http: Any, personnummer: str) -> tuple[str, requests.Response]:
    """A personnummer order (to that person's app), approved there; (authRef, the last collect)."""
    auth_ref = freja_start(http, personnummer)["authRef"]
    return auth_ref, freja_collect(http, auth_ref)


def freja_qr_approved(http: Any, personnummer: str, **approval: Any) -> tuple[str, requests.Response]:
    """A QR order, scanned and approved in the app of `personnummer` (as the simulator is told)."""
    started = freja_start(http)
    assert started["qrCodeSecret"]
    pending = http.call("POST", "/auth/freja/collect", {"authRef": started["authRef"]})
    assert pending.status_code == 200 and pending.json()["status"] == "pending" and pending.json()["hintCode"]
    freja_sim(
        http, "POST", f"/sim/transactions/{started['authRef']}/approve", {"personalNumber": personnummer, **approval}
    )
    return started["authRef"], freja_collect(http, started["authRef"])


def problem(response: requests.Response) -> tuple[int, str | None]:
    assert response.headers["Content-Type"] == "application/problem+json", response.text
    return response.status_code, response.json().get("code")


def audit(subject: str) -> list[dict[str, Any]]:
    from chalicelib.audit import service

    return service.entries_for(subject)


def citizen_id(token: str) -> str:
    return token.partition(".")[0]


def citizen_audit(token: str, action: str) -> list[dict[str, Any]]:
    from chalicelib.audit.models import citizen_subject

    return [e for e in audit(citizen_subject(citizen_id(token))) if e["action"] == action]


def has_account(personnummer: str) -> bool:
    from chalicelib.accounts import service as accounts

    return accounts.find_by_personnummer(personnummer) is not None


def session_behaviour(http: Any, collected: requests.Response) -> tuple[dict[str, Any], float]:
    """`/me` of a completed login, and how long its session lasts (seconds); the session then ends on
    logout (401 after), and the order that made it cannot make another."""
    assert collected.status_code == 200 and collected.json()["status"] == "complete", collected.text
    body = collected.json()
    token = body["session"]["token"]
    me = http.call("GET", "/me", token=token)
    assert me.status_code == 200, me.text
    assert me.json() == body["me"]
    lifetime = (at(body["session"]["expiresAt"]) - datetime.now(UTC)).total_seconds()
    assert http.call("POST", "/auth/logout", token=token).status_code == 204
    assert problem(http.call("GET", "/me", token=token))[0] == 401
    return me.json(), lifetime


def stockholm_today(http: Any) -> date:
    """Today in Stockholm on the stack's clock (the dev CLI's; real time unless a test set it)."""
    return datetime.fromisoformat(json.loads(http.cli("clock", "show"))["now"]).astimezone(STOCKHOLM).date()


# ------------------------------------------------------------------ Freja eID Plus: the same login as BankID


def test_freja_personnummer_and_qr_logins_give_the_same_me_and_session_as_bankid(http: Any) -> None:
    by_number, by_qr = adults(http, 2)
    for personnummer, login in ((by_number, freja_login), (by_qr, freja_qr_approved)):
        auth_ref, freja = login(http, personnummer)
        freja_me, freja_lifetime = session_behaviour(http, freja)
        bankid_me, bankid_lifetime = session_behaviour(http, http.login(personnummer))
        assert freja_me == bankid_me  # the same account, from the register, not from the e-ID
        assert freja_me["name"].endswith(" Syntetisk") and freja_me["firstLoginAt"]
        assert abs(freja_lifetime - bankid_lifetime) < 10  # the same session length
        # one order, one session
        assert problem(http.call("POST", "/auth/freja/collect", {"authRef": auth_ref})) == (409, "order-already-used")


def test_freja_refuses_a_samordningsnummer_and_the_deceased_as_bankid_does(http: Any) -> None:
    for person, refusal in (("Alex", "coordination-number"), ("Gustav", "deceased")):
        assert problem(http.login(pnr(person))) == (403, refusal)
        assert problem(freja_login(http, pnr(person))[1]) == (403, refusal)
        assert problem(freja_qr_approved(http, pnr(person))[1]) == (403, refusal)
        assert not has_account(pnr(person))


@pytest.mark.parametrize(
    ("approval", "reason"),
    [({"tamper": True}, "bad-signature"), ({"signWith": "unknown"}, "unknown-x5t")],
    ids=["bad-jws-signature", "unknown-x5t"],
)
def test_a_freja_result_that_does_not_verify_is_refused_and_audited(
    http: Any, approval: dict[str, Any], reason: str
) -> None:
    (person,) = adults(http, 1)
    auth_ref, refused = freja_qr_approved(http, person, **approval)
    assert problem(refused) == (403, "eid-result-untrusted")
    # under the order: an unverified result's personnummer is not trusted, not even for the audit
    entries = audit(f"EID#FREJA#{auth_ref}")
    assert [(e["action"], e["outcome"]) for e in entries] == [("login.refused", reason)], entries
    assert entries[0]["details"]["provider"] == "freja" and person not in str(entries)
    assert not has_account(person)  # nobody was logged in, nor an account made
    again = http.call("POST", "/auth/freja/collect", {"authRef": auth_ref})
    assert problem(again) == (409, "order-already-used")  # asking again logs nobody in, nor audits again
    assert len(audit(f"EID#FREJA#{auth_ref}")) == 1
    assert not has_account(person)


def test_the_second_trusted_freja_certificate_logs_in(http: Any) -> None:
    (person,) = adults(http, 1)
    _, collected = freja_qr_approved(http, person, signWith="2")
    assert collected.status_code == 200 and collected.json()["status"] == "complete", collected.text


def test_a_freja_registration_level_below_plus_is_refused_and_audited(http: Any) -> None:
    known, unknown = adults(http, 2)
    token = http.token_for(known)  # an account: the refusal is audited under the citizen
    freja_sim(http, "POST", "/sim/defaults", {"registrationLevel": "EXTENDED"})
    assert problem(freja_login(http, known)[1]) == (403, "freja-registration-level")
    refused = citizen_audit(token, "login.refused")
    assert [e["outcome"] for e in refused] == ["registration-level-extended"], refused
    assert refused[0]["details"]["provider"] == "freja" and known not in str(refused)
    assert http.call("GET", "/me", token=token).status_code == 200  # the refusal ends no other session

    # No account yet (a QR order at BASIC): audited under the keyed person, and no account is made
    from chalicelib.audit.models import person_subject
    from chalicelib.core.personal_number import lookup_key

    assert problem(freja_qr_approved(http, unknown, registrationLevel="BASIC")[1]) == (403, "freja-registration-level")
    entries = audit(person_subject(lookup_key(unknown)))
    assert [(e["action"], e["outcome"]) for e in entries] == [("login.refused", "registration-level-basic")]
    assert not has_account(unknown)


@pytest.mark.parametrize(
    ("action", "hint"), [("expire", "expiredTransaction"), ("cancel-by-user", "userCancel"), ("reject", "rejected")]
)
def test_expired_cancelled_and_rejected_freja_orders_end_as_failed_with_a_hint(
    http: Any, action: str, hint: str
) -> None:
    (person,) = adults(http, 1)
    for started in (freja_start(http), freja_start(http, person)):
        freja_sim(http, "POST", f"/sim/transactions/{started['authRef']}/{action}")
        ended = http.call("POST", "/auth/freja/collect", {"authRef": started["authRef"]})
        assert ended.status_code == 200 and ended.json() == {"status": "failed", "hintCode": hint}, ended.text
    assert not has_account(person)


def test_a_cancelled_freja_order_cannot_log_in(http: Any) -> None:
    started = freja_start(http)
    assert http.call("POST", "/auth/freja/cancel", {"authRef": started["authRef"]}).status_code == 204
    ended = http.call("POST", "/auth/freja/collect", {"authRef": started["authRef"]})
    assert ended.status_code == 200 and ended.json()["status"] == "failed", ended.text
    assert problem(http.call("POST", "/auth/freja/collect", {"authRef": "no-such-order"})) == (404, "order-not-found")


# ------------------------------------------------------------------ BankID's risk level


def test_a_high_risk_bankid_login_is_refused_and_audited(http: Any) -> None:
    (person,) = adults(http, 1)
    token = http.token_for(person)  # the account exists: the refusal is audited under it
    bankid_sim(http, "POST", "/sim/defaults", {"personalNumber": person, "risk": "high"})
    refused = http.login(person)
    assert problem(refused) == (403, "login-risk-high")
    assert "riskabel" in refused.json()["detail"]
    entries = citizen_audit(token, "login.refused")
    assert [e["outcome"] for e in entries] == ["login-risk-high"], entries
    assert entries[0]["details"]["risk"] == "high" and entries[0]["details"]["provider"] == "bankid"
    assert person not in str(entries)
    assert citizen_audit(token, "login.risk-moderate") == []


def test_a_moderate_risk_bankid_login_is_allowed_and_audited(http: Any) -> None:
    (person,) = adults(http, 1)
    bankid_sim(http, "POST", "/sim/defaults", {"personalNumber": person, "risk": "moderate"})
    token = http.token_for(person)
    assert http.call("GET", "/me", token=token).status_code == 200
    moderate = citizen_audit(token, "login.risk-moderate")
    assert len(moderate) == 1 and moderate[0]["details"]["provider"] == "bankid", moderate
    assert person not in str(moderate)
    assert citizen_audit(token, "login.refused") == []


def test_bankid_login_orders_ask_for_the_risk_level(http: Any) -> None:
    (person,) = adults(http, 1)
    started = http.call("POST", "/auth/bankid/start", {"personnummer": person})
    assert started.status_code == 200, started.text
    order_ref = started.json()["orderRef"]
    try:
        assert bankid_sim(http, "GET", f"/sim/orders/{order_ref}")["returnRisk"] is True
    finally:  # one order per person: never leave it pending
        assert http.call("POST", "/auth/bankid/cancel", {"orderRef": order_ref}).status_code == 204


# ------------------------------------------------------------------ the citizen's own emergency lock


def self_lock(http: Any, token: str) -> str:
    """Locks the account with a BankID sign order, collected to its end; its last status."""
    started = http.call("POST", "/me/lock/start", {}, token=token)
    assert started.status_code == 200, started.text
    order_ref = started.json()["orderRef"]
    assert bankid_sim(http, "GET", f"/sim/orders/{order_ref}")["kind"] == "sign"
    for _ in range(5):
        collected = http.call("POST", "/me/lock/collect", {"orderRef": order_ref}, token=token)
        assert collected.status_code == 200, collected.text
        if collected.json()["status"] != "pending":
            return str(collected.json()["status"])
    raise AssertionError("the sign order never completed")


def test_self_lock_ends_every_session_at_once_and_refuses_login(http: Any) -> None:
    (person,) = adults(http, 1)
    phone, laptop = http.token_for(person), http.token_for(person)
    assert self_lock(http, phone) == "complete"
    for token in (phone, laptop):
        assert problem(http.call("GET", "/me", token=token))[0] == 401
    refused = http.login(person)
    assert problem(refused) == (403, "account-locked")
    assert refused.json()["title"] == "Inloggningen är låst"
    assert problem(freja_login(http, person)[1]) == (403, "account-locked")  # not with Freja either
    locks = citizen_audit(phone, "account.lock")
    assert len(locks) == 1, locks
    assert locks[0]["details"] == {"requestedBy": "citizen", "channel": "self-service"}
    assert locks[0]["actor"] == citizen_id(phone) and person not in str(locks)


def test_a_bankid_issued_before_the_lock_keeps_it_one_issued_after_lifts_it(http: Any) -> None:
    (person,) = adults(http, 1)
    token = http.token_for(person)
    assert self_lock(http, token) == "complete"
    today = stockholm_today(http)

    def login_with_bankid_issued(issued: date) -> requests.Response:
        bankid_sim(http, "POST", "/sim/defaults", {"personalNumber": person, "bankIdIssueDate": str(issued)})
        return http.login(person)

    for older in (today - timedelta(days=1), today):  # issued before the lock, or the same day
        assert problem(login_with_bankid_issued(older)) == (403, "account-locked")
    assert citizen_audit(token, "account.unlock") == []

    unlocked = login_with_bankid_issued(today + timedelta(days=1))
    assert unlocked.status_code == 200 and unlocked.json()["status"] == "complete", unlocked.text
    assert http.call("GET", "/me", token=unlocked.json()["session"]["token"]).status_code == 200
    assert http.call("GET", "/me", token=token).status_code == 401  # the sessions the lock ended stay ended
    lifted = citizen_audit(token, "account.unlock")
    assert len(lifted) == 1 and lifted[0]["details"]["channel"] == "newer-e-id", lifted
    assert lifted[0]["details"]["lockChannel"] == "self-service"
    bankid_sim(http, "DELETE", "/sim/defaults")
    assert http.login(person).json()["status"] == "complete"  # unlocked: any BankID logs in now


def _care_lock_event(personnummer: str) -> dict[str, Any]:
    return {
        "ticketRef": "EASIT-E2E-I",
        "region": "Region Jönköpings län",
        "actor": "vis-support.e2e",
        "personnummer": personnummer,
        "requestedBy": "care",
        "requester": "SE2321000016-S002",
        "formRef": "FORM-I-1",
    }


def test_a_care_placed_lock_is_not_lifted_by_a_new_bankid(http: Any) -> None:
    (person,) = adults(http, 1)
    token = http.token_for(person)
    assert json.loads(http.cli("invoke", "admin_lock_account", event=_care_lock_event(person)))["ok"] is True
    assert problem(http.call("GET", "/me", token=token))[0] == 401
    newer = stockholm_today(http) + timedelta(days=30)
    bankid_sim(http, "POST", "/sim/defaults", {"personalNumber": person, "bankIdIssueDate": str(newer)})
    refused = http.login(person)
    assert problem(refused) == (403, "account-locked")
    assert "vårdens begäran" in refused.json()["detail"]
    assert citizen_audit(token, "account.unlock") == []
