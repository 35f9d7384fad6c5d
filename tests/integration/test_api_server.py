"""The local API server (local/api_server.py): many simultaneous clients and methods nobody routes.

`chalice local` listened with a backlog of 5 (a burst of clients got connection resets) and answered
TRACE and unknown methods with a 501 HTML page; API Gateway answers neither way.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.services import start_api, stop_process

CLIENTS = 50


@pytest.fixture(scope="module")
def api_url(stack: Any) -> Iterator[str]:
    start_api(stack)
    try:
        yield f"http://127.0.0.1:{stack.ports.api}"
    finally:
        stop_process(stack.processes.pop("api"))


def _clients(url: str, clients: int, *, seconds: float = 0, connect_timeout_s: float = 10) -> Counter[str]:
    """`clients` threads released at the same moment, each on a connection of its own (one request, or
    new requests for `seconds`); what they got, by status or connection error."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client() -> None:
        start.wait()
        until = time.monotonic() + seconds
        while True:
            try:
                with requests.Session() as session:
                    status = str(session.get(url, timeout=(connect_timeout_s, 30)).status_code)
            except requests.ConnectionError as error:
                status = f"connection-error:{type(error).__name__}"
            with lock:
                outcomes[status] += 1
            if time.monotonic() >= until:
                return

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return outcomes


def test_fifty_clients_arriving_while_the_server_is_busy_are_queued_not_dropped(api_url: str, stack: Any):
    """The kernel holds connections the server has not accepted yet, up to the listen backlog. With
    `chalice local`'s 5, the 45 others' SYNs were dropped (or reset): retried a second later at best."""
    api = stack.processes["api"]
    os.kill(api.pid, signal.SIGSTOP)  # busy: accepts nothing for a moment
    resume = threading.Timer(0.5, os.kill, (api.pid, signal.SIGCONT))
    resume.start()
    try:
        outcomes = _clients(f"{api_url}/me", CLIENTS, connect_timeout_s=0.9)  # below the 1 s SYN retry
    finally:
        resume.join()
        os.kill(api.pid, signal.SIGCONT)
    assert outcomes == Counter({"401": CLIENTS}), outcomes


def test_fifty_simultaneous_clients_get_answers_without_resets_or_5xx(api_url: str):
    assert _clients(f"{api_url}/openapi.json", CLIENTS) == Counter({"200": CLIENTS})
    outcomes = _clients(f"{api_url}/me", CLIENTS, seconds=3)  # unauthenticated: a 401 problem, quickly
    assert set(outcomes) == {"401"}, outcomes


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "FOO", "CONNECT"])
def test_a_method_nobody_routes_is_a_405_problem(api_url: str, method: str):
    response = requests.request(method, f"{api_url}/me", timeout=10, data=b"x" if method == "FOO" else None)
    assert response.status_code == 405, response.text[:200]
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/method-not-allowed" and body["code"] == "method-not-allowed"
    assert body["status"] == 405 and body["title"] and body["detail"]
    assert response.headers["Allow"] == "GET, OPTIONS"  # what /me does serve


def test_the_connection_stays_usable_after_a_405(api_url: str):
    with requests.Session() as session:
        assert session.request("TRACE", f"{api_url}/me", data=b'{"a": 1}', timeout=10).status_code == 405
        assert session.get(f"{api_url}/openapi.json", timeout=10).status_code == 200


def test_an_unknown_route_is_a_404_problem_as_in_aws(api_url: str):
    """API Gateway's MISSING_AUTHENTICATION_TOKEN is mapped to a 404 problem in infra; locally the same."""
    for path, headers in (("/nope", {}), ("/staff/me", {"Authorization": "Bearer x"})):
        response = requests.get(f"{api_url}{path}", headers=headers, timeout=10)
        assert response.status_code == 404, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not-found"
