"""A BankID Relying Party API v6.0 simulator for the local stack and tests.

Speaks the same HTTP API as BankID (`/rp/v6.0/auth|collect|cancel`), over plain HTTP on loopback.
An order that carries `requirement.personalNumber` completes on its second collect (the first says
`pending`/`outstandingTransaction`). Any order can be completed or failed through the simulator's own
endpoints, e.g. for the QR flow where the app does not know the personnummer up front:

  POST /sim/orders/{orderRef}/complete  {"personalNumber": "..."}
  POST /sim/orders/{orderRef}/fail      {"hintCode": "userCancel"}
  GET  /sim/health

Only test personnummer are ever sent here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ORDER_LIFETIME_S = 180  # BankID fails an unanswered order with expiredTransaction after three minutes
COLLECTS_BEFORE_COMPLETE = 1


@dataclass
class Order:
    order_ref: str
    end_user_ip: str
    personal_number: str | None
    created: float = field(default_factory=time.time)
    collects: int = 0
    status: str = "pending"
    hint_code: str = "outstandingTransaction"
    completed_by: str | None = None


class Simulator:
    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.lock = threading.Lock()

    def auth(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ip = body.get("endUserIp")
        if not isinstance(ip, str) or not ip:
            return 400, {"errorCode": "invalidParameters", "details": "Incorrect endUserIp"}
        requirement = body.get("requirement") or {}
        if not isinstance(requirement, dict):
            return 400, {"errorCode": "invalidParameters", "details": "Invalid requirement"}
        pnr = requirement.get("personalNumber")
        if pnr is not None and (not isinstance(pnr, str) or len(pnr) != 12 or not pnr.isdigit()):
            return 400, {"errorCode": "invalidParameters", "details": "Incorrect personalNumber"}
        with self.lock:
            if pnr:
                for other in self.orders.values():
                    if other.personal_number == pnr and other.status == "pending":
                        # BankID cancels both the running and the new order in this case.
                        other.status, other.hint_code = "failed", "cancelled"
                        return 400, {"errorCode": "alreadyInProgress", "details": "Order already in progress"}
            order = Order(order_ref=str(uuid.uuid4()), end_user_ip=ip, personal_number=pnr)
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
                order.status, order.completed_by = "complete", order.personal_number
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

    def control(self, order_ref: str, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            order = self.orders.get(order_ref)
            if order is None:
                return 404, {"error": "no such order"}
            if action == "complete":
                pnr = body.get("personalNumber") or order.personal_number
                if not isinstance(pnr, str) or len(pnr) != 12:
                    return 400, {"error": "personalNumber (12 digits) is required"}
                order.status, order.completed_by = "complete", pnr
            elif action == "fail":
                order.status, order.hint_code = "failed", str(body.get("hintCode") or "userCancel")
            else:
                return 404, {"error": "unknown action"}
        return 200, {"orderRef": order_ref, "status": order.status}


def _completion(order: Order) -> dict[str, Any]:
    return {
        "user": {
            "personalNumber": order.completed_by,
            "name": "Test Testsson",
            "givenName": "Test",
            "surname": "Testsson",
        },
        "device": {"ipAddress": order.end_user_ip, "uhi": "OZvYM9VvyiAmG7NA5jU5zRGcK2wBX4Ea"},
        "stepUp": {"mrtd": False},
        "bankIdIssueDate": "2024-01-01",
        "signature": "PHNpbXVsYXRlZC1zaWduYXR1cmUvPg==",
        "ocspResponse": "c2ltdWxhdGVkLW9jc3A=",
    }


def make_handler(simulator: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
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
            if self.path == "/sim/health":
                self._send(200, {"ok": True, "orders": len(simulator.orders)})
            else:
                self._send(404, {"errorCode": "notFound", "details": "Unknown path"})

        def do_POST(self) -> None:
            body = self._body()
            if body is None:
                self._send(400, {"errorCode": "invalidParameters", "details": "Invalid JSON"})
                return
            path = self.path.rstrip("/")
            routes = {
                "/rp/v6.0/auth": simulator.auth,
                "/rp/v6.0/collect": simulator.collect,
                "/rp/v6.0/cancel": simulator.cancel,
            }
            if path in routes:
                self._send(*routes[path](body))
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
