"""Clients of a running local stack, for `make load`, `make faults` and the local-stack tests: the API
over HTTP (citizens logged in through the BankID simulator, staff with the local issuer's tokens),
moto's record of sent SMS/e-mail, and the notification items in DynamoDB Local.

Only test persons from testdata/population.json and numbers from PTS's range for fiction are used.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import requests

from local.services import HOST, REGION, ROOT, Ports, clock_file, ports_from_env

POPULATION = json.loads((ROOT / "testdata" / "population.json").read_text(encoding="utf-8"))["persons"]
# Test persons who can log in: adults, not deceased, with a personnummer (not a samordningsnummer).
CITIZENS = ("Anna", "Erik", "Sara", "Johan", "Karin", "Lars", "Maria")
# PTS reserves 070-1740605..070-1740699 for fiction; tests use the top of the range, tools the rest.
FICTION_MOBILES = tuple(f"+4670174{n:04d}" for n in range(605, 690))


def personnummer(given_name: str) -> str:
    return str(next(p for p in POPULATION if p["givenName"] == given_name)["personnummer"])


@dataclass(frozen=True)
class StaffMember:
    hsa_id: str
    clinic: str
    role: str


# From testdata/clinics.json: who answers the cases of which clinic.
HANDLERS = (
    StaffMember("SE2321000016-S002", "SE2321000016-1001", "case-handler"),
    StaffMember("SE2321000016-S004", "SE2321000016-2002", "case-handler"),
    StaffMember("SE2321000255-S005", "SE2321000255-3003", "case-handler"),
)


def local_clock_now() -> datetime:
    """Now on the local stack's clock (`python -m local clock set`), which the stack's API and functions
    run on: the dev CLI's tokens are issued on it (API.md, Local stack), so a token made while the clock
    stands at 17:59 tomorrow is fresh for that API. The clock file is the one the stack's processes read
    (LOCAL_CLOCK_FILE, in a stack's environment), else the one `clock set` writes for API_PORT's stack."""
    configured = os.environ.get("LOCAL_CLOCK_FILE")
    path = Path(configured) if configured else clock_file(ports_from_env())
    try:
        shift = float(json.loads(path.read_text(encoding="utf-8"))["offsetSeconds"])
    except (OSError, ValueError, KeyError, TypeError):
        shift = 0.0  # no clock set (or not readable): real time, as the stack's processes then read it
    return datetime.now(UTC) + timedelta(seconds=shift)


def staff_token(hsa_id: str, clinics: list[str], role: str, *, name: str | None = None, ttl_s: int = 3600) -> str:
    """A staff JWT from the local issuer (what the dev CLI's `staff-token` prints), on the local clock."""
    import jwt

    from local.bootstrap import ensure_staff_key

    now = int(local_clock_now().timestamp())
    claims = {
        "iss": "local-staff-idp",
        "aud": "e-services",
        "sub": hsa_id,
        "hsaId": hsa_id,
        "name": name or hsa_id,
        "roles": [{"clinic": clinic, "role": role} for clinic in clinics],
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, ensure_staff_key().read_bytes(), algorithm="RS256", headers={"kid": "local-1"})


def machine_token(client: str, scopes: list[str], *, ttl_s: int = 3600) -> str:
    """A machine JWT from the local issuer for a care provider's or booking system (`client`, `scope`):
    what the dev CLI's `machine-token` prints (API.md, Machine clients), on the local clock."""
    import jwt

    from local.bootstrap import ensure_staff_key

    now = int(local_clock_now().timestamp())
    claims = {
        "iss": "local-staff-idp",
        "aud": "e-services",
        "sub": client,
        "client": client,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, ensure_staff_key().read_bytes(), algorithm="RS256", headers={"kid": "local-1"})


class Api:
    """One client (one connection, kept alive) of the API."""

    def __init__(self, base_url: str, timeout_s: float = 30) -> None:
        self.base = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base + path, json=body, headers=all_headers, timeout=self.timeout_s)

    def login(self, pnr: str) -> str:
        """BankID login through the simulator (it completes an order on its second collect)."""
        started = self.call("POST", "/auth/bankid/start", {"personnummer": pnr})
        started.raise_for_status()
        order_ref = started.json()["orderRef"]
        for _ in range(20):
            collected = self.call("POST", "/auth/bankid/collect", {"orderRef": order_ref})
            collected.raise_for_status()
            if collected.json()["status"] == "complete":
                return str(collected.json()["session"]["token"])
            time.sleep(0.05)
        raise RuntimeError("the BankID simulator never completed the login")

    def close(self) -> None:
        self.session.close()


# ---------------------------------------------------------------- what moto sent


def moto_sent(moto_url: str) -> list[dict[str, Any]]:
    """SMS (SNS) and e-mail (SES) moto accepted, with their provider message ids (moto's model dump)."""
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json", timeout=10) as response:
        data = json.loads(response.read())
    found = [
        {"channel": "sms", "id": sms.get("message_id"), "to": sms.get("phone_number")}
        for sms in data.get("sns", {}).get("SMS", [])
    ]
    for name, instances in data.get("ses", {}).items():
        if name in {"Message", "RawMessage", "TemplateMessage"}:
            for message in instances:
                destinations = message.get("destinations")
                to = destinations.get("ToAddresses") if isinstance(destinations, dict) else destinations
                found.append({"channel": "email", "id": message.get("id"), "to": to[0] if isinstance(to, list) else to})
    return found


@dataclass
class OutboxWatcher:
    """Polls moto's record of sent messages and keeps the union, with when each was first seen.

    moto keeps it in memory: a moto restart (or a whole-stack kill) forgets what it had sent, so only
    what was polled before is known; messages accepted after the last poll before a kill are not."""

    moto_url: str
    every_s: float = 0.5
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    polls: int = 0
    failed_polls: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def poll(self) -> None:
        try:
            messages = moto_sent(self.moto_url)
        except OSError:
            self.failed_polls += 1  # moto is down (restarting, killed): nothing to see
            return
        now = time.time()
        with self._lock:
            self.polls += 1
            for message in messages:
                if message["id"] and message["id"] not in self.seen:
                    self.seen[message["id"]] = {**message, "firstSeen": now}

    def start(self) -> OutboxWatcher:
        def loop() -> None:
            while not self._stop.wait(self.every_s):
                self.poll()

        self._thread = threading.Thread(target=loop, name="outbox-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.poll()

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.seen.values())


# ---------------------------------------------------------------- DynamoDB Local


def dynamodb(ports: Ports) -> Any:
    return boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=f"http://{HOST}:{ports.dynamodb}",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def scan_type(ports: Ports, table: str, item_type: str) -> Iterator[dict[str, Any]]:
    """Every item of one `type` (a tool's read of a local table; no request path ever scans)."""
    from chalicelib.core.dynamo import from_item

    paginator = dynamodb(ports).get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        FilterExpression="#t = :t",
        ExpressionAttributeNames={"#t": "type"},
        ExpressionAttributeValues={":t": {"S": item_type}},
        ConsistentRead=True,
    ):
        for item in page.get("Items", []):
            yield from_item(item)


def notifications(ports: Ports, table: str) -> list[dict[str, Any]]:
    return list(scan_type(ports, table, "notification"))
