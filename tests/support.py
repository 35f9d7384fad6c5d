"""Shared test helpers: the local services on free ports, test persons, and clean state per test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POPULATION = json.loads((ROOT / "testdata" / "population.json").read_text(encoding="utf-8"))["persons"]


def person(given_name: str) -> dict[str, Any]:
    """A test person from testdata/population.json by given name (they are unique there)."""
    return next(p for p in POPULATION if p["givenName"] == given_name)


def pnr(given_name: str) -> str:
    return str(person(given_name)["personnummer"])


def fresh_settings() -> None:
    """Forget every process-wide value (settings, clients, keys, adapters) after the environment changed."""
    from chalicelib.core import process

    process.reset()


@contextmanager
def local_stack(with_api: bool, log_dir: Path) -> Iterator[Any]:
    from local.services import (
        UNLIMITED_LOGIN_STARTS,
        Ports,
        Stack,
        free_port,
        start_api,
        start_backing_services,
        start_pump,
    )

    ports = Ports(
        api=free_port(),
        bankid=free_port(),
        booking=free_port(),
        freja=free_port(),
        dynamodb=free_port(),
        moto=free_port(),
    )
    # End-to-end tests log the same few test persons in many times over HTTP: the API's login-start
    # limits stay out of their way (in-process tests keep the defaults, to test them).
    extra_env = UNLIMITED_LOGIN_STARTS if with_api else {}
    stack = Stack(ports=ports, data_dir=None, log_dir=log_dir, extra_env=extra_env)
    saved = dict(os.environ)
    try:
        start_backing_services(stack)
        os.environ.update(stack.environment())
        fresh_settings()
        if with_api:
            start_api(stack)
            start_pump(stack)
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        fresh_settings()


def wipe_main_table() -> None:
    """Delete every item of the main and audit tables (test isolation; tests only, hence Scan)."""
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings

    client = dynamo.client()
    for table in (settings().main_table, settings().audit_table):
        keys = []
        paginator = client.get_paginator("scan")
        for page in paginator.paginate(TableName=table, ProjectionExpression="pk, sk"):
            keys.extend(page.get("Items", []))
        for start in range(0, len(keys), 25):
            client.batch_write_item(
                RequestItems={table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
            )


def at(iso_instant: str) -> datetime:
    return datetime.fromisoformat(iso_instant.replace("Z", "+00:00")).astimezone(UTC)


def until(found: Any, seconds: float = 45) -> Any:
    """`found()` once it is truthy (polled every half second), or its last value after `seconds`."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := found():
            return value
        time.sleep(0.5)
    return found()
