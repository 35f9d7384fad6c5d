"""ConfiguredBankIDClient: pybankid's requests plus `returnRisk`, pybankid's errors, against the simulator
on a free loopback port (and against a recording transport for the exact bodies)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bankid import exceptions as bankid_errors

from chalicelib.auth.bankid import ConfiguredBankIDClient
from local.bankid_simulator import serve
from tests.support import pnr


@pytest.fixture
def served() -> Iterator[tuple[ConfiguredBankIDClient, httpx.Client]]:
    server, _ = serve()
    host, port = server.server_address[:2]
    control = httpx.Client(base_url=f"http://{host}:{port}", timeout=5)
    yield ConfiguredBankIDClient(f"http://{host}:{port}/rp/v6.0/", None), control
    control.close()
    server.shutdown()
    server.server_close()


def finish(client: ConfiguredBankIDClient, order_ref: str) -> dict[str, Any]:
    assert client.collect(order_ref)["status"] == "pending"
    done = client.collect(order_ref)
    assert done["status"] == "complete"
    return dict(done["completionData"])


def test_authenticate_asks_for_risk_and_collect_returns_it(served):
    client, control = served
    order = client.authenticate(end_user_ip="127.0.0.1", requirement={"personalNumber": pnr("Sara")})
    assert set(order) == {"orderRef", "autoStartToken", "qrStartToken", "qrStartSecret"}
    described = control.get(f"/sim/orders/{order['orderRef']}").json()
    assert described == {"kind": "auth", "status": "pending", "returnRisk": True}
    data = finish(client, order["orderRef"])
    assert data["risk"] == "low" and data["bankIdIssueDate"] == "2020-01-01"
    assert data["user"]["personalNumber"] == pnr("Sara")
    assert data["device"]["ipAddress"] == "127.0.0.1" and data["stepUp"] == {"mrtd": False}


def test_sign_asks_for_risk_and_completes_with_the_simulators_settings(served):
    client, control = served
    control.post("/sim/defaults", json={"personalNumber": pnr("Anna"), "risk": "moderate"}).raise_for_status()
    order = client.sign(
        end_user_ip="127.0.0.1", user_visible_data="Jag godkänner", requirement={"personalNumber": pnr("Anna")}
    )
    described = control.get(f"/sim/orders/{order['orderRef']}").json()
    assert described == {"kind": "sign", "status": "pending", "returnRisk": True}
    data = finish(client, order["orderRef"])
    assert (data["risk"], data["bankIdIssueDate"]) == ("moderate", "2020-01-01")


def test_qr_order_completed_through_control_carries_high_risk(served):
    client, control = served
    order = client.authenticate(end_user_ip="127.0.0.1")
    control.post(
        f"/sim/orders/{order['orderRef']}/complete",
        json={"personalNumber": pnr("Anna"), "risk": "high", "bankIdIssueDate": "2026-11-30"},
    ).raise_for_status()
    done = client.collect(order["orderRef"])
    assert done["status"] == "complete"
    assert (done["completionData"]["risk"], done["completionData"]["bankIdIssueDate"]) == ("high", "2026-11-30")


def test_return_risk_can_be_turned_off(served):
    client, control = served
    order = client.authenticate(end_user_ip="127.0.0.1", return_risk=False)
    assert control.get(f"/sim/orders/{order['orderRef']}").json()["returnRisk"] is False
    control.post(f"/sim/orders/{order['orderRef']}/complete", json={"personalNumber": pnr("Anna")})
    assert "risk" not in client.collect(order["orderRef"])["completionData"]


def test_errors_are_pybankids(served):
    client, _ = served
    with pytest.raises(bankid_errors.InvalidParametersError):
        client.authenticate(end_user_ip="127.0.0.1", requirement={"personalNumber": "1985"})
    with pytest.raises(bankid_errors.InvalidParametersError):
        client.sign(end_user_ip="127.0.0.1", user_visible_data="")
    client.sign(end_user_ip="127.0.0.1", user_visible_data="x", requirement={"personalNumber": pnr("Sara")})
    with pytest.raises(bankid_errors.AlreadyInProgressError):
        client.authenticate(end_user_ip="127.0.0.1", requirement={"personalNumber": pnr("Sara")})


# --- the exact bodies, next to pybankid's own ----------------------------------------------------------------


class Recorder:
    def __init__(self, status: int = 200, answer: Any = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status, self.answer = status, answer if answer is not None else {"orderRef": "r"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.answer)

    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.requests[-1].content))


def recording(status: int = 200, answer: Any = None) -> tuple[ConfiguredBankIDClient, Recorder]:
    recorder = Recorder(status, answer)
    client = ConfiguredBankIDClient("https://bankid.example/rp/v6.0", None)
    client.client = httpx.Client(transport=httpx.MockTransport(recorder), headers={"Content-Type": "application/json"})
    return client, recorder


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"requirement": {"personalNumber": pnr("Sara"), "pinCode": True}},
        {
            "user_visible_data": "Logga in på *1177*",
            "user_non_visible_data": "nonce-1",
            "user_visible_data_format": "simpleMarkdownV1",
        },
    ],
)
def test_authenticate_sends_pybankids_payload_plus_return_risk(kwargs):
    client, recorder = recording()
    assert client.authenticate("192.0.2.1", **kwargs) == {"orderRef": "r"}
    expected = client._create_payload("192.0.2.1", **kwargs)
    assert recorder.body() == {**expected, "returnRisk": True}
    assert str(recorder.requests[-1].url) == "https://bankid.example/rp/v6.0/auth"
    if "user_visible_data" in kwargs:
        assert base64.b64decode(recorder.body()["userVisibleData"]).decode() == "Logga in på *1177*"


def test_sign_sends_pybankids_payload_plus_return_risk():
    client, recorder = recording()
    client.sign("192.0.2.1", "Jag skriver under", requirement={"personalNumber": pnr("Sara")})
    assert recorder.body() == {
        "endUserIp": "192.0.2.1",
        "requirement": {"personalNumber": pnr("Sara")},
        "userVisibleData": base64.b64encode(b"Jag skriver under").decode(),
        "returnRisk": True,
    }
    assert str(recorder.requests[-1].url) == "https://bankid.example/rp/v6.0/sign"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("invalidParameters", bankid_errors.InvalidParametersError),
        ("alreadyInProgress", bankid_errors.AlreadyInProgressError),
        ("internalError", bankid_errors.InternalError),
        ("maintenance", bankid_errors.MaintenanceError),
        ("somethingNew", bankid_errors.BankIDError),
    ],
)
def test_error_answers_map_as_in_pybankid(code, error):
    client, _ = recording(400 if code != "internalError" else 500, {"errorCode": code, "details": "x"})
    with pytest.raises(error):
        client.authenticate("192.0.2.1")
    with pytest.raises(error):
        client.sign("192.0.2.1", "text")
