"""A Freja eID Relying Party API simulator (authentication) for the local stack and tests.

Speaks Freja's HTTP API over plain HTTP on loopback (mTLS is production-only): the body of each call
is one form parameter holding base64 of UTF-8 JSON.

  POST /authentication/1.0/initAuthentication  initAuthRequest=…          → {"authRef"[, "qrCodeSecret"]}
  POST /authentication/1.0/getOneResult        getOneAuthResultRequest=…  → {"authRef", "status"[, "details", …]}
  POST /authentication/1.0/cancel              cancelAuthRequest=…        → {}

An SSN order answers DELIVERED_TO_MOBILE on its first getOneResult and APPROVED on the second (with the
registration level of `/sim/defaults`, PLUS unless changed: even below the order's minimum, so the service's
own check can be tested). An INFERRED (QR) order stays DELIVERED_TO_MOBILE until told. Unanswered orders
expire after 2 minutes (EXPIRED); a result can be fetched for 10 minutes, then the reference is unknown
(1100). A second SSN order for the same person while one is pending rejects the older one (REJECTED).

`details` is a compact JWS (RS256, header x5t = base64url(SHA-1(DER certificate))), signed with key #1
of two kept in `--key-dir` (`freja-signing-{1,2}.pem/.key`); `freja-trusted.pem` holds both certificates
(what the API trusts locally). Control endpoints (loopback, no auth; JSON bodies):

  GET  /sim/health
  GET  /sim/transactions                            pending and finished orders, newest first (no personnummer)
  POST /sim/transactions/{authRef}/approve          {"personalNumber"?, "registrationLevel"?,
                                                     "signWith"?: "1"|"2"|"unknown", "tamper"?: bool}
  POST /sim/transactions/{authRef}/reject | expire | cancel-by-user
  POST /sim/defaults                                {"registrationLevel"}: what auto-approved SSN orders get
  POST /sim/reset-defaults

Names in basicUserInfo come from `--population` (testdata/population.json's shape, read again when it
changes), else "Test"/"Testsson". Request bodies are never logged. Only test personnummer are sent here.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ORDER_LIFETIME_S = 120  # the user has two minutes to confirm
RESULT_LIFETIME_S = 600  # results can be fetched for ten minutes
MAX_BODY_BYTES = 64 * 1024
DRAIN_LIMIT_BYTES = 1024 * 1024  # a larger body is not read at all: the connection is closed instead
MAX_ORDERS = 100_000  # a runaway client cannot exhaust memory: the oldest orders go first

PENDING = frozenset({"STARTED", "DELIVERED_TO_MOBILE"})
LEVELS = ("BASIC", "EXTENDED", "PLUS")
TRUSTED_FILE = "freja-trusted.pem"
PNR = re.compile(r"[0-9]{12}")
# Fields Freja's initAuthRequest knows (anything else is refused as a malformed request).
INIT_FIELDS = frozenset(
    {
        "userInfoType",
        "userInfo",
        "askForBasicUserInfo",
        "askForSSN",
        "minRegistrationLevel",
        "attributesToReturn",
        "relyingPartyId",
        "orgIdIssuer",
        "useDynamicQrCode",
        "userConfirmationMethod",
        "title",
        "pushNotification",
    }
)
ATTRIBUTES = frozenset(
    {
        "BASIC_USER_INFO",
        "EMAIL_ADDRESS",
        "ALL_EMAIL_ADDRESSES",
        "ALL_PHONE_NUMBERS",
        "DATE_OF_BIRTH",
        "AGE",
        "PHOTO",
        "SSN",
        "ADDRESSES",
        "REGISTRATION_LEVEL",
        "RELYING_PARTY_USER_ID",
        "INTEGRATOR_SPECIFIC_USER_ID",
        "CUSTOM_IDENTIFIER",
        "DOCUMENT",
        "DOCUMENT_PHOTO",
        "COVID_CERTIFICATES",
        "ORGANISATION_ID_IDENTIFIER",
        "CHILDREN_INFO",
        "NETWORK_INFO",
    }
)

Answer = tuple[int, dict[str, Any]]


def _error(code: int, message: str, status: int = 400) -> Answer:
    return status, {"code": code, "message": message}


MALFORMED = _error(1001, "Invalid or missing request.")
INVALID_USER_INFO = _error(1002, "Invalid user info.")
UNKNOWN_REFERENCE = _error(1100, "Invalid reference (for example, nonexistent or expired).")


# ------------------------------------------------------------------ keys


@dataclass(frozen=True)
class SigningKey:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def x5t(self) -> str:
        return x5t_of(self.certificate)

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def x5t_of(certificate: x509.Certificate) -> str:
    """base64url(SHA-1(DER certificate)), unpadded: the JWS header's x5t."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()  # x5t is SHA-1 by definition


def new_signing_key(common_name: str) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(key, certificate)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as handle:
        handle.write(data)
    partial.replace(path)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Several stacks may start at once against the same key directory: one creates, the others read."""
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_or_create_keys(key_dir: Path) -> dict[str, SigningKey]:
    """Keys #1 and #2 from `key_dir` (created if missing), and `freja-trusted.pem` with both certificates."""
    key_dir.mkdir(parents=True, exist_ok=True)
    keys: dict[str, SigningKey] = {}
    with _locked(key_dir):
        for number in ("1", "2"):
            cert_path, key_path = key_dir / f"freja-signing-{number}.pem", key_dir / f"freja-signing-{number}.key"
            if cert_path.exists() and key_path.exists():
                # Our own key, written above by an earlier start: its (slow) consistency check is skipped.
                key = serialization.load_pem_private_key(
                    key_path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
                )
                if not isinstance(key, rsa.RSAPrivateKey):
                    raise SystemExit(f"{key_path} is not an RSA key")
                keys[number] = SigningKey(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
                continue
            signing = new_signing_key(f"Freja eID simulator signing {number}")
            private = signing.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            _write_atomically(key_path, private, 0o600)
            _write_atomically(cert_path, signing.certificate_pem, 0o644)
            keys[number] = signing
        trusted = b"".join(keys[number].certificate_pem for number in ("1", "2"))
        path = key_dir / TRUSTED_FILE
        if not path.exists() or path.read_bytes() != trusted:
            _write_atomically(path, trusted, 0o644)
    return keys


# ------------------------------------------------------------------ population


class Population:
    """Names by personnummer from a population file, read again when it changes (missing: none)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.stamp: tuple[int, int, int] | None = None
        self.names: dict[str, tuple[str, str]] = {}

    def name_of(self, personnummer: str) -> tuple[str, str]:
        if self.path is not None:
            try:
                stat = self.path.stat()
                stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                if stamp != self.stamp:
                    self.names = _names(json.loads(self.path.read_text(encoding="utf-8")))
                    self.stamp = stamp
            except (OSError, ValueError):
                self.names, self.stamp = {}, None
        return self.names.get(personnummer, ("Test", "Testsson"))


def _names(data: Any) -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    persons = data.get("persons") if isinstance(data, dict) else None
    for person in persons if isinstance(persons, list) else []:
        if not isinstance(person, dict):
            continue
        pnr, given, surname = person.get("personnummer"), person.get("givenName"), person.get("surname")
        if isinstance(pnr, str) and isinstance(given, str) and isinstance(surname, str):
            names[pnr] = (given, surname)
    return names


# ------------------------------------------------------------------ the simulator


@dataclass
class Order:
    auth_ref: str
    user_info_type: str  # SSN | INFERRED
    ssn: str | None
    min_level: str
    attributes: frozenset[str]
    qr_code_secret: str | None
    created: float
    polls: int = 0
    status: str = "STARTED"
    details: str | None = None
    requested_attributes: dict[str, Any] | None = None


@dataclass
class Defaults:
    registration_level: str = "PLUS"


@dataclass
class Simulator:
    """The simulator's state; `key_dir` None keeps the keys in memory only (tests: `trusted_pem()`)."""

    key_dir: Path | None = None
    population: Path | None = None
    clock: Callable[[], float] = time.time
    orders: dict[str, Order] = field(default_factory=dict)
    defaults: Defaults = field(default_factory=Defaults)
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[str, SigningKey] = field(init=False)
    names: Population = field(init=False)

    def __post_init__(self) -> None:
        if self.key_dir is not None:
            self.keys = load_or_create_keys(self.key_dir)
        else:
            self.keys = {number: new_signing_key(f"Freja eID simulator signing {number}") for number in ("1", "2")}
        self.names = Population(self.population)
        self._untrusted: SigningKey | None = None

    def trusted_pem(self) -> bytes:
        """Both signing certificates: what a relying party trusts (also `freja-trusted.pem`)."""
        return b"".join(self.keys[number].certificate_pem for number in ("1", "2"))

    def untrusted_key(self) -> SigningKey:
        if self._untrusted is None:
            self._untrusted = new_signing_key("Not Freja eID")
        return self._untrusted

    # -------------------------------------------------------------- the Freja API

    def init_authentication(self, request: dict[str, Any]) -> Answer:
        if set(request) - INIT_FIELDS:
            return MALFORMED
        kind = request.get("userInfoType")
        if kind not in ("SSN", "INFERRED"):
            return MALFORMED  # EMAIL, PHONE, … are real but not simulated
        ssn = None
        if kind == "SSN":
            ssn = _ssn_from_user_info(request.get("userInfo"))
            if ssn is None:
                return INVALID_USER_INFO
        elif request.get("userInfo") != "N/A":
            return INVALID_USER_INFO
        level = request.get("minRegistrationLevel", "BASIC")
        if level not in LEVELS:
            return MALFORMED
        attributes = _attributes(request.get("attributesToReturn", []))
        dynamic_qr = request.get("useDynamicQrCode", False)
        if attributes is None or not isinstance(dynamic_qr, bool):
            return MALFORMED
        order = Order(
            auth_ref=secrets.token_urlsafe(36),
            user_info_type=kind,
            ssn=ssn,
            min_level=level,
            attributes=attributes,
            qr_code_secret=secrets.token_urlsafe(24) if dynamic_qr else None,
            created=self.clock(),
        )
        with self.lock:
            self._forget_old()
            if ssn is not None:
                for other in self.orders.values():
                    if other.ssn == ssn and other.status in PENDING:
                        other.status = "REJECTED"  # as Freja does with concurrent authentications
            self.orders[order.auth_ref] = order
        answer: dict[str, Any] = {"authRef": order.auth_ref}
        if order.qr_code_secret is not None:
            answer["qrCodeSecret"] = order.qr_code_secret
        return 200, answer

    def get_one_result(self, request: dict[str, Any]) -> Answer:
        if set(request) != {"authRef"}:
            return MALFORMED
        with self.lock:
            order = self._order(request["authRef"])
            if order is None:
                return UNKNOWN_REFERENCE
            order.polls += 1
            if order.status in PENDING:
                order.status = "DELIVERED_TO_MOBILE"
            if order.status in PENDING and order.ssn is not None and order.polls > 1:
                self._approve(order, order.ssn, self.defaults.registration_level, "1", tamper=False)
            answer: dict[str, Any] = {"authRef": order.auth_ref, "status": order.status}
            if order.status == "APPROVED":
                answer["details"] = order.details
                answer["requestedAttributes"] = order.requested_attributes
            return 200, answer

    def cancel(self, request: dict[str, Any]) -> Answer:
        if set(request) != {"authRef"}:
            return MALFORMED
        with self.lock:
            order = self._order(request["authRef"])
            if order is None or order.status not in PENDING:
                return UNKNOWN_REFERENCE
            order.status = "RP_CANCELED"
        return 200, {}

    def _order(self, auth_ref: Any) -> Order | None:
        """The order by reference, its expiry applied; None when unknown or past its result lifetime."""
        order = self.orders.get(auth_ref) if isinstance(auth_ref, str) else None
        if order is None:
            return None
        age = self.clock() - order.created
        if age > RESULT_LIFETIME_S:
            del self.orders[order.auth_ref]
            return None
        if order.status in PENDING and age > ORDER_LIFETIME_S:
            order.status = "EXPIRED"
        return order

    def _forget_old(self) -> None:
        now = self.clock()
        for ref in [ref for ref, order in self.orders.items() if now - order.created > RESULT_LIFETIME_S]:
            del self.orders[ref]
        while len(self.orders) >= MAX_ORDERS:
            del self.orders[next(iter(self.orders))]

    def _approve(self, order: Order, ssn: str, level: str, sign_with: str, *, tamper: bool) -> None:
        given, surname = self.names.name_of(ssn)
        attributes: dict[str, Any] = {}
        if "BASIC_USER_INFO" in order.attributes:
            attributes["basicUserInfo"] = {"name": given, "surname": surname}
        if "SSN" in order.attributes:
            attributes["ssn"] = {"ssn": ssn, "country": "SE"}
        user_info = json.dumps({"country": "SE", "ssn": ssn}) if order.user_info_type == "SSN" else "N/A"
        timestamp = int(self.clock() * 1000)
        payload: dict[str, Any] = {
            "authRef": order.auth_ref,
            "status": "APPROVED",
            "userInfoType": order.user_info_type,
            "userInfo": user_info,
            "minRegistrationLevel": order.min_level,
            "registrationLevel": level,
            "requestedAttributes": attributes,
            "timestamp": timestamp,
        }
        key = self.untrusted_key() if sign_with == "unknown" else self.keys[sign_with]
        details = jwt.encode(payload, key.key, algorithm="RS256", headers={"x5t": key.x5t})
        if tamper:  # the signature stays, the payload says something else
            header, _, signature = details.split(".")
            changed = {**payload, "registrationLevel": "PLUS", "timestamp": timestamp + 1}
            body = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
            details = f"{header}.{body}.{signature}"
        order.status, order.details, order.requested_attributes = "APPROVED", details, attributes

    # -------------------------------------------------------------- control

    def control(self, auth_ref: str, action: str, body: dict[str, Any]) -> Answer:
        if action == "approve":
            allowed = {"personalNumber", "registrationLevel", "signWith", "tamper"}
        elif action in ("reject", "expire", "cancel-by-user"):
            allowed = set()
        else:
            return 404, {"error": "unknown action"}
        if set(body) - allowed:
            return 400, {"error": f"unknown fields; allowed: {sorted(allowed)}"}
        with self.lock:
            order = self._order(auth_ref)
            if order is None:
                return 404, {"error": "no such transaction"}
            if order.status not in PENDING:
                return 409, {"error": "the transaction is not pending", "status": order.status}
            if action == "approve":
                pnr = body.get("personalNumber", order.ssn)
                if not isinstance(pnr, str) or not PNR.fullmatch(pnr):
                    return 400, {"error": "personalNumber (12 digits) is required"}
                level = body.get("registrationLevel", self.defaults.registration_level)
                if level not in LEVELS:
                    return 400, {"error": f"registrationLevel is one of {list(LEVELS)}"}
                sign_with = body.get("signWith", "1")
                if sign_with not in ("1", "2", "unknown"):
                    return 400, {"error": 'signWith is "1", "2" or "unknown"'}
                tamper = body.get("tamper", False)
                if not isinstance(tamper, bool):
                    return 400, {"error": "tamper is a boolean"}
                self._approve(order, pnr, level, sign_with, tamper=tamper)
            else:
                order.status = {"reject": "REJECTED", "expire": "EXPIRED", "cancel-by-user": "CANCELED"}[action]
            return 200, {"authRef": order.auth_ref, "status": order.status}

    def set_defaults(self, body: dict[str, Any]) -> Answer:
        if set(body) - {"registrationLevel"}:
            return 400, {"error": "only registrationLevel can be set"}
        level = body.get("registrationLevel", self.defaults.registration_level)
        if level not in LEVELS:
            return 400, {"error": f"registrationLevel is one of {list(LEVELS)}"}
        with self.lock:
            self.defaults.registration_level = level
        return 200, {"registrationLevel": level}

    def reset_defaults(self, body: dict[str, Any]) -> Answer:
        with self.lock:
            self.defaults = Defaults()
        return 200, {"registrationLevel": self.defaults.registration_level}

    def transactions(self) -> Answer:
        with self.lock:
            for ref in list(self.orders):
                self._order(ref)
            listed = [
                {
                    "authRef": order.auth_ref,
                    "userInfoType": order.user_info_type,
                    "status": order.status,
                    "qrCodeSecret": order.qr_code_secret,
                }
                for order in sorted(self.orders.values(), key=lambda order: order.created, reverse=True)
            ]
        return 200, {"transactions": listed}

    def health(self) -> Answer:
        return 200, {"ok": True, "orders": len(self.orders), "trusted": [key.x5t for key in self.keys.values()]}


def _ssn_from_user_info(user_info: Any) -> str | None:
    decoded = _b64_json(user_info)
    if not isinstance(decoded, dict) or set(decoded) != {"country", "ssn"} or decoded["country"] != "SE":
        return None
    ssn = decoded["ssn"]
    return ssn if isinstance(ssn, str) and PNR.fullmatch(ssn) else None


def _attributes(value: Any) -> frozenset[str] | None:
    if not isinstance(value, list):
        return None
    names = set()
    for item in value:
        if not isinstance(item, dict) or set(item) != {"attribute"} or item["attribute"] not in ATTRIBUTES:
            return None
        names.add(item["attribute"])
    return frozenset(names)


def _b64_json(value: Any) -> Any:
    """The JSON in a base64 string (standard alphabet, padded), or None."""
    if not isinstance(value, str) or len(value) > MAX_BODY_BYTES:
        return None
    try:
        return json.loads(base64.b64decode(value, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError):
        return None


# ------------------------------------------------------------------ HTTP

API = {
    "/authentication/1.0/initAuthentication": ("initAuthRequest", "init_authentication"),
    "/authentication/1.0/getOneResult": ("getOneAuthResultRequest", "get_one_result"),
    "/authentication/1.0/cancel": ("cancelAuthRequest", "cancel"),
}


def parse_form(body: bytes, parameter: str) -> dict[str, Any] | None:
    """The JSON object in `parameter=<base64 JSON>`, the only parameter of a form body; else None."""
    try:
        fields = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=True, max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get(parameter)
    if set(fields) != {parameter} or values is None or len(values) != 1:
        return None
    decoded = _b64_json(values[0])
    return decoded if isinstance(decoded, dict) else None


def make_handler(simulator: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Headers and body go out in separate writes: without this, Nagle holds the body ~40 ms.
        disable_nagle_algorithm = True

        protocol_version = "HTTP/1.1"
        wbufsize = 64 * 1024  # headers and body leave in one segment (no delayed-ACK stall), flushed per request

        def log_message(self, format: str, *args: Any) -> None:
            pass  # bodies (and personnummer in them) are never logged

        def _send(self, answer: Answer, *, close: bool = False) -> None:
            status, payload = answer
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")  # sets close_connection as well
            self.end_headers()
            self.wfile.write(data)

        def _read_body(self) -> bytes | None:
            """The request body; None (and an answer sent) when it cannot be read or is too big."""
            raw = self.headers.get("Content-Length") or "0"
            length = int(raw) if raw.isdigit() else -1
            if length < 0 or "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self._send(MALFORMED, close=True)  # where the next request starts is unknown
                return None
            if length > MAX_BODY_BYTES:
                drainable = length <= DRAIN_LIMIT_BYTES
                if drainable:  # read and dropped, so the answer is not lost to a reset connection
                    while length > 0:
                        chunk = self.rfile.read(min(length, 65536))
                        if not chunk:
                            break
                        length -= len(chunk)
                self._send(_error(1001, "Request too large.", 413), close=not drainable)
                return None
            return self.rfile.read(length)

        def do_GET(self) -> None:
            try:
                path = self.path.rstrip("/")
                if path == "/sim/health":
                    self._send(simulator.health())
                elif path == "/sim/transactions":
                    self._send(simulator.transactions())
                elif path in API:
                    self._send(_error(1001, "Use POST.", 405))
                else:
                    self._send(_error(1001, "Unknown path.", 404))
            except Exception:
                self._internal_error()

        def do_POST(self) -> None:
            try:
                self._post()
            except Exception:
                self._internal_error()

        def _post(self) -> None:
            body = self._read_body()
            if body is None:
                return
            path = self.path.rstrip("/")
            if path in API:
                parameter, method = API[path]
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                request = parse_form(body, parameter) if content_type == "application/x-www-form-urlencoded" else None
                self._send(MALFORMED if request is None else getattr(simulator, method)(request))
                return
            if not path.startswith("/sim/"):
                self._send(_error(1001, "Unknown path.", 404))
                return
            try:
                control = json.loads(body or b"{}")
            except ValueError:
                control = None
            if not isinstance(control, dict):
                self._send((400, {"error": "the body is a JSON object"}))
                return
            parts = path.split("/")
            if path == "/sim/defaults":
                self._send(simulator.set_defaults(control))
            elif path == "/sim/reset-defaults":
                self._send(simulator.reset_defaults(control))
            elif len(parts) == 5 and parts[2] == "transactions":
                self._send(simulator.control(parts[3], parts[4], control))
            else:
                self._send((404, {"error": "unknown path"}))

        def _internal_error(self) -> None:
            with contextlib.suppress(Exception):
                self._send(_error(2000, "Internal error.", 500), close=True)
            self.close_connection = True

    return Handler


class SimulatorServer(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops a burst of simultaneous logins
    daemon_threads = True


def serve(port: int = 0, simulator: Simulator | None = None) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serves `simulator` (a new one, keys in memory, if None) on 127.0.0.1 in a daemon thread; port 0
    picks a free one (server.server_address). Stop with server.shutdown()."""
    server = SimulatorServer(("127.0.0.1", port), make_handler(simulator or Simulator()))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="freja-simulator", daemon=True)
    thread.start()
    return server, thread


def main() -> None:
    from local.paths import LOCAL_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8083)
    parser.add_argument("--key-dir", type=Path, default=LOCAL_DIR / "freja")
    parser.add_argument("--population", type=Path, default=None, help="names for basicUserInfo")
    args = parser.parse_args()
    simulator = Simulator(key_dir=args.key_dir, population=args.population)
    server = SimulatorServer((args.host, args.port), make_handler(simulator))
    print(
        f"Freja eID simulator on http://{args.host}:{args.port}/authentication/1.0/ "
        f"(trusted certificates: {args.key_dir / TRUSTED_FILE})",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
