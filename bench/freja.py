"""`make bench`, issue 12: login with Freja eID Plus, beside BankID's `login` figures.

In-process against DynamoDB Local and an in-process Freja eID simulator (local/freja_simulator.py, served
on a free loopback port with its signing keys in a temporary directory); the API's Freja client is a
`FrejaClient` trusting the simulator's two signing certificates (`freja-trusted.pem`), handed to
`freja_login.start` / `freja_login.collect` as `freja=` (through the routes, as the app calls them,
for the timings; directly for the DynamoDB count, as `login` is counted). An SSN order: the simulator
answers DELIVERED_TO_MOBILE to the first getOneResult and APPROVED (registration level PLUS, a JWS
signed with key #1) to the second.

- p50_ms / p95_ms `freja_login`: the completing collect (`POST /auth/freja/collect`): the JWS verified by
  its x5t, the order read (the person check), the account checks, one transaction, and the embedded
  profile read of the response, less the time inside the client's HTTP calls to the simulator (round trip
  and JSON; JWS verification stays in). The same scope as `login`. `freja_login_start`: `POST
  /auth/freja/start` less the initAuthentication call, as `login_start`.
- dynamodb_requests `freja_login` / `freja_login_start`: DynamoDB calls of `freja_login.collect` (the
  completing one) and `freja_login.start`; a pending collect makes none.
- freja_login_requests: HTTP calls to Freja per login (initAuthentication + getOneResult until APPROVED).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chalicelib.auth.freja import FrejaClient

WARMUP = 4  # first logins: the connection to the simulator, PyJWT's and cryptography's first use

NOTES = {
    "freja_login": "Freja eID Plus, SSN order, against an in-process Freja simulator (POST /auth/freja/start, "
    "then /auth/freja/collect until complete: DELIVERED_TO_MOBILE, then APPROVED). p50/p95: the completing "
    "collect through the route (JWS verified by x5t, the order read for the person check, account checks, "
    "one transaction, the embedded profile read), less the time inside the client's HTTP calls to the "
    "simulator; the same scope as `login`. dynamodb_requests.freja_login: freja_login.collect alone "
    "(dynamodb_calls.freja_login by operation); freja_login_start alike, less initAuthentication "
    "(bench/freja.py)",
    "freja_login_requests": "HTTP calls to Freja per login: initAuthentication and getOneResult until APPROVED "
    "(freja.requests_by_call)",
}


class TimedFreja(FrejaClient):
    """The API's Freja client, counting its HTTP calls and the time inside them (transport and JSON)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()
        self.seconds = 0.0

    def reset(self) -> None:
        self.calls, self.seconds = Counter(), 0.0

    def _post(self, operation: str, parameter: str, request: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return super()._post(operation, parameter, request)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls[operation] += 1


@contextmanager
def simulator() -> Iterator[TimedFreja]:
    """An in-process Freja simulator on a free loopback port, its keys in a temporary directory, and a
    client trusting its two signing certificates; the app's `freja_client()` answers that client."""
    import httpx

    from chalicelib.auth import freja as freja_module
    from chalicelib.auth.freja import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, load_trusted
    from local import freja_simulator

    population = os.environ.get("POPULATION_SEED_PATH")
    with tempfile.TemporaryDirectory(prefix="bench-freja-") as key_dir:
        state = freja_simulator.Simulator(key_dir=Path(key_dir), population=Path(population) if population else None)
        server, thread = freja_simulator.serve(0, state)
        http = httpx.Client(timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S))
        host, port = server.server_address[:2]
        trusted = load_trusted((Path(key_dir) / freja_simulator.TRUSTED_FILE).read_bytes())
        client = TimedFreja(f"http://{host!s}:{port}", http, trusted)
        original = freja_module.freja_client
        freja_module.freja_client = lambda: client
        try:
            yield client
        finally:
            freja_module.freja_client = original
            http.close()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def measure(
    call: Callable[..., dict[str, Any]],
    meter: Any,
    citizens: list[str],
    *,
    runs: int,
    samples: dict[str, list[float]],
    raw: dict[str, list[float]],
    requests: dict[str, Any],
) -> dict[str, Any]:
    """Adds freja_login / freja_login_start to the bench's samples, DynamoDB seconds and request counts
    (the citizens have logged in with BankID before: steady-state logins, as `login`); returns the
    figures of its own (freja_login_requests, `freja` detail)."""
    from chalicelib.auth import freja_login
    from chalicelib.core.clock import system_clock
    from chalicelib.population.port import population_register

    for name in ("freja_login", "freja_login_start"):
        samples[name], raw[name] = [], []
    per_login: list[int] = []
    by_call: Counter[str] = Counter()
    with simulator() as freja:
        for i in range(runs + WARMUP):
            personnummer = citizens[i % len(citizens)]
            meter.reset()
            freja.reset()
            started = time.perf_counter()
            order = call("POST", "/auth/freja/start", {"personnummer": personnummer})
            start_elapsed = time.perf_counter() - started - freja.seconds
            assert order["status"] == 200, order
            auth_ref = order["body"]["authRef"]
            start_dynamo, start_calls = meter.seconds, len(meter.calls)
            polls = 0
            while True:
                polls += 1
                assert polls <= 5, "the simulator approves an SSN order on its second getOneResult"
                meter.reset()
                before = freja.seconds
                started = time.perf_counter()
                done = call("POST", "/auth/freja/collect", {"authRef": auth_ref})
                elapsed = time.perf_counter() - started - (freja.seconds - before)
                assert done["status"] == 200, done
                if done["body"]["status"] == "complete":
                    break
                assert done["body"]["status"] == "pending", done
            assert done["body"]["session"]["token"]
            per_login.append(sum(freja.calls.values()))
            by_call.update(freja.calls)
            if i >= WARMUP:
                samples["freja_login_start"].append(start_elapsed)
                raw["freja_login_start"].append(start_dynamo)
                samples["freja_login"].append(elapsed)
                raw["freja_login"].append(meter.seconds)
                requests["freja_login_start"] = start_calls

        # The login proper, without the route's profile read: freja_login.collect with this client.
        register = population_register()
        started_order = freja_login.start(citizens[0], "127.0.0.1", freja=freja, clock=system_clock)
        pending = freja_login.collect(started_order.auth_ref, freja=freja, register=register, clock=system_clock)
        assert pending.status == "pending", pending
        meter.reset()
        outcome = freja_login.collect(started_order.auth_ref, freja=freja, register=register, clock=system_clock)
        assert outcome.status == "complete", outcome
        requests["freja_login"] = len(meter.calls)
        requests["freja_login_calls"] = list(meter.calls)
    logins = len(per_login)
    assert len(set(per_login)) == 1, per_login  # every login the same number of calls
    return {
        "freja_login_requests": per_login[0],
        "freja": {
            "logins": logins,
            "requests_by_call": {name: round(count / logins, 2) for name, count in sorted(by_call.items())},
        },
    }
