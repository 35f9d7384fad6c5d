"""The Freja eID simulator speaks Freja's RP API (form parameter of base64 JSON, statuses, JWS details),
refuses what Freja refuses, and never falls over on hostile input (loopback only)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509

from local.freja_simulator import (
    DRAIN_LIMIT_BYTES,
    MAX_BODY_BYTES,
    ORDER_LIFETIME_S,
    RESULT_LIFETIME_S,
    TRUSTED_FILE,
    Simulator,
    load_or_create_keys,
    serve,
    x5t_of,
)
from local.paths import ROOT
from tests.support import pnr

POPULATION = ROOT / "testdata" / "population.json"


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def init_request(personnummer: str | None, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "minRegistrationLevel": "PLUS",
        "attributesToReturn": [{"attribute": "SSN"}, {"attribute": "BASIC_USER_INFO"}],
    }
    if personnummer is None:
        request |= {"userInfoType": "INFERRED", "userInfo": "N/A", "useDynamicQrCode": True}
    else:
        request |= {"userInfoType": "SSN", "userInfo": b64({"country": "SE", "ssn": personnummer})}
    return request | extra


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("freja-keys")
    load_or_create_keys(directory)
    return directory


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim(key_dir: Path) -> Simulator:
    return Simulator(key_dir=key_dir, population=POPULATION)


class Api:
    """The simulator over HTTP, as a relying party and as a test driving it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=5)

    def call(self, operation: str, parameter: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self.http.post(f"/authentication/1.0/{operation}", data={parameter: b64(request)})
        return response.status_code, response.json()

    def init(self, personnummer: str | None, **extra: Any) -> tuple[int, dict[str, Any]]:
        return self.call("initAuthentication", "initAuthRequest", init_request(personnummer, **extra))

    def result(self, auth_ref: str) -> tuple[int, dict[str, Any]]:
        return self.call("getOneResult", "getOneAuthResultRequest", {"authRef": auth_ref})

    def control(self, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        response = self.http.post(path, json={} if body is None else body)
        return response.status_code, response.json()


@pytest.fixture
def api(sim: Simulator) -> Iterator[Api]:
    server, thread = serve(0, sim)
    host, port = server.server_address[:2]
    client = Api(f"http://{host}:{port}")
    yield client
    client.http.close()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def certificate(key_dir: Path, number: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((key_dir / f"freja-signing-{number}.pem").read_bytes())


# --- the RP API over HTTP ---------------------------------------------------------------------------------


def test_an_ssn_order_is_delivered_then_approved_with_a_jws_signed_by_key_1(api: Api, key_dir: Path):
    status, started = api.init(pnr("Sara"))
    assert status == 200 and set(started) == {"authRef"}
    auth_ref = started["authRef"]
    assert api.result(auth_ref) == (200, {"authRef": auth_ref, "status": "DELIVERED_TO_MOBILE"})
    status, approved = api.result(auth_ref)
    assert status == 200 and approved["status"] == "APPROVED"
    details = approved["details"]
    header = jwt.get_unverified_header(details)
    cert = certificate(key_dir, "1")
    assert header["alg"] == "RS256" and header["x5t"] == x5t_of(cert)
    assert len(header["x5t"]) == 27 and "=" not in header["x5t"]  # unpadded base64url of 20 bytes
    payload = jwt.decode(details, cert.public_key(), algorithms=["RS256"])
    assert payload["authRef"] == auth_ref and payload["status"] == "APPROVED"
    assert payload["userInfoType"] == "SSN"
    assert json.loads(payload["userInfo"]) == {"country": "SE", "ssn": pnr("Sara")}
    assert (payload["minRegistrationLevel"], payload["registrationLevel"]) == ("PLUS", "PLUS")
    assert payload["requestedAttributes"] == {
        "basicUserInfo": {"name": "Sara", "surname": "Berg"},
        "ssn": {"ssn": pnr("Sara"), "country": "SE"},
    }
    assert isinstance(payload["timestamp"], int) and payload["timestamp"] > 1_600_000_000_000
    assert approved["requestedAttributes"] == payload["requestedAttributes"]
    assert api.result(auth_ref)[1]["status"] == "APPROVED"  # fetchable again


def test_the_trusted_bundle_holds_both_certificates_and_keys_persist(key_dir: Path):
    bundle = x509.load_pem_x509_certificates((key_dir / TRUSTED_FILE).read_bytes())
    assert [x5t_of(c) for c in bundle] == [x5t_of(certificate(key_dir, "1")), x5t_of(certificate(key_dir, "2"))]
    assert stat.S_IMODE(os.stat(key_dir / "freja-signing-1.key").st_mode) == 0o600
    again = Simulator(key_dir=key_dir)
    assert again.trusted_pem() == (key_dir / TRUSTED_FILE).read_bytes()
    assert again.health()[1]["trusted"] == [x5t_of(c) for c in bundle]


def test_simulators_starting_together_on_an_empty_key_dir_agree_on_the_keys(tmp_path: Path):
    made: list[Simulator] = []
    threads = [threading.Thread(target=lambda: made.append(Simulator(key_dir=tmp_path))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({sim.trusted_pem() for sim in made}) == 1
    assert (tmp_path / TRUSTED_FILE).read_bytes() == made[0].trusted_pem()


def test_an_inferred_order_has_a_qr_secret_and_waits_until_approved(api: Api, key_dir: Path):
    status, started = api.init(None)
    assert status == 200 and set(started) == {"authRef", "qrCodeSecret"}
    auth_ref = started["authRef"]
    for _ in range(3):
        assert api.result(auth_ref)[1]["status"] == "DELIVERED_TO_MOBILE"
    assert api.control(f"/sim/transactions/{auth_ref}/approve")[0] == 400  # who? a personnummer is needed
    assert api.control(f"/sim/transactions/{auth_ref}/approve", {"personalNumber": pnr("Anna")}) == (
        200,
        {"authRef": auth_ref, "status": "APPROVED"},
    )
    details = api.result(auth_ref)[1]["details"]
    payload = jwt.decode(details, certificate(key_dir, "1").public_key(), algorithms=["RS256"])
    assert (payload["userInfoType"], payload["userInfo"]) == ("INFERRED", "N/A")
    assert payload["requestedAttributes"]["ssn"] == {"ssn": pnr("Anna"), "country": "SE"}
    assert payload["requestedAttributes"]["basicUserInfo"] == {"name": "Anna", "surname": "Andersson"}


def test_cancel_and_unknown_references(api: Api):
    auth_ref = api.init(pnr("Sara"))[1]["authRef"]
    assert api.call("cancel", "cancelAuthRequest", {"authRef": auth_ref}) == (200, {})
    assert api.result(auth_ref)[1]["status"] == "RP_CANCELED"
    assert api.call("cancel", "cancelAuthRequest", {"authRef": auth_ref})[1]["code"] == 1100
    status, error = api.result("no-such-reference")
    assert status == 400 and error["code"] == 1100 and isinstance(error["message"], str)


def test_a_second_order_for_the_same_person_rejects_the_first(api: Api):
    first = api.init(pnr("Sara"))[1]["authRef"]
    second = api.init(pnr("Sara"))[1]["authRef"]
    other = api.init(pnr("Anna"))[1]["authRef"]
    assert api.result(first)[1]["status"] == "REJECTED"
    assert api.result(second)[1]["status"] == "DELIVERED_TO_MOBILE"
    assert api.result(other)[1]["status"] == "DELIVERED_TO_MOBILE"


@pytest.mark.parametrize(
    ("action", "status"), [("reject", "REJECTED"), ("expire", "EXPIRED"), ("cancel-by-user", "CANCELED")]
)
def test_control_ends_an_order(api: Api, action: str, status: str):
    auth_ref = api.init(pnr("Sara"))[1]["authRef"]
    assert api.control(f"/sim/transactions/{auth_ref}/{action}") == (200, {"authRef": auth_ref, "status": status})
    assert api.result(auth_ref) == (200, {"authRef": auth_ref, "status": status})
    assert api.result(auth_ref)[1]["status"] == status  # final: no auto-approve on later polls
    assert api.control(f"/sim/transactions/{auth_ref}/approve")[0] == 409


def test_control_refuses_what_it_does_not_know(api: Api):
    auth_ref = api.init(None)[1]["authRef"]
    base = f"/sim/transactions/{auth_ref}"
    assert api.control("/sim/transactions/nope/approve", {"personalNumber": pnr("Sara")})[0] == 404
    assert api.control(f"{base}/explode")[0] == 404
    assert api.control(f"{base}/approve", {"personalNumber": "12345"})[0] == 400
    assert api.control(f"{base}/approve", {"personalNumber": pnr("Sara"), "signWith": "3"})[0] == 400
    assert api.control(f"{base}/approve", {"personalNumber": pnr("Sara"), "registrationLevel": "GOLD"})[0] == 400
    assert api.control(f"{base}/approve", {"personalNumber": pnr("Sara"), "tamper": "yes"})[0] == 400
    assert api.control(f"{base}/approve", {"personalNumber": pnr("Sara"), "colour": "red"})[0] == 400
    assert api.control(f"{base}/reject", {"why": "no"})[0] == 400
    assert api.control(f"{base}/approve", [1, 2])[0] == 400
    assert api.http.post(f"{base}/approve", content=b"{not json").status_code == 400
    assert api.control("/sim/nothing-here")[0] == 404
    assert api.result(auth_ref)[1]["status"] == "DELIVERED_TO_MOBILE"  # untouched by all that


def test_sign_with_key_2_unknown_key_and_tampering(api: Api, key_dir: Path):
    trusted = {x5t_of(certificate(key_dir, n)): certificate(key_dir, n).public_key() for n in ("1", "2")}

    def approved(**control: Any) -> str:
        auth_ref = api.init(None)[1]["authRef"]
        api.control(f"/sim/transactions/{auth_ref}/approve", {"personalNumber": pnr("Sara"), **control})
        return str(api.result(auth_ref)[1]["details"])

    by_2 = approved(signWith="2")
    assert jwt.get_unverified_header(by_2)["x5t"] == x5t_of(certificate(key_dir, "2"))
    jwt.decode(by_2, trusted[jwt.get_unverified_header(by_2)["x5t"]], algorithms=["RS256"])
    assert jwt.get_unverified_header(approved(signWith="unknown"))["x5t"] not in trusted
    tampered = approved(tamper=True)
    key = trusted[jwt.get_unverified_header(tampered)["x5t"]]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, key, algorithms=["RS256"])


def test_defaults_set_the_registration_level_of_auto_approved_orders(api: Api):
    assert api.control("/sim/defaults", {"registrationLevel": "BASIC"}) == (200, {"registrationLevel": "BASIC"})
    auth_ref = api.init(pnr("Sara"))[1]["authRef"]
    api.result(auth_ref)
    details = api.result(auth_ref)[1]["details"]
    assert jwt.decode(details, options={"verify_signature": False})["registrationLevel"] == "BASIC"
    assert api.control("/sim/defaults", {"registrationLevel": "GOLD"})[0] == 400
    assert api.control("/sim/defaults", {"risk": "low"})[0] == 400
    assert api.control("/sim/reset-defaults") == (200, {"registrationLevel": "PLUS"})


def test_the_transaction_list_names_no_one(api: Api):
    api.init(pnr("Sara"))
    auth_ref = api.init(None)[1]["authRef"]
    response = api.http.get("/sim/transactions")
    assert response.status_code == 200 and pnr("Sara") not in response.text
    listed = response.json()["transactions"]
    assert listed[0]["authRef"] == auth_ref and listed[0]["userInfoType"] == "INFERRED"
    assert {t["userInfoType"] for t in listed} == {"SSN", "INFERRED"}


# --- hostile and malformed input --------------------------------------------------------------------------


def form(parameter: str, value: str) -> dict[str, str]:
    return {parameter: value}


INIT = "/authentication/1.0/initAuthentication"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"initAuthRequest": "%%%not-base64"}, 1001),
        ({"initAuthRequest": base64.b64encode(b"not json").decode()}, 1001),
        ({"initAuthRequest": b64([1, 2])}, 1001),
        ({"getOneAuthResultRequest": b64(init_request(None))}, 1001),  # the wrong parameter
        ({"initAuthRequest": b64(init_request(None)), "extra": "1"}, 1001),
        ({"initAuthRequest": b64(init_request(None, userInfoType="EMAIL"))}, 1001),
        ({"initAuthRequest": b64(init_request(None, userInfo="someone"))}, 1002),
        ({"initAuthRequest": b64(init_request("123"))}, 1002),
        ({"initAuthRequest": b64(init_request(None, userInfoType="SSN", userInfo="N/A"))}, 1002),
        ({"initAuthRequest": b64(init_request(None, userInfoType="SSN", userInfo=b64({"ssn": "1" * 12})))}, 1002),
        (
            {"initAuthRequest": b64(init_request("x", userInfo=b64({"country": "NO", "ssn": "198504022396"})))},
            1002,
        ),
        ({"initAuthRequest": b64(init_request(None, minRegistrationLevel="GOLD"))}, 1001),
        ({"initAuthRequest": b64(init_request(None, attributesToReturn=[{"attribute": "SHOE_SIZE"}]))}, 1001),
        ({"initAuthRequest": b64(init_request(None, attributesToReturn="SSN"))}, 1001),
        ({"initAuthRequest": b64(init_request(None, useDynamicQrCode="yes"))}, 1001),
        ({"initAuthRequest": b64(init_request(None, shoeSize=44))}, 1001),
    ],
)
def test_malformed_init_requests_are_refused_with_freja_codes(api: Api, body: dict[str, str], code: int):
    response = api.http.post(INIT, data=body)
    assert response.status_code == 400 and response.json()["code"] == code


def test_raw_bodies_that_are_not_a_form(api: Api):
    valid = b64(init_request(None))
    assert api.http.post(INIT, json={"initAuthRequest": valid}).status_code == 400  # JSON, not a form
    unencoded = f"initAuthRequest={valid}".encode()  # '+' and '/' not percent-encoded: may not decode
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert api.http.post(INIT, content=unencoded, headers=headers).status_code in (200, 400)
    assert api.http.post(INIT, content=b"\xff\xfe\x00garbage", headers=headers).status_code == 400
    assert api.http.post(INIT, content=b"", headers=headers).status_code == 400
    too_big = b"initAuthRequest=" + b"A" * (MAX_BODY_BYTES + 1)
    assert api.http.post(INIT, content=too_big, headers=headers).status_code == 413
    huge = b"A" * (DRAIN_LIMIT_BYTES + 1)  # not even read: the connection closes after the answer
    with contextlib.suppress(httpx.TransportError):  # the server may close before the whole upload left
        assert api.http.post(INIT, content=huge, headers=headers).status_code == 413
    chunked = api.http.post(INIT, content=iter([b"initAuthRequest=", b"x"]), headers=headers)
    assert chunked.status_code == 400 and chunked.headers["connection"] == "close"
    assert api.http.get(INIT).status_code == 405
    assert api.http.post("/authentication/1.0/getResults", data={"x": "y"}).status_code == 404
    assert api.http.get("/nowhere").status_code == 404
    assert api.http.get("/sim/health").json()["ok"] is True


def test_a_lying_content_length_does_not_hang_or_crash_the_server(api: Api):
    host, port = api.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"POST /authentication/1.0/cancel HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
        assert b" 400 " in raw.recv(1024).split(b"\r\n")[0] + b" "
    assert api.http.get("/sim/health").status_code == 200


def test_an_internal_error_answers_500_and_the_server_lives_on(api: Api, sim: Simulator, monkeypatch):
    def explode(request: dict[str, Any]) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(sim, "init_authentication", explode)
    status, error = api.init(pnr("Sara"))
    assert status == 500 and "boom" not in json.dumps(error)
    monkeypatch.undo()
    assert api.init(pnr("Sara"))[0] == 200


# --- lifetimes, in process ---------------------------------------------------------------------------------


def test_orders_expire_after_two_minutes_and_results_are_gone_after_ten(key_dir: Path):
    clock = Clock()
    sim = Simulator(key_dir=key_dir, clock=clock)
    inferred = sim.init_authentication(init_request(None))[1]["authRef"]
    approved = sim.init_authentication(init_request(pnr("Sara")))[1]["authRef"]
    sim.get_one_result({"authRef": approved})
    assert sim.get_one_result({"authRef": approved})[1]["status"] == "APPROVED"
    clock.now += ORDER_LIFETIME_S + 1
    assert sim.get_one_result({"authRef": inferred})[1]["status"] == "EXPIRED"
    assert sim.get_one_result({"authRef": approved})[1]["status"] == "APPROVED"
    assert sim.control(inferred, "approve", {"personalNumber": pnr("Sara")})[0] == 409
    clock.now += RESULT_LIFETIME_S
    for auth_ref in (inferred, approved):
        status, error = sim.get_one_result({"authRef": auth_ref})
        assert status == 400 and error["code"] == 1100


def test_names_follow_the_population_file_and_fall_back_to_test_testsson(tmp_path: Path, key_dir: Path):
    population = tmp_path / "population.json"
    sim = Simulator(key_dir=key_dir, population=population)

    def names(personnummer: str) -> dict[str, str]:
        auth_ref = sim.init_authentication(init_request(personnummer))[1]["authRef"]
        sim.get_one_result({"authRef": auth_ref})
        return dict(sim.get_one_result({"authRef": auth_ref})[1]["requestedAttributes"]["basicUserInfo"])

    def write(text: str) -> None:  # replaced at once, as `python -m local population set` does
        partial = tmp_path / "partial.json"
        partial.write_text(text)
        partial.replace(population)

    assert names(pnr("Sara")) == {"name": "Test", "surname": "Testsson"}  # no file yet
    write(json.dumps({"persons": [{"personnummer": pnr("Sara"), "givenName": "S", "surname": "B"}]}))
    assert names(pnr("Sara")) == {"name": "S", "surname": "B"}
    write("{broken")
    assert names(pnr("Sara")) == {"name": "Test", "surname": "Testsson"}
