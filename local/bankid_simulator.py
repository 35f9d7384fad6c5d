"""A BankID Relying Party API v6.0 simulator for the local stack and tests.

Speaks the same HTTP API as BankID (`/rp/v6.0/auth|sign|collect|cancel`), over plain HTTP on loopback.
An order that carries `requirement.personalNumber` completes on its second collect (the first says
`pending`/`outstandingTransaction`). Any order can be completed or failed through the simulator's own
endpoints, e.g. for the QR flow where the app does not know the personnummer up front:

  POST   /sim/orders/{orderRef}/complete  {"personalNumber": "...", "risk"?: "low|moderate|high",
                                           "bankIdIssueDate"?: "YYYY-MM-DD"}
  POST   /sim/orders/{orderRef}/fail      {"hintCode": "userCancel"}
  GET    /sim/orders/{orderRef}           {"kind": "auth|sign", "status", "returnRisk"}
  POST   /sim/defaults  {"personalNumber"?, "risk"?, "bankIdIssueDate"?}   what completed orders get when
                        not told otherwise: for that person, else for everyone (a person's beat everyone's)
  DELETE /sim/defaults  (or POST /sim/reset-defaults)  back to risk "low", issue date 2020-01-01
  GET    /sim/health

`completionData.risk` is only there when the order asked for it with `"returnRisk": true`, as in BankID.
Only test personnummer are ever sent here; request bodies are never logged.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeGuard

ORDER_LIFETIME_S = 180  # BankID fails an unanswered order with expiredTransaction after three minutes
COLLECTS_BEFORE_COMPLETE = 1
RISKS = ("low", "moderate", "high")
DEFAULT_RISK = "low"
DEFAULT_ISSUE_DATE = "2020-01-01"
USER_VISIBLE_DATA_MAX = 40_000  # characters of base64, as BankID
USER_NON_VISIBLE_DATA_MAX = 200_000
FAKE_UHI = "OZvYM9VvyiAmG7NA5jU5zRGcK2wBX4Ea"  # BankID's unique hardware id: stable per device
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class Order:
    order_ref: str
    end_user_ip: str
    personal_number: str | None
    kind: str = "auth"
    return_risk: bool = False
    created: float = field(default_factory=time.time)
    collects: int = 0
    status: str = "pending"
    hint_code: str = "outstandingTransaction"
    completed_by: str | None = None
    risk: str = DEFAULT_RISK
    bank_id_issue_date: str = DEFAULT_ISSUE_DATE


def _invalid(details: str) -> tuple[int, dict[str, Any]]:
    return 400, {"errorCode": "invalidParameters", "details": details}


def _is_pnr(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) == 12 and value.isdigit()


def _is_base64(value: Any, max_length: int) -> bool:
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _completion_settings(body: dict[str, Any]) -> tuple[dict[str, str] | None, str | None]:
    """`risk` and `bankIdIssueDate` from a control body: (the values given, None) or (None, the problem)."""
    given: dict[str, str] = {}
    if body.get("risk") is not None:
        if body["risk"] not in RISKS:
            return None, "risk must be low, moderate or high"
        given["risk"] = body["risk"]
    if body.get("bankIdIssueDate") is not None:
        if not _is_iso_date(body["bankIdIssueDate"]):
            return None, "bankIdIssueDate must be a date, YYYY-MM-DD"
        given["bankIdIssueDate"] = body["bankIdIssueDate"]
    return given, None


class Simulator:
    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.lock = threading.Lock()
        self.defaults: dict[str, str] = {}  # for everyone
        self.person_defaults: dict[str, dict[str, str]] = {}  # by personnummer

    def auth(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._start("auth", body)

    def sign(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self._start("sign", body)

    def _start(self, kind: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ip = body.get("endUserIp")
        if not isinstance(ip, str) or not ip:
            return _invalid("Incorrect endUserIp")
        requirement = body.get("requirement") or {}
        if not isinstance(requirement, dict):
            return _invalid("Invalid requirement")
        pnr = requirement.get("personalNumber")
        if pnr is not None and not _is_pnr(pnr):
            return _invalid("Incorrect personalNumber")
        return_risk = body.get("returnRisk", False)
        if not isinstance(return_risk, bool):
            return _invalid("Invalid returnRisk")
        needs_text = kind == "sign" or "userVisibleData" in body
        if needs_text and not _is_base64(body.get("userVisibleData"), USER_VISIBLE_DATA_MAX):
            return _invalid("Invalid userVisibleData")
        if "userNonVisibleData" in body and not _is_base64(body["userNonVisibleData"], USER_NON_VISIBLE_DATA_MAX):
            return _invalid("Invalid userNonVisibleData")
        if body.get("userVisibleDataFormat", "simpleMarkdownV1") != "simpleMarkdownV1":
            return _invalid("Invalid userVisibleDataFormat")
        with self.lock:
            if pnr:
                for other in self.orders.values():
                    if other.personal_number == pnr and other.status == "pending":
                        # BankID cancels both the running and the new order in this case.
                        other.status, other.hint_code = "failed", "cancelled"
                        return 400, {"errorCode": "alreadyInProgress", "details": "Order already in progress"}
            order = Order(
                order_ref=str(uuid.uuid4()), end_user_ip=ip, personal_number=pnr, kind=kind, return_risk=return_risk
            )
            self.orders[order.order_ref] = order
        return 200, {
            "orderRef": order.order_ref,
            "autoStartToken": str(uuid.uuid4()),
            "qrStartToken": str(uuid.uuid4()),
            "qrStartSecret": str(uuid.uuid4()),
        }

    def _order(self, body: dict[str, Any]) -> Order | None:
        ref = body.get("orderRef")
        return self.orders.get(ref) if isinstance(ref, str) else None

    def collect(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            order = self._order(body)
            if order is None:
                return 400, {"errorCode": "notFound", "details": "No such order"}
            order.collects += 1
            if order.status == "pending" and time.time() - order.created > ORDER_LIFETIME_S:
                order.status, order.hint_code = "failed", "expiredTransaction"
            if order.status == "pending" and order.personal_number and order.collects > COLLECTS_BEFORE_COMPLETE:
                self._complete(order, order.personal_number, {})
            if order.status == "pending" and order.collects > 1:
                order.hint_code = "userSign"
            if order.status == "complete":
                return 200, {"orderRef": order.order_ref, "status": "complete", "completionData": _completion(order)}
            return 200, {"orderRef": order.order_ref, "status": order.status, "hintCode": order.hint_code}

    def cancel(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            order = self._order(body)
            if order is None or order.status != "pending":
                return 400, {"errorCode": "notFound", "details": "No such order"}
            del self.orders[order.order_ref]
        return 200, {}

    def _complete(self, order: Order, pnr: str, given: dict[str, str]) -> None:
        """Completes as told, else as the person's defaults, else everyone's, else low / 2020-01-01."""
        chosen = {**self.defaults, **self.person_defaults.get(pnr, {}), **given}
        order.status, order.completed_by = "complete", pnr
        order.risk = chosen.get("risk", DEFAULT_RISK)
        order.bank_id_issue_date = chosen.get("bankIdIssueDate", DEFAULT_ISSUE_DATE)

    def set_defaults(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        given, problem = _completion_settings(body)
        if given is None:
            return 400, {"error": problem}
        pnr = body.get("personalNumber")
        if pnr is not None and not _is_pnr(pnr):
            return 400, {"error": "personalNumber must be 12 digits"}
        with self.lock:
            target = self.person_defaults.setdefault(pnr, {}) if pnr else self.defaults
            target.update(given)
            return 200, {"scope": "person" if pnr else "everyone", **target}

    def clear_defaults(self) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.defaults, self.person_defaults = {}, {}
        return 200, {"cleared": True}

    def describe(self, order_ref: str) -> tuple[int, dict[str, Any]]:
        """What a test may check about an order; never the personnummer."""
        with self.lock:
            order = self.orders.get(order_ref)
            if order is None:
                return 404, {"error": "no such order"}
            return 200, {"kind": order.kind, "status": order.status, "returnRisk": order.return_risk}

    def control(self, order_ref: str, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            order = self.orders.get(order_ref)
            if order is None:
                return 404, {"error": "no such order"}
            if action == "complete":
                pnr = body.get("personalNumber") or order.personal_number
                if not _is_pnr(pnr):
                    return 400, {"error": "personalNumber (12 digits) is required"}
                given, problem = _completion_settings(body)
                if given is None:
                    return 400, {"error": problem}
                self._complete(order, pnr, given)
            elif action == "fail":
                order.status, order.hint_code = "failed", str(body.get("hintCode") or "userCancel")
            else:
                return 404, {"error": "unknown action"}
        return 200, {"orderRef": order_ref, "status": order.status}


def _completion(order: Order) -> dict[str, Any]:
    data: dict[str, Any] = {
        "user": {
            "personalNumber": order.completed_by,
            "name": "Test Testsson",
            "givenName": "Test",
            "surname": "Testsson",
        },
        "device": {"ipAddress": order.end_user_ip, "uhi": FAKE_UHI},
        "stepUp": {"mrtd": False},
        "bankIdIssueDate": order.bank_id_issue_date,
        "signature": "PHNpbXVsYXRlZC1zaWduYXR1cmUvPg==",
        "ocspResponse": "c2ltdWxhdGVkLW9jc3A=",
    }
    if order.return_risk:
        data["risk"] = order.risk
    return data


def make_handler(simulator: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Headers and body go out in separate writes: without this, Nagle holds the body ~40 ms.
        disable_nagle_algorithm = True

        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # request lines would show nothing useful and bodies must never be logged

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return None
            return body if isinstance(body, dict) else None

        def do_GET(self) -> None:
            path = self.path.rstrip("/")
            parts = path.split("/")
            if path == "/sim/health":
                self._send(200, {"ok": True, "orders": len(simulator.orders)})
            elif path.startswith("/sim/orders/") and len(parts) == 4:
                self._send(*simulator.describe(parts[3]))
            else:
                self._send(404, {"errorCode": "notFound", "details": "Unknown path"})

        def do_DELETE(self) -> None:
            self._body()  # drain whatever was sent, keep-alive must stay in step
            if self.path.rstrip("/") == "/sim/defaults":
                self._send(*simulator.clear_defaults())
            else:
                self._send(404, {"error": "unknown path"})

        def do_POST(self) -> None:
            body = self._body()
            if body is None:
                self._send(400, {"errorCode": "invalidParameters", "details": "Invalid JSON"})
                return
            path = self.path.rstrip("/")
            routes = {
                "/rp/v6.0/auth": simulator.auth,
                "/rp/v6.0/sign": simulator.sign,
                "/rp/v6.0/collect": simulator.collect,
                "/rp/v6.0/cancel": simulator.cancel,
                "/sim/defaults": simulator.set_defaults,
            }
            if path in routes:
                self._send(*routes[path](body))
            elif path == "/sim/reset-defaults":
                self._send(*simulator.clear_defaults())
            elif path.startswith("/sim/orders/"):
                parts = path.split("/")
                if len(parts) == 5:
                    self._send(*simulator.control(parts[3], parts[4], body))
                else:
                    self._send(404, {"error": "unknown path"})
            else:
                self._send(404, {"errorCode": "notFound", "details": "Unknown path"})

    return Handler


class SimulatorServer(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops a burst of simultaneous logins
    daemon_threads = True


def serve(host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, Simulator]:
    """Starts the simulator in a daemon thread; port 0 picks a free one (server.server_address)."""
    simulator = Simulator()
    server = SimulatorServer((host, port), make_handler(simulator))
    threading.Thread(target=server.serve_forever, name="bankid-simulator", daemon=True).start()
    return server, simulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    simulator = Simulator()
    server = SimulatorServer((args.host, args.port), make_handler(simulator))
    print(f"BankID simulator on http://{args.host}:{args.port}/rp/v6.0/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
