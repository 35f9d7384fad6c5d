"""Hostile and unlucky callers (issue 7): odd JWT algorithms, deeply nested JSON, non-ASCII digits,
and DynamoDB down or hung. Every answer is a 4xx/503 problem, never a 500, and nothing is written."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.case_helpers import CLINIC, RECEIVER, staff_token
from tests.support import fresh_settings, pnr


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "local-staff-idp",
        "aud": "e-services",
        "hsaId": RECEIVER,
        "name": "Mallory",
        "roles": [{"clinic": CLINIC, "role": "case-receiver"}],
        "iat": now,
        "exp": now + 600,
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims()).encode())}.{_b64(b'x' * 64)}"


def _hostile_tokens() -> dict[str, str]:
    from local.bootstrap import ensure_staff_key

    ec_key = ec.generate_private_key(ec.SECP256R1())
    private = serialization.load_pem_private_key(ensure_staff_key().read_bytes(), password=None)
    public_pem = private.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "es256-own-key": jwt.encode(_claims(), ec_key, algorithm="ES256"),
        "es256-header-rsa-signature": _unsigned({"alg": "ES256", "typ": "JWT"}),
        "none": _unsigned({"alg": "none", "typ": "JWT"}),
        "hs256-public-key-as-secret": _unsigned({"alg": "HS256", "typ": "JWT"}),
        "hs256-signed": jwt.encode(_claims(), public_pem[:64], algorithm="HS256"),
        "ps256-header": _unsigned({"alg": "PS256", "typ": "JWT"}),
        "unknown-alg": _unsigned({"alg": "XYZ", "typ": "JWT"}),
        "header-not-json": f"{_b64(b'{{{')}.{_b64(b'{}')}.{_b64(b'x')}",
        "header-a-list": f"{_b64(b'[1]')}.{_b64(b'{}')}.{_b64(b'x')}",
        "two-parts": "abc.def",
        "kid-injection": _unsigned({"alg": "RS256", "kid": "../../etc/passwd"}),
    }


@pytest.mark.parametrize("name", sorted(_hostile_tokens()))
def test_jwt_with_an_algorithm_the_issuer_does_not_use_is_401(api: Any, name: str) -> None:
    token = _hostile_tokens()[name]
    status, body, headers = api.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=token)
    assert status == 401, (name, body)
    assert headers["content-type"] == "application/problem+json"
    assert body["code"] == "staff-token-invalid"
    # The same on the care-system route and on a citizen route (which first checks for a staff token).
    status, body, _ = api.call("POST", "/contact-details/lookup", {"personnummer": pnr("Sara")}, token=token)
    assert status == 401, (name, body)
    status, body, _ = api.call("GET", "/citizens/me/settings", token=token)
    assert status == 401, (name, body)


def test_the_issuers_own_token_still_works(api: Any) -> None:
    status, _, _ = api.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=staff_token(RECEIVER))
    assert status == 200


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 50000 + "]" * 50000,
        '{"a":' * 20000 + "1" + "}" * 20000,
        '{"personnummer": ' + "[" * 3000 + "]" * 3000 + "}",
        "1" * 5000,  # an integer beyond Python's digit limit
        '{"personnummer": "19850402239' + "\ud800" + '"}',  # a lone surrogate in the body
        '{"personnummer": "198504022396", "x": "\\ud800"}',  # an escaped one
    ],
)
def test_bad_json_of_any_shape_is_a_400_problem(api: Any, raw: str) -> None:
    status, body, headers = api.call("POST", "/auth/bankid/start", raw)
    assert status in (400, 422), body
    assert headers["content-type"] == "application/problem+json"


def test_body_over_the_size_limit_is_413(api: Any) -> None:
    status, body, _ = api.call("POST", "/auth/bankid/start", "[" * 300_000)
    assert status == 413 and body["code"] == "body-too-large"


@pytest.mark.parametrize(
    "digits",
    [
        "１９８５０４０２２３９６",  # full-width
        "١٩٨٥٠٤٠٢٢٣٩٦",  # Arabic-Indic
        "۱۹۸۵۰۴۰۲۲۳۹۶",  # Extended Arabic-Indic
        "১৯৮৫০৪০২২৩৯৬",  # Bengali
        "19850402239６",  # one full-width digit at the end
    ],
)
def test_personnummer_must_be_ascii_digits(api: Any, digits: str) -> None:
    status, body, _ = api.call("POST", "/auth/bankid/start", {"personnummer": digits})
    assert status == 422, body
    assert body["code"] == "invalid-input"
    assert digits not in json.dumps(body, ensure_ascii=False)  # never echoed


@pytest.fixture
def dynamodb_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Points the app's DynamoDB client at another endpoint for one test, then back."""

    def point(url: str) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
        fresh_settings()

    yield point
    monkeypatch.undo()
    fresh_settings()


def test_dynamodb_down_is_503_with_retry_after(api: Any, dynamodb_at: Any) -> None:
    token = api.token_for(pnr("Sara"))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    dynamodb_at(f"http://127.0.0.1:{closed}")
    for method, path, body in (
        ("GET", "/me", None),
        ("GET", "/citizens/me/inbox", None),
        ("POST", "/auth/bankid/start", {}),
        ("POST", f"/citizens/me/cases/{'0' * 36}/messages", {"body": "Hej", "attachmentIds": []}),
    ):
        status, problem, headers = api.call(method, path, body, token=token)
        assert status == 503, (path, problem)
        assert problem["code"] == "service-unavailable"
        assert problem["title"] == "Tjänsten är tillfälligt otillgänglig"
        assert int(headers["retry-after"]) >= 1


class _HungServer:
    """Accepts connections and never answers: a DynamoDB that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self.stopped.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_hung_dynamodb_ends_the_request_with_503(api: Any, dynamodb_at: Any) -> None:
    token = api.token_for(pnr("Sara"))
    server = _HungServer()
    try:
        dynamodb_at(f"http://127.0.0.1:{server.port}")
        status, problem, headers = api.call("GET", "/me", token=token)
    finally:
        server.close()
    assert status == 503, problem
    assert problem["code"] == "service-unavailable" and "retry-after" in headers


def test_a_hung_call_ends_inside_the_api_functions_timeout() -> None:
    """The worst case of one DynamoDB call (every attempt waits for its connect and read timeouts, plus
    standard-mode backoff of at most 1 s, then 2 s... capped by attempts) stays under the 15 s timeout."""
    from chalicelib.core import dynamo

    config = dynamo.client().meta.config
    attempts = config.retries["total_max_attempts"]
    worst = attempts * (config.connect_timeout + config.read_timeout) + sum(min(2**i, 20) for i in range(attempts - 1))
    assert worst < 15, worst


def test_an_id_longer_than_any_key_is_404_not_500(api: Any) -> None:
    """DynamoDB refuses a key over 2 KB with an error: ids are checked before they are read."""
    long_id = "a" * 2100
    handler = staff_token("SE2321000016-S002", [(CLINIC, "case-handler"), (CLINIC, "case-receiver")])
    citizen = api.token_for(pnr("Sara"))
    for method, path, body, token in (
        ("GET", f"/staff/cases/{long_id}", None, handler),
        ("POST", f"/staff/cases/{long_id}/messages", {"kind": "answer", "body": "x"}, handler),
        ("POST", f"/staff/cases/{long_id}/messages", {"kind": "answer", "body": "x"}, handler),
        ("POST", f"/staff/cases/{long_id}/close", None, handler),
        ("POST", f"/staff/cases/{long_id}/assign", {"handlerHsaId": "SE2321000016-S002"}, handler),
        ("POST", f"/citizens/me/cases/{long_id}/messages", {"body": "x"}, citizen),
        ("GET", f"/citizens/me/inbox/{long_id}", None, citizen),
        ("GET", f"/citizens/me/attachments/{long_id}", None, citizen),
    ):
        status, problem, _ = api.call(method, path, body, token=token)
        assert status == 404, (method, path[:40], problem)
    keyed = {"Idempotency-Key": "long-id"}
    status, _, _ = api.call("POST", f"/citizens/me/cases/{long_id}/messages", {"body": "x"}, citizen, keyed)
    assert status == 404
    status, _, _ = api.call("POST", f"/staff/cases/{long_id}/messages", {"kind": "answer", "body": "x"}, handler, keyed)
    assert status == 404
