"""Integration tests: the app in-process against DynamoDB Local, moto and the BankID simulator."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import ROOT, fresh_settings, local_stack, wipe_main_table


@pytest.fixture(scope="session")
def stack() -> Iterator[Any]:
    from local.services import UNLIMITED_LOGIN_STARTS

    with local_stack(with_api=False, log_dir=ROOT / ".local" / "test-logs" / "integration") as running:
        # Tests log the same persons in many times; the limits have their own tests (test_rate_limits).
        os.environ.update(UNLIMITED_LOGIN_STARTS)
        fresh_settings()
        yield running


@pytest.fixture(autouse=True)
def clean(stack: Any) -> None:
    from local import bootstrap

    wipe_main_table()
    bootstrap.seed(stack.environment())


@pytest.fixture
def client(stack: Any) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


class Api:
    """A thin JSON wrapper over Chalice's test client."""

    def __init__(self, client: Any, stack: Any) -> None:
        self.client = client
        self.stack = stack

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        raw = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        response = getattr(self.client.http, method.lower())(path, headers=all_headers, body=raw or b"")
        text = response.body.decode() if response.body else ""
        lowered = {k.lower(): v for k, v in response.headers.items()}
        return response.status_code, (json.loads(text) if text else None), lowered

    def login(self, personnummer: str) -> dict[str, Any]:
        """start → collect (pending) → collect (complete), as the app would."""
        status, started, _ = self.call("POST", "/auth/bankid/start", {"personnummer": personnummer})
        assert status == 200, started
        for _ in range(5):
            status, collected, _ = self.call("POST", "/auth/bankid/collect", {"orderRef": started["orderRef"]})
            if status != 200 or collected["status"] != "pending":
                return {"status": status, "body": collected, "orderRef": started["orderRef"]}
        raise AssertionError("the simulator never completed the order")

    def token_for(self, personnummer: str) -> str:
        outcome = self.login(personnummer)
        assert outcome["status"] == 200 and outcome["body"]["status"] == "complete", outcome
        return str(outcome["body"]["session"]["token"])


@pytest.fixture
def api(client: Any, stack: Any) -> Api:
    return Api(client, stack)
