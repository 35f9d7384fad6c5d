"""The Freja eID client against the simulator (loopback) and against scripted answers: statuses, errors,
and a result believed only through a JWS that verifies against a trusted certificate."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from chalicelib.auth import freja
from chalicelib.auth.freja import (
    FrejaClient,
    FrejaError,
    FrejaResult,
    FrejaStarted,
    FrejaUnavailable,
    FrejaUntrusted,
    load_trusted,
)
from chalicelib.core.errors import ConfigurationError
from local.freja_simulator import TRUSTED_FILE, Simulator, load_or_create_keys, new_signing_key, serve
from local.paths import ROOT
from local.services import free_port
from tests.support import fresh_settings, pnr


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("freja-keys")
    load_or_create_keys(directory)
    return directory


@pytest.fixture
def sim(key_dir: Path) -> Simulator:
    return Simulator(key_dir=key_dir, population=ROOT / "testdata" / "population.json")


@pytest.fixture
def base(sim: Simulator) -> Iterator[str]:
    server, thread = serve(0, sim)
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def client(base: str, sim: Simulator) -> Iterator[FrejaClient]:
    http = httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0))
    yield FrejaClient(base, http, load_trusted(sim.trusted_pem()))
    http.close()


def control(base: str, auth_ref: str, action: str, body: dict[str, Any] | None = None) -> None:
    response = httpx.post(f"{base}/sim/transactions/{auth_ref}/{action}", json=body or {}, timeout=5)
    assert response.status_code == 200, response.text


def inferred_approved(client: FrejaClient, base: str, **approve: Any) -> FrejaResult:
    started = client.init(None)
    control(base, started.auth_ref, "approve", {"personalNumber": pnr("Sara"), **approve})
    return client.result(started.auth_ref)


# --- against the simulator ---------------------------------------------------------------------------------


def test_ssn_login_is_delivered_then_approved_with_a_verified_personnummer_and_names(client: FrejaClient):
    started = client.init(pnr("Sara"))
    assert isinstance(started, FrejaStarted) and started.auth_ref and started.qr_code_secret is None
    pending = client.result(started.auth_ref)
    assert pending == FrejaResult("DELIVERED_TO_MOBILE") and pending.pending
    done = client.result(started.auth_ref)
    assert done == FrejaResult("APPROVED", pnr("Sara"), "Sara", "Berg", "PLUS")
    assert not done.pending


def test_qr_login_waits_until_the_person_approves(client: FrejaClient, base: str):
    started = client.init(None)
    assert started.qr_code_secret
    assert client.result(started.auth_ref).status == "DELIVERED_TO_MOBILE"
    assert client.result(started.auth_ref).status == "DELIVERED_TO_MOBILE"
    control(base, started.auth_ref, "approve", {"personalNumber": pnr("Anna")})
    assert client.result(started.auth_ref) == FrejaResult("APPROVED", pnr("Anna"), "Anna", "Andersson", "PLUS")


@pytest.mark.parametrize(
    ("action", "status"), [("expire", "EXPIRED"), ("reject", "REJECTED"), ("cancel-by-user", "CANCELED")]
)
def test_orders_that_end_without_approval(client: FrejaClient, base: str, action: str, status: str):
    started = client.init(pnr("Sara"))
    control(base, started.auth_ref, action)
    assert client.result(started.auth_ref) == FrejaResult(status)


def test_a_concurrent_login_rejects_the_older_order(client: FrejaClient):
    first = client.init(pnr("Sara"))
    client.init(pnr("Sara"))
    assert client.result(first.auth_ref).status == "REJECTED"


def test_cancel_then_the_reference_is_spent(client: FrejaClient):
    started = client.init(None)
    client.cancel(started.auth_ref)
    assert client.result(started.auth_ref).status == "RP_CANCELED"
    with pytest.raises(FrejaError) as error:
        client.cancel(started.auth_ref)
    assert error.value.code == 1100


def test_an_unknown_reference_is_error_1100(client: FrejaClient):
    with pytest.raises(FrejaError) as error:
        client.result("no-such-reference")
    assert error.value.code == 1100 and error.value.message


def test_a_tampered_jws_is_a_bad_signature(client: FrejaClient, base: str):
    with pytest.raises(FrejaUntrusted) as error:
        inferred_approved(client, base, tamper=True)
    assert error.value.reason == "bad-signature"


def test_a_jws_from_an_unknown_certificate_is_refused(client: FrejaClient, base: str):
    with pytest.raises(FrejaUntrusted) as error:
        inferred_approved(client, base, signWith="unknown")
    assert error.value.reason == "unknown-x5t"


def test_the_second_signing_certificate_verifies_too(client: FrejaClient, base: str):
    """Freja has two signing certificates per environment: a rotation must not stop logins."""
    assert inferred_approved(client, base, signWith="2").personnummer == pnr("Sara")


def test_trusting_only_certificate_1_refuses_certificate_2(base: str, key_dir: Path):
    only_1 = load_trusted((key_dir / "freja-signing-1.pem").read_bytes())
    with httpx.Client(timeout=5) as http:
        client = FrejaClient(base, http, only_1)
        with pytest.raises(FrejaUntrusted) as error:
            inferred_approved(client, base, signWith="2")
    assert error.value.reason == "unknown-x5t"


def test_a_basic_registration_level_is_reported_as_such(client: FrejaClient, base: str):
    """The service refuses anything below PLUS; the client only says what Freja said."""
    assert inferred_approved(client, base, registrationLevel="BASIC").registration_level == "BASIC"


def test_an_invalid_personnummer_never_leaves(client: FrejaClient):
    for wrong in ("19850402239", "1985040223961", "19850402-2396", "abcdefghijkl"):
        with pytest.raises(ValueError):
            client.init(wrong)


def test_a_simulator_that_is_down_is_unavailable():
    with httpx.Client(timeout=httpx.Timeout(2.0, connect=1.0)) as http:
        client = FrejaClient(f"http://127.0.0.1:{free_port()}", http, {})
        with pytest.raises(FrejaUnavailable):
            client.init(pnr("Sara"))


# --- scripted answers ---------------------------------------------------------------------------------------


def scripted(handler: Callable[[httpx.Request], httpx.Response], trusted: dict[str, Any] | None = None) -> FrejaClient:
    return FrejaClient("https://freja.test", httpx.Client(transport=httpx.MockTransport(handler)), trusted or {})


def form_json(request: httpx.Request) -> tuple[str, dict[str, Any]]:
    from urllib.parse import parse_qs

    ((parameter, (value,)),) = parse_qs(request.content.decode()).items()
    return parameter, json.loads(base64.b64decode(value))


def test_the_wire_format_of_each_call():
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        parameter, body = form_json(request)
        seen.append((request.url.path, parameter, body))
        if request.url.path.endswith("initAuthentication"):
            return httpx.Response(200, json={"authRef": "ref-1"})
        if request.url.path.endswith("getOneResult"):
            return httpx.Response(200, json={"authRef": "ref-1", "status": "STARTED"})
        return httpx.Response(200, json={})

    client = scripted(handler)
    client.init(pnr("Sara"))
    client.init(None)
    assert client.result("ref-1") == FrejaResult("STARTED")
    client.cancel("ref-1")
    (path, parameter, ssn), (_, _, inferred), result, cancel = seen
    assert (path, parameter) == ("/authentication/1.0/initAuthentication", "initAuthRequest")
    assert ssn["userInfoType"] == "SSN" and ssn["minRegistrationLevel"] == "PLUS"
    assert json.loads(base64.b64decode(ssn["userInfo"])) == {"country": "SE", "ssn": pnr("Sara")}
    assert ssn["attributesToReturn"] == [{"attribute": "SSN"}, {"attribute": "BASIC_USER_INFO"}]
    assert "useDynamicQrCode" not in ssn
    assert (inferred["userInfoType"], inferred["userInfo"], inferred["useDynamicQrCode"]) == ("INFERRED", "N/A", True)
    assert result == ("/authentication/1.0/getOneResult", "getOneAuthResultRequest", {"authRef": "ref-1"})
    assert cancel == ("/authentication/1.0/cancel", "cancelAuthRequest", {"authRef": "ref-1"})


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, json={"code": 2000, "message": "internal"}),
        httpx.Response(503, text="maintenance"),
        httpx.Response(403, text="<html>forbidden</html>"),  # no Freja code: a proxy, a TLS gateway
        httpx.Response(200, text="not json"),
        httpx.Response(200, json=["a list"]),
        httpx.Response(200, json={"authRef": "other", "status": "APPROVED"}),
        httpx.Response(200, json={"authRef": "ref-1", "status": "PONDERING"}),
        httpx.Response(204),
    ],
)
def test_failures_and_nonsense_are_unavailable(response: httpx.Response):
    with pytest.raises(FrejaUnavailable):
        scripted(lambda request: response).result("ref-1")


@pytest.mark.parametrize("error", [httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slow"), httpx.ConnectError("no")])
def test_timeouts_and_transport_errors_are_unavailable(error: Exception):
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(FrejaUnavailable):
        scripted(handler).init(pnr("Sara"))


@pytest.mark.parametrize(("code", "status"), [(1002, 400), (1012, 422), (2000, 400)])
def test_freja_error_codes_are_freja_errors(code: int, status: int):
    client = scripted(lambda request: httpx.Response(status, json={"code": code, "message": "m"}))
    with pytest.raises(FrejaError) as error:
        client.init(pnr("Sara"))
    assert error.value.code == code


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def approved_with(details: Any, auth_ref: str = "ref-1") -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, json={"authRef": auth_ref, "status": "APPROVED", "details": details})


def payload_for(auth_ref: str = "ref-1", **changes: Any) -> dict[str, Any]:
    return {
        "authRef": auth_ref,
        "status": "APPROVED",
        "userInfoType": "SSN",
        "userInfo": json.dumps({"country": "SE", "ssn": pnr("Sara")}),
        "minRegistrationLevel": "PLUS",
        "registrationLevel": "PLUS",
        "requestedAttributes": {
            "basicUserInfo": {"name": "Sara", "surname": "Berg"},
            "ssn": {"ssn": pnr("Sara"), "country": "SE"},
        },
        "timestamp": 1_800_000_000_000,
        **changes,
    }


def signed(sim: Simulator, payload: dict[str, Any], number: str = "1") -> str:
    import jwt

    key = sim.keys[number]
    return jwt.encode(payload, key.key, algorithm="RS256", headers={"x5t": key.x5t})


def test_alg_none_and_hs256_with_the_public_key_are_refused(sim: Simulator):
    trusted = load_trusted(sim.trusted_pem())
    x5t = sim.keys["1"].x5t
    body = b64url(json.dumps(payload_for()).encode())
    none = f"{b64url(json.dumps({'alg': 'none', 'x5t': x5t}).encode())}.{body}."
    public_pem = (
        sim.keys["1"]
        .key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    hs_header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "x5t": x5t}).encode())
    mac = hmac.new(public_pem, f"{hs_header}.{body}".encode(), hashlib.sha256).digest()
    hs256 = f"{hs_header}.{body}.{b64url(mac)}"
    for token in (none, hs256):
        with pytest.raises(FrejaUntrusted) as error:
            scripted(approved_with(token), trusted).result("ref-1")
        assert error.value.reason == "bad-signature"


def test_a_valid_jws_of_another_order_is_refused(sim: Simulator):
    client = scripted(approved_with(signed(sim, payload_for("ref-2"))), load_trusted(sim.trusted_pem()))
    with pytest.raises(FrejaUntrusted) as error:
        client.result("ref-1")
    assert error.value.reason == "malformed"


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "REJECTED"},
        {"userInfo": "not json"},
        {"userInfo": json.dumps({"country": "SE", "ssn": pnr("Anna")})},  # contradicts requestedAttributes
        {"requestedAttributes": {"ssn": {"ssn": "12345", "country": "SE"}}, "userInfoType": "INFERRED"},
        {"requestedAttributes": {"ssn": {"ssn": ["list"], "country": "SE"}}, "userInfoType": "INFERRED"},
        {"requestedAttributes": {"ssn": "198504022396"}, "userInfoType": "INFERRED"},
    ],
)
def test_signed_but_inconsistent_payloads_are_malformed(sim: Simulator, changes: dict[str, Any]):
    client = scripted(approved_with(signed(sim, payload_for(**changes))), load_trusted(sim.trusted_pem()))
    with pytest.raises(FrejaUntrusted) as error:
        client.result("ref-1")
    assert error.value.reason == "malformed"


@pytest.mark.parametrize("details", [None, 42, "not-a-jws", "a.b.c"])
def test_approved_without_a_readable_jws_is_malformed(sim: Simulator, details: Any):
    with pytest.raises(FrejaUntrusted) as error:
        scripted(approved_with(details), load_trusted(sim.trusted_pem())).result("ref-1")
    assert error.value.reason == "malformed"


def test_another_countrys_ssn_is_no_personnummer(sim: Simulator):
    norwegian = {"ssn": "01019012345", "country": "NO"}
    payload = payload_for(userInfoType="INFERRED", userInfo="N/A", requestedAttributes={"ssn": norwegian})
    result = scripted(approved_with(signed(sim, payload)), load_trusted(sim.trusted_pem())).result("ref-1")
    assert result == FrejaResult("APPROVED", None, None, None, "PLUS")


# --- configuration -------------------------------------------------------------------------------------------


def test_load_trusted_keys_every_certificate_by_x5t(sim: Simulator):
    trusted = load_trusted(sim.trusted_pem())
    assert set(trusted) == {sim.keys["1"].x5t, sim.keys["2"].x5t}
    with pytest.raises(ConfigurationError):
        load_trusted(b"not a certificate")


def test_freja_client_from_the_local_environment(monkeypatch: pytest.MonkeyPatch, base: str, key_dir: Path):
    monkeypatch.setenv("FREJA_API_URL", base)
    monkeypatch.setenv("FREJA_TRUSTED_CERTS_PATH", str(key_dir / TRUSTED_FILE))
    monkeypatch.delenv("FREJA_SECRET_ARN", raising=False)
    fresh_settings()
    client = freja.freja_client()
    assert freja.freja_client() is client
    started = client.init(pnr("Sara"))
    client.result(started.auth_ref)
    assert client.result(started.auth_ref).personnummer == pnr("Sara")
    fresh_settings()


def test_freja_client_configuration_errors(monkeypatch: pytest.MonkeyPatch, key_dir: Path):
    monkeypatch.delenv("FREJA_SECRET_ARN", raising=False)
    monkeypatch.delenv("FREJA_TRUSTED_CERTS_PATH", raising=False)
    monkeypatch.setenv("FREJA_API_URL", "http://127.0.0.1:9")
    fresh_settings()
    with pytest.raises(ConfigurationError):  # nothing to trust
        freja.freja_client()
    monkeypatch.setenv("FREJA_TRUSTED_CERTS_PATH", str(key_dir / TRUSTED_FILE))
    monkeypatch.setenv("FREJA_API_URL", "https://services.test.frejaeid.com")
    fresh_settings()
    with pytest.raises(ConfigurationError):  # https without a client certificate
        freja.freja_client()
    fresh_settings()


def test_freja_client_from_the_secret_uses_mutual_tls(monkeypatch: pytest.MonkeyPatch, sim: Simulator):
    client_key = new_signing_key("relying party")
    secret = {
        "clientCertificate": client_key.certificate_pem.decode(),
        "clientKey": client_key.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "trustedCertificates": [sim.keys["1"].certificate_pem.decode(), sim.keys["2"].certificate_pem.decode()],
    }
    monkeypatch.setenv("FREJA_SECRET_ARN", "arn:aws:secretsmanager:eu-north-1:123456789012:secret:freja")
    monkeypatch.delenv("FREJA_TRUSTED_CERTS_PATH", raising=False)
    monkeypatch.delenv("FREJA_API_URL", raising=False)
    monkeypatch.setattr(freja, "_secret", lambda: secret)
    loaded: list[tuple[str, str]] = []
    real = freja._tls

    def spy(found: dict[str, Any] | None, https: bool) -> Any:
        context = real(found, https)
        loaded.append((found or {}).get("clientCertificate", ""))
        return context

    monkeypatch.setattr(freja, "_tls", spy)
    fresh_settings()
    client = freja.freja_client()
    assert client.base_url == "https://services.prod.frejaeid.com"
    assert set(client.trusted) == {sim.keys["1"].x5t, sim.keys["2"].x5t}
    assert loaded == [secret["clientCertificate"]]
    fresh_settings()


def test_the_client_is_rebuilt_after_an_hour_to_pick_up_new_signing_certificates(
    monkeypatch: pytest.MonkeyPatch, base: str, key_dir: Path
):
    import time

    monkeypatch.setenv("FREJA_API_URL", base)
    monkeypatch.setenv("FREJA_TRUSTED_CERTS_PATH", str(key_dir / TRUSTED_FILE))
    monkeypatch.delenv("FREJA_SECRET_ARN", raising=False)
    fresh_settings()
    now = [time.monotonic()]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    first = freja.freja_client()
    now[0] += freja.REBUILD_AFTER_S - 1
    assert freja.freja_client() is first
    now[0] += 2
    assert freja.freja_client() is not first
    fresh_settings()
