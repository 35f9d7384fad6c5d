"""The Freja eID Relying Party API client: authentication with Freja eID Plus.

Freja's API takes one form parameter per call, base64 of UTF-8 JSON (`initAuthRequest=…`), over mutual
TLS in AWS (the client certificate from Secrets Manager) and plain HTTP locally (local/freja_simulator.py).
An APPROVED result counts only through its `details`: a compact JWS (RS256) verified against Freja's
signing certificates, picked by the header's x5t (two per environment, for rotation). Nothing else in
the response is believed.

Imported lazily: httpx costs cold start. The heavy imports (httpx, PyJWT with cryptography) happen inside
the functions, so importing this module for its exceptions and types costs nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import ssl
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError
from chalicelib.core.process import process_wide

if TYPE_CHECKING:
    import httpx

PENDING = frozenset({"STARTED", "DELIVERED_TO_MOBILE"})
FINAL = frozenset({"APPROVED", "REJECTED", "EXPIRED", "CANCELED", "RP_CANCELED"})
REGISTRATION_LEVELS = ("BASIC", "EXTENDED", "PLUS")
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 5.0
_PNR = re.compile(r"[0-9]{12}")

UntrustedReason = Literal["bad-signature", "unknown-x5t", "malformed"]


class FrejaError(Exception):
    """Freja answered with an error code: 1002 invalid userInfo, 1012 no such user, 1100 invalid or
    expired reference, 2000 rejected for security reasons, …"""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(f"Freja eID error {code}")
        self.code = code
        self.message = message[:200]


class FrejaUnavailable(Exception):
    """Freja could not be reached, timed out, failed (5xx) or answered something unreadable."""


class FrejaUntrusted(Exception):
    """An APPROVED result whose JWS does not verify: never log in on it."""

    def __init__(self, reason: UntrustedReason) -> None:
        super().__init__(f"Freja eID result not trusted: {reason}")
        self.reason: UntrustedReason = reason


@dataclass(frozen=True)
class FrejaStarted:
    auth_ref: str
    qr_code_secret: str | None = None  # INFERRED (QR) orders: the secret for the animated QR code


@dataclass(frozen=True)
class FrejaResult:
    """A status; for APPROVED what the verified JWS says (personnummer None: no Swedish SSN in it)."""

    status: str
    personnummer: str | None = None
    given_name: str | None = None
    surname: str | None = None
    registration_level: str | None = None  # BASIC | EXTENDED | PLUS: the caller requires PLUS

    @property
    def pending(self) -> bool:
        return self.status in PENDING


def _b64_json(value: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


class FrejaClient:
    def __init__(
        self, base_url: str, http: httpx.Client, trusted: dict[str, Any], min_registration_level: str = "PLUS"
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.trusted = trusted  # x5t → RSA public key
        self.min_registration_level = min_registration_level

    # -------------------------------------------------------------- calls

    def init(self, personnummer: str | None) -> FrejaStarted:
        """An order for this person (SSN: pushed to their phone), or for whoever scans the QR code (None)."""
        request: dict[str, Any] = {
            "minRegistrationLevel": self.min_registration_level,
            "attributesToReturn": [{"attribute": "SSN"}, {"attribute": "BASIC_USER_INFO"}],
        }
        if personnummer is None:
            request.update(userInfoType="INFERRED", userInfo="N/A", useDynamicQrCode=True)
        else:
            if not _PNR.fullmatch(personnummer):
                raise ValueError("personnummer must be 12 digits")
            request.update(userInfoType="SSN", userInfo=_b64_json({"country": "SE", "ssn": personnummer}))
        answer = self._post("initAuthentication", "initAuthRequest", request)
        auth_ref, secret = answer.get("authRef"), answer.get("qrCodeSecret")
        if not isinstance(auth_ref, str) or not auth_ref or not (secret is None or isinstance(secret, str)):
            raise FrejaUnavailable("initAuthentication: unexpected answer")
        return FrejaStarted(auth_ref, secret)

    def result(self, auth_ref: str) -> FrejaResult:
        """The order's status; APPROVED only with a JWS that verifies (else FrejaUntrusted)."""
        answer = self._post("getOneResult", "getOneAuthResultRequest", {"authRef": auth_ref})
        status = answer.get("status")
        if answer.get("authRef") != auth_ref or not isinstance(status, str) or status not in PENDING | FINAL:
            raise FrejaUnavailable("getOneResult: unexpected answer")
        if status != "APPROVED":
            return FrejaResult(status)
        details = answer.get("details")
        if not isinstance(details, str):
            raise FrejaUntrusted("malformed")
        return self._verified(details, auth_ref)

    def cancel(self, auth_ref: str) -> None:
        """Cancels a pending order (RP_CANCELED); FrejaError(1100) when it is unknown or already final."""
        self._post("cancel", "cancelAuthRequest", {"authRef": auth_ref})

    # -------------------------------------------------------------- transport

    def _post(self, operation: str, parameter: str, request: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = f"{self.base_url}/authentication/1.0/{operation}"
        try:
            response = self.http.post(url, data={parameter: _b64_json(request)})
        except httpx.HTTPError as error:  # transport errors and timeouts
            raise FrejaUnavailable(f"{operation}: {type(error).__name__}") from None
        if response.status_code >= 500:
            raise FrejaUnavailable(f"{operation}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            code = body.get("code") if isinstance(body, dict) else None
            if isinstance(code, int) and not isinstance(code, bool):
                message = body.get("message") if isinstance(body, dict) else None
                raise FrejaError(code, message if isinstance(message, str) else "")
            raise FrejaUnavailable(f"{operation}: HTTP {response.status_code}")
        if response.status_code != 200 or not isinstance(body, dict):
            raise FrejaUnavailable(f"{operation}: unexpected answer")
        return body

    # -------------------------------------------------------------- verification

    def _verified(self, details: str, auth_ref: str) -> FrejaResult:
        import jwt

        try:
            header = jwt.get_unverified_header(details)
        except jwt.PyJWTError:
            raise FrejaUntrusted("malformed") from None
        if header.get("alg") != "RS256":  # none, HS256 (with the public key as secret), …: refused
            raise FrejaUntrusted("bad-signature")
        key = self.trusted.get(header["x5t"]) if isinstance(header.get("x5t"), str) else None
        if key is None:
            raise FrejaUntrusted("unknown-x5t")
        try:
            payload = jwt.decode(details, key, algorithms=["RS256"], options={"verify_aud": False, "require": []})
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError):
            raise FrejaUntrusted("bad-signature") from None
        except jwt.PyJWTError:
            raise FrejaUntrusted("malformed") from None
        if payload.get("authRef") != auth_ref or payload.get("status") != "APPROVED":
            raise FrejaUntrusted("malformed")  # another order's result, replayed
        return _result_from(payload)


def _result_from(payload: dict[str, Any]) -> FrejaResult:
    attributes = payload.get("requestedAttributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    ssns: list[tuple[Any, Any]] = []
    ssn = attributes.get("ssn")
    if ssn is not None:
        if not isinstance(ssn, dict):
            raise FrejaUntrusted("malformed")
        ssns.append((ssn.get("country"), ssn.get("ssn")))
    if payload.get("userInfoType") == "SSN":
        try:
            user_info = json.loads(payload.get("userInfo") or "")
        except (TypeError, ValueError):
            raise FrejaUntrusted("malformed") from None
        if not isinstance(user_info, dict):
            raise FrejaUntrusted("malformed")
        ssns.append((user_info.get("country"), user_info.get("ssn")))
    if any(not isinstance(part, str) for pair in ssns for part in pair) or len(set(ssns)) > 1:
        raise FrejaUntrusted("malformed")  # the payload contradicts itself
    personnummer = None
    if ssns and ssns[0][0] == "SE":  # another country's SSN is no personnummer
        if not _PNR.fullmatch(ssns[0][1]):
            raise FrejaUntrusted("malformed")
        personnummer = ssns[0][1]
    info = attributes.get("basicUserInfo")
    info = info if isinstance(info, dict) else {}
    given, surname, level = info.get("name"), info.get("surname"), payload.get("registrationLevel")
    return FrejaResult(
        status="APPROVED",
        personnummer=personnummer,
        given_name=given if isinstance(given, str) else None,
        surname=surname if isinstance(surname, str) else None,
        registration_level=level if level in REGISTRATION_LEVELS else None,
    )


# ------------------------------------------------------------------ configuration


def x5t_of(der: bytes) -> str:
    """base64url(SHA-1(DER certificate)) without padding: how Freja's JWS header names its certificate."""
    return base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()  # noqa: S324 - x5t is SHA-1


def load_trusted(pems: str | bytes) -> dict[str, Any]:
    """Every certificate in a PEM bundle, keyed by its x5t (the value is its RSA public key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    data = pems.encode() if isinstance(pems, str) else pems
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigurationError("Freja eID: the trusted certificates are not a PEM bundle") from None
    trusted: dict[str, Any] = {}
    for certificate in certificates:
        key = certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            trusted[x5t_of(certificate.public_bytes(serialization.Encoding.DER))] = key
    if not trusted:
        raise ConfigurationError("Freja eID: no RSA certificate among the trusted certificates")
    return trusted


def _write_private(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
        handle.write(text)
    return path


def _secret() -> dict[str, Any]:
    from aws_lambda_powertools.utilities.parameters import get_secret

    raw = get_secret(settings().freja_secret_arn or "", max_age=3600)
    value = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
    if not isinstance(value, dict):
        raise ConfigurationError("Freja eID: the secret is not a JSON object")
    return value


def _tls(secret: dict[str, Any] | None, https: bool) -> ssl.SSLContext | bool:
    """TLS for httpx: the system's CAs plus our client certificate (mTLS) when the secret has one."""
    if not https:
        return True
    if secret is None or not secret.get("clientCertificate") or not secret.get("clientKey"):
        raise ConfigurationError("Freja eID over https needs FREJA_SECRET_ARN with clientCertificate and clientKey")
    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    directory = tempfile.mkdtemp(prefix="freja-")
    context.load_cert_chain(
        _write_private(directory, "client-certificate.pem", str(secret["clientCertificate"])),
        _write_private(directory, "client-key.pem", str(secret["clientKey"])),
    )
    return context


REBUILD_AFTER_S = 3600.0  # the secret's max_age: a newly trusted signing certificate is picked up within the hour


@process_wide
def _cache() -> dict[str, tuple[float, FrejaClient]]:
    return {}


def freja_client() -> FrejaClient:
    """The process's client, rebuilt from config once an hour (Freja rotates its signing certificates:
    the operator adds the new one to the secret before Freja switches, infra/README.md)."""
    import time

    cache = _cache()
    built = cache.get("client")
    if built is None or time.monotonic() - built[0] > REBUILD_AFTER_S:
        built = (time.monotonic(), _build())
        cache["client"] = built
    return built[1]


def _build() -> FrejaClient:
    """From config: FREJA_API_URL, FREJA_TRUSTED_CERTS_PATH and/or FREJA_SECRET_ARN."""
    import httpx

    config = settings()
    secret = _secret() if config.freja_secret_arn else None
    if config.freja_trusted_certs_path:
        with open(config.freja_trusted_certs_path, "rb") as handle:
            trusted = load_trusted(handle.read())
    elif secret is not None and isinstance(secret.get("trustedCertificates"), list):
        trusted = load_trusted("".join(str(pem).strip() + "\n" for pem in secret["trustedCertificates"]))
    else:
        raise ConfigurationError("Freja eID needs FREJA_TRUSTED_CERTS_PATH or FREJA_SECRET_ARN (trustedCertificates)")
    http = httpx.Client(
        verify=_tls(secret, config.freja_api_url.startswith("https://")),
        timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        headers={"Accept": "application/json"},
    )
    return FrejaClient(config.freja_api_url, http, trusted)
