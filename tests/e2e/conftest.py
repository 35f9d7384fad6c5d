"""End-to-end: the local stack as `make run` starts it (chalice local, pump, DynamoDB Local, moto,
BankID simulator), on free loopback ports, driven over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import ROOT, local_stack

LOG_DIR = ROOT / ".local" / "test-logs" / "e2e"


@pytest.fixture(scope="session")
def stack() -> Iterator[Any]:
    if LOG_DIR.exists():
        for old in LOG_DIR.glob("*.log"):
            old.unlink()
    with local_stack(with_api=True, log_dir=LOG_DIR) as running:
        yield running


class Http:
    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.env = stack.environment()
        self.base = self.env["API_URL"]
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.session.request(method, self.base + path, json=body, headers=headers, timeout=30)

    def login(self, personnummer: str) -> requests.Response:
        started = self.call("POST", "/auth/bankid/start", {"personnummer": personnummer})
        assert started.status_code == 200, started.text
        order_ref = started.json()["orderRef"]
        for _ in range(10):
            response = self.call("POST", "/auth/bankid/collect", {"orderRef": order_ref})
            if response.status_code != 200 or response.json()["status"] != "pending":
                return response
            time.sleep(0.05)
        raise AssertionError("login never completed")

    def token_for(self, personnummer: str) -> str:
        response = self.login(personnummer)
        assert response.status_code == 200 and response.json()["status"] == "complete", response.text
        return str(response.json()["session"]["token"])

    def cli(self, *args: str, event: dict[str, Any] | None = None) -> Any:
        """Runs the dev CLI as a developer would, against this stack."""
        env = {
            **os.environ,
            **self.env,
            "API_PORT": str(self.stack.ports.api),
            "BANKID_PORT": str(self.stack.ports.bankid),
            "BOOKING_PORT": str(self.stack.ports.booking),
            "FREJA_PORT": str(self.stack.ports.freja),
            "DYNAMODB_PORT": str(self.stack.ports.dynamodb),
            "MOTO_PORT": str(self.stack.ports.moto),
        }
        command = [sys.executable, "-m", "local", *args]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            if event is not None:
                json.dump(event, handle)
                command += ["--event", handle.name]
        try:
            result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
        finally:
            Path(handle.name).unlink(missing_ok=True)
        return result.stdout


@pytest.fixture(scope="session")
def http(stack: Any) -> Http:
    return Http(stack)
