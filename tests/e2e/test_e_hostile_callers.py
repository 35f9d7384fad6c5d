"""Issue 7 over HTTP, as an attacker would try it against the running local stack: odd JWT algorithms,
deeply nested JSON, non-ASCII digits, unrouted methods and idempotent retries. Never a 5xx."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support import pnr

CLINIC = "SE2321000016-1001"
HANDLER = "SE2321000016-S002"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "local-staff-idp",
        "aud": "e-services",
        "hsaId": HANDLER,
        "roles": [{"clinic": CLINIC, "role": "case-handler"}],
        "iat": now,
        "exp": now + 600,
    }


def _raw(http: Any, method: str, path: str, data: bytes | str, headers: dict[str, str] | None = None) -> Any:
    return requests.request(
        method,
        http.base + path,
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=30,
    )


def test_staff_token_with_an_es256_header_is_401_not_500(http: Any) -> None:
    es256 = jwt.encode(_claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    header = _b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    forged = f"{header}.{_b64(json.dumps(_claims()).encode())}.{_b64(b'x' * 64)}"
    for token in (es256, forged):
        for method, path in (("GET", f"/staff/clinics/{CLINIC}/cases?status=open"), ("GET", "/citizens/me/inbox")):
            response = http.call(method, path, token=token)
            assert response.status_code == 401, (path, response.text)
            assert response.headers["Content-Type"] == "application/problem+json"


def test_deeply_nested_json_is_400(http: Any) -> None:
    response = _raw(http, "POST", "/auth/bankid/start", "[" * 50000 + "]" * 50000)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid-json"
    assert _raw(http, "POST", "/auth/bankid/start", b"\xff\xfe{").status_code == 400


def test_personnummer_in_other_digits_is_422(http: Any) -> None:
    for digits in ("１９８５０４０２２３９６", "١٩٨٥٠٤٠٢٢٣٩٦"):
        response = http.call("POST", "/auth/bankid/start", {"personnummer": digits})
        assert response.status_code == 422, response.text


def test_every_unrouted_method_is_405_problem_json(http: Any) -> None:
    for method in ("TRACE", "PROPFIND", "FOO", "DELETE"):
        response = requests.request(method, http.base + "/me", timeout=30)
        assert response.status_code == 405, (method, response.status_code, response.text[:200])
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "method-not-allowed"


def test_answer_retried_with_one_key_is_one_message(http: Any) -> None:
    citizen = http.token_for(pnr("Sara"))
    case = http.call(
        "POST",
        "/citizens/me/cases",
        {"clinicId": CLINIC, "caseTypeId": "fraga-sjukskoterskan", "subject": "Hosta", "body": "Hostar mycket."},
        token=citizen,
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["caseId"]
    staff = http.cli("staff-token", "--hsa-id", HANDLER, "--clinic", CLINIC, "--role", "case-handler").strip()
    answer = {"kind": "answer", "body": "Drick varmt och vila.", "attachmentIds": []}
    headers = {"Authorization": f"Bearer {staff}", "Idempotency-Key": "e2e-answer-1"}
    first = requests.post(f"{http.base}/staff/cases/{case_id}/messages", json=answer, headers=headers, timeout=30)
    second = requests.post(f"{http.base}/staff/cases/{case_id}/messages", json=answer, headers=headers, timeout=30)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    thread = http.call("GET", f"/citizens/me/inbox/{case_id}", token=citizen).json()["case"]["messages"]
    assert [m["body"] for m in thread].count(answer["body"]) == 1
