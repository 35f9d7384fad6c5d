"""R-01, R-02, R-02a and the session mechanics, through the HTTP routes against DynamoDB Local."""

from __future__ import annotations

import json

from tests.integration.admin_helpers import lock
from tests.support import pnr


def _account(citizen_id):
    from chalicelib.accounts import service

    return service.get(citizen_id)


def test_r01_first_login_activates_account_and_records_consent_time(api):
    from chalicelib.accounts import service

    assert service.find_by_personnummer(pnr("Sara")) is None
    first = api.login(pnr("Sara"))["body"]
    consent = first["me"]["firstLoginAt"]
    assert consent and consent.endswith("Z")
    account = service.find_by_personnummer(pnr("Sara"))
    assert account is not None and account.active and account.first_login_at == consent
    second = api.login(pnr("Sara"))["body"]
    assert second["me"]["citizenId"] == first["me"]["citizenId"]
    assert second["me"]["firstLoginAt"] == consent  # consent is recorded once, at activation


def test_r02_name_and_address_come_from_population_register_not_from_the_e_id(api):
    body = api.login(pnr("Johan"))["body"]
    # The simulator's BankID completion says "Test Testsson"; the register says Johan Lind.
    assert body["me"]["name"] == "Johan Lind"
    assert body["me"]["address"] == {"street": "Västra vägen 8", "postalCode": "352 31", "city": "Växjö"}
    token = body["session"]["token"]
    status, _, _ = api.call("PATCH", "/me", {"name": "Someone Else"}, token=token)
    assert status in (403, 405)
    assert api.call("GET", "/me", token=token)[1]["name"] == "Johan Lind"


def test_r02a_samordningsnummer_cannot_log_in(api):
    outcome = api.login(pnr("Alex"))
    assert outcome["status"] == 403
    assert outcome["body"]["code"] == "coordination-number"
    from chalicelib.accounts import service

    assert service.find_by_personnummer(pnr("Alex")) is None


def test_r02a_deceased_person_cannot_log_in_and_account_is_inactivated(api, monkeypatch):
    from chalicelib.accounts import service
    from chalicelib.population.models import Person
    from chalicelib.population.port import population_register

    register = population_register()
    # Gustav is deceased in the register: refused, and no account is created for him.
    refused = api.login(pnr("Gustav"))
    assert refused["status"] == 403 and refused["body"]["code"] == "deceased"
    assert service.find_by_personnummer(pnr("Gustav")) is None

    # Sara logs in, then the register reports her deceased: next login inactivates, old session dies.
    token = api.token_for(pnr("Sara"))
    sara = register.find(pnr("Sara"))
    monkeypatch.setattr(
        register, "find", lambda n: Person(**{**sara.__dict__, "deceased": True}) if n == pnr("Sara") else None
    )
    outcome = api.login(pnr("Sara"))
    assert outcome["status"] == 403 and outcome["body"]["code"] == "deceased"
    assert service.find_by_personnummer(pnr("Sara")).status == "inactivated"
    assert api.call("GET", "/me", token=token)[0] == 401


def test_session_works_until_logout(api):
    token = api.token_for(pnr("Sara"))
    assert api.call("GET", "/me", token=token)[0] == 200
    assert api.call("POST", "/auth/logout", token=token)[0] == 204
    status, problem, headers = api.call("GET", "/me", token=token)
    assert status == 401 and problem["code"] == "session-invalid"
    assert headers["content-type"] == "application/problem+json"


def test_tampered_or_missing_tokens_are_401_problems(api):
    token = api.token_for(pnr("Sara"))
    citizen_id, _, secret = token.partition(".")
    for bad in (f"{citizen_id}.{secret[:-2]}xx", "no-dot", f".{secret}", "x" * 5000):
        status, problem, _ = api.call("GET", "/me", token=bad)
        assert status == 401 and problem["code"] in {"session-invalid", "unauthenticated"}
    status, problem, _ = api.call("GET", "/me", headers={"Authorization": "Basic abc"})
    assert status == 401 and problem["code"] == "unauthenticated"


def test_completed_order_gives_exactly_one_session(api):
    outcome = api.login(pnr("Sara"))
    status, problem, _ = api.call("POST", "/auth/bankid/collect", {"orderRef": outcome["orderRef"]})
    assert status in (404, 409), problem
    assert problem["code"] in {"order-already-used", "order-not-found"}


def test_expired_session_is_refused(api, monkeypatch):
    from chalicelib.auth import service
    from chalicelib.core.clock import fixed_clock
    from tests.support import at

    token = api.token_for(pnr("Sara"))
    principal = service.authenticate(token, clock=fixed_clock(at("2020-01-01T00:00:00Z")))
    assert principal.citizen_id == token.split(".")[0]
    import pytest

    from chalicelib.core.errors import Unauthenticated

    with pytest.raises(Unauthenticated):
        service.authenticate(token, clock=fixed_clock(at("2999-01-01T00:00:00Z")))


def test_qr_and_cancel(api):
    status, started, _ = api.call("POST", "/auth/bankid/start", {})
    assert status == 200
    status, qr, _ = api.call("POST", "/auth/bankid/qr", {"orderRef": started["orderRef"]})
    assert status == 200 and qr["qrData"].startswith(f"bankid.{started['qrStartToken']}.")
    assert api.call("POST", "/auth/bankid/cancel", {"orderRef": started["orderRef"]})[0] == 204
    status, problem, _ = api.call("POST", "/auth/bankid/qr", {"orderRef": started["orderRef"]})
    assert status == 404 and problem["code"] == "order-not-found"


def test_qr_flow_completed_through_simulator_control_endpoint(api):
    import urllib.request

    status, started, _ = api.call("POST", "/auth/bankid/start", {})
    request = urllib.request.Request(
        f"{api.stack.environment()['BANKID_SIMULATOR_URL']}/sim/orders/{started['orderRef']}/complete",
        data=json.dumps({"personalNumber": pnr("Anna")}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).read()
    status, body, _ = api.call("POST", "/auth/bankid/collect", {"orderRef": started["orderRef"]})
    assert status == 200 and body["status"] == "complete" and body["me"]["name"] == "Anna Andersson"


def test_bad_input_is_a_problem_and_writes_nothing(api):
    from chalicelib.accounts import service

    cases = [
        ("POST", "/auth/bankid/start", "{not json", 400, "invalid-json"),
        ("POST", "/auth/bankid/start", "[1,2]", 400, "invalid-json"),
        ("POST", "/auth/bankid/start", {"personnummer": "198002282384"}, 422, "invalid-input"),  # bad check digit
        ("POST", "/auth/bankid/start", {"personnummer": "19800228-2385"}, 422, "invalid-input"),
        ("POST", "/auth/bankid/collect", {}, 422, "invalid-input"),
        ("POST", "/auth/bankid/collect", {"orderRef": "../../etc"}, 422, "invalid-input"),
        ("POST", "/auth/bankid/collect", {"orderRef": "00000000-0000-0000-0000-000000000000"}, 404, "order-not-found"),
    ]
    for method, path, body, status, code in cases:
        got, problem, headers = api.call(method, path, body)
        assert (got, problem["code"]) == (status, code), (path, body, problem)
        assert headers["content-type"] == "application/problem+json"
        assert {"type", "title", "status", "detail", "code"} <= problem.keys()
        assert "198002282384" not in json.dumps(problem)  # input is never echoed
    got, problem, _ = api.call("POST", "/auth/bankid/start", "x", headers={"Content-Type": "text/plain"})
    assert got == 415 and problem["code"] == "unsupported-media-type"
    assert service.find_by_personnummer(pnr("Anna")) is None


def test_locked_login_refused_with_exact_title_and_no_session(api):
    api.token_for(pnr("Sara"))
    assert lock(pnr("Sara"))["ok"] is True
    outcome = api.login(pnr("Sara"))
    assert outcome["status"] == 403
    assert outcome["body"]["code"] == "account-locked"
    assert outcome["body"]["title"] == "Inloggningen är låst"
    assert "session" not in outcome["body"]
