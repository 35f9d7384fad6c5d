"""The simulator speaks BankID RP v6 as pybankid expects it (loopback only), and its control endpoints
set what completed orders carry (risk, BankID issue date)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.auth.bankid import ConfiguredBankIDClient
from local.bankid_simulator import Simulator, serve
from tests.support import pnr

TEXT = base64.b64encode("Jag godkänner".encode()).decode()


def start(sim: Simulator, kind: str = "auth", **body: Any) -> str:
    body.setdefault("endUserIp", "192.0.2.7")
    if kind == "sign":
        body.setdefault("userVisibleData", TEXT)
    status, answer = getattr(sim, kind)(body)
    assert status == 200, answer
    return str(answer["orderRef"])


def collect(sim: Simulator, order_ref: str) -> dict[str, Any]:
    status, answer = sim.collect({"orderRef": order_ref})
    assert status == 200, answer
    return answer


def completed(sim: Simulator, personal_number: str, kind: str = "auth", **body: Any) -> dict[str, Any]:
    """An order for the person, collected until it completes on its own (second collect)."""
    order_ref = start(sim, kind, requirement={"personalNumber": personal_number}, **body)
    assert collect(sim, order_ref)["status"] == "pending"
    done = collect(sim, order_ref)
    assert done["status"] == "complete"
    return dict(done["completionData"])


# --- over HTTP, through pybankid ---------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[ConfiguredBankIDClient, str]]:
    server, _ = serve()
    host, port = server.server_address[:2]
    base = f"http://{host}:{port}"
    yield ConfiguredBankIDClient(f"{base}/rp/v6.0", None), base
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(served: tuple[ConfiguredBankIDClient, str]) -> ConfiguredBankIDClient:
    return served[0]


def http(base: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_order_with_personal_number_completes_on_second_collect(client):
    order = client.authenticate(end_user_ip="127.0.0.1", requirement={"personalNumber": pnr("Sara")})
    assert client.collect(order["orderRef"])["status"] == "pending"
    done = client.collect(order["orderRef"])
    assert done["status"] == "complete"
    assert done["completionData"]["user"]["personalNumber"] == pnr("Sara")


def test_second_order_for_same_person_is_already_in_progress(client):
    from bankid.exceptions import AlreadyInProgressError

    client.authenticate(end_user_ip="127.0.0.1", requirement={"personalNumber": pnr("Sara")})
    with pytest.raises(AlreadyInProgressError):
        client.authenticate(end_user_ip="127.0.0.1", requirement={"personalNumber": pnr("Sara")})


def test_cancel_and_unknown_orders(client):
    from bankid.exceptions import NotFoundError

    order = client.authenticate(end_user_ip="127.0.0.1")
    assert client.cancel(order["orderRef"]) is True
    with pytest.raises(NotFoundError):
        client.collect(order["orderRef"])


def test_control_endpoints_over_http(served):
    client, base = served
    order = client.authenticate(end_user_ip="127.0.0.1")
    assert http(base, "GET", f"/sim/orders/{order['orderRef']}") == (
        200,
        {"kind": "auth", "status": "pending", "returnRisk": True},
    )
    assert http(base, "GET", "/sim/orders/no-such-order")[0] == 404
    status, answer = http(base, "POST", "/sim/defaults", {"risk": "moderate", "bankIdIssueDate": "2025-02-03"})
    assert status == 200 and answer == {"scope": "everyone", "risk": "moderate", "bankIdIssueDate": "2025-02-03"}
    assert http(base, "POST", "/sim/defaults", {"risk": "extreme"})[0] == 400
    complete = {"personalNumber": pnr("Anna")}
    assert http(base, "POST", f"/sim/orders/{order['orderRef']}/complete", complete)[0] == 200
    data = client.collect(order["orderRef"])["completionData"]
    assert (data["risk"], data["bankIdIssueDate"]) == ("moderate", "2025-02-03")
    assert http(base, "DELETE", "/sim/defaults") == (200, {"cleared": True})
    order = client.authenticate(end_user_ip="127.0.0.1")
    http(base, "POST", f"/sim/orders/{order['orderRef']}/complete", complete)
    data = client.collect(order["orderRef"])["completionData"]
    assert (data["risk"], data["bankIdIssueDate"]) == ("low", "2020-01-01")
    http(base, "POST", "/sim/defaults", {"risk": "high"})
    assert http(base, "POST", "/sim/reset-defaults", {}) == (200, {"cleared": True})


def test_sign_over_http_without_text_is_invalid_parameters(served):
    from bankid.exceptions import InvalidParametersError

    client, base = served
    assert http(base, "POST", "/rp/v6.0/sign", {"endUserIp": "127.0.0.1"})[1]["errorCode"] == "invalidParameters"
    with pytest.raises(InvalidParametersError):
        client.sign(end_user_ip="127.0.0.1", user_visible_data="")  # pybankid leaves empty text out


# --- the simulator's rules, in process ---------------------------------------------------------------------


def test_completion_data_has_every_v6_field():
    sim = Simulator()
    data = completed(sim, pnr("Sara"), returnRisk=True)
    assert data["user"]["personalNumber"] == pnr("Sara")
    assert data["device"]["ipAddress"] == "192.0.2.7" and data["device"]["uhi"]
    assert data["stepUp"] == {"mrtd": False}
    assert data["bankIdIssueDate"] == "2020-01-01"
    assert data["risk"] == "low"
    assert data["signature"] and data["ocspResponse"]
    assert completed(sim, pnr("Anna"))["device"]["uhi"] == data["device"]["uhi"]  # stable


def test_risk_only_when_the_order_asked_for_it():
    sim = Simulator()
    sim.set_defaults({"risk": "high"})
    assert "risk" not in completed(sim, pnr("Sara"))
    assert "risk" not in completed(sim, pnr("Sara"), returnRisk=False)
    assert completed(sim, pnr("Sara"), returnRisk=True)["risk"] == "high"


def test_defaults_per_person_beat_defaults_for_everyone():
    sim = Simulator()
    assert sim.set_defaults({"risk": "moderate"})[0] == 200
    assert sim.set_defaults({"personalNumber": pnr("Sara"), "risk": "high"}) == (
        200,
        {"scope": "person", "risk": "high"},
    )
    sim.set_defaults({"personalNumber": pnr("Sara"), "bankIdIssueDate": "2026-11-30"})  # adds, keeps the risk
    sara = completed(sim, pnr("Sara"), returnRisk=True)
    assert (sara["risk"], sara["bankIdIssueDate"]) == ("high", "2026-11-30")
    anna = completed(sim, pnr("Anna"), returnRisk=True)
    assert (anna["risk"], anna["bankIdIssueDate"]) == ("moderate", "2020-01-01")
    sim.clear_defaults()
    sara = completed(sim, pnr("Sara"), returnRisk=True)
    assert (sara["risk"], sara["bankIdIssueDate"]) == ("low", "2020-01-01")


def test_complete_control_sets_risk_and_issue_date():
    sim = Simulator()
    sim.set_defaults({"risk": "high", "bankIdIssueDate": "2021-06-07"})
    order_ref = start(sim, returnRisk=True)
    status, _ = sim.control(
        order_ref, "complete", {"personalNumber": pnr("Anna"), "risk": "moderate", "bankIdIssueDate": "2026-12-01"}
    )
    assert status == 200
    data = collect(sim, order_ref)["completionData"]
    assert (data["risk"], data["bankIdIssueDate"]) == ("moderate", "2026-12-01")
    # not told: the defaults
    order_ref = start(sim, returnRisk=True)
    sim.control(order_ref, "complete", {"personalNumber": pnr("Anna")})
    data = collect(sim, order_ref)["completionData"]
    assert (data["risk"], data["bankIdIssueDate"]) == ("high", "2021-06-07")


@pytest.mark.parametrize(
    "body",
    [
        {"risk": "severe"},
        {"risk": 3},
        {"bankIdIssueDate": "2026-13-01"},
        {"bankIdIssueDate": "20261201"},
        {"bankIdIssueDate": 20261201},
        {"personalNumber": "19850402"},
    ],
)
def test_bad_control_input_is_400_and_changes_nothing(body):
    sim = Simulator()
    order_ref = start(sim, returnRisk=True)
    assert sim.control(order_ref, "complete", {"personalNumber": pnr("Anna"), **body})[0] == 400
    assert sim.describe(order_ref)[1]["status"] == "pending"
    assert sim.set_defaults(body)[0] == 400
    assert sim.defaults == {} and sim.person_defaults == {}


def test_sign_requires_user_visible_data_and_records_its_kind():
    sim = Simulator()
    for text in (None, "", "not base64!", "QQ", "A" * 40_004):
        body = {"endUserIp": "192.0.2.7", **({} if text is None else {"userVisibleData": text})}
        status, answer = sim.sign(body)
        assert (status, answer["errorCode"]) == (400, "invalidParameters"), text
    order_ref = start(sim, "sign", userVisibleData="A" * 40_000, returnRisk=True)
    assert sim.describe(order_ref) == (200, {"kind": "sign", "status": "pending", "returnRisk": True})
    assert sim.describe(start(sim)) == (200, {"kind": "auth", "status": "pending", "returnRisk": False})
    data = completed(sim, pnr("Sara"), "sign", returnRisk=True)
    assert data["risk"] == "low" and data["user"]["personalNumber"] == pnr("Sara")


def test_auth_and_sign_share_one_order_per_person():
    sim = Simulator()
    start(sim, requirement={"personalNumber": pnr("Sara")})
    status, answer = sim.sign(
        {"endUserIp": "192.0.2.7", "userVisibleData": TEXT, "requirement": {"personalNumber": pnr("Sara")}}
    )
    assert (status, answer["errorCode"]) == (400, "alreadyInProgress")


@pytest.mark.parametrize(
    "body",
    [
        {"returnRisk": "true"},
        {"returnRisk": 1},
        {"returnRisk": None},
        {"userVisibleData": ""},
        {"userNonVisibleData": "***"},
        {"userVisibleData": TEXT, "userVisibleDataFormat": "html"},
        {"requirement": {"personalNumber": "1985"}},
        {"endUserIp": ""},
    ],
)
def test_bad_order_input_is_invalid_parameters(body):
    sim = Simulator()
    for kind in ("auth", "sign"):
        valid = {"endUserIp": "192.0.2.7", **({"userVisibleData": TEXT} if kind == "sign" else {})}
        status, answer = getattr(sim, kind)({**valid, **body})
        assert (status, answer["errorCode"]) == (400, "invalidParameters"), (kind, body)
    assert sim.orders == {}


def test_describe_never_shows_the_personal_number():
    sim = Simulator()
    order_ref = start(sim, requirement={"personalNumber": pnr("Sara")})
    assert pnr("Sara") not in json.dumps(sim.describe(order_ref))
