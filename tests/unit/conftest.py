"""Unit tests: pure rules, no AWS. Settings come from a fixed test environment."""

from __future__ import annotations

import pytest

from tests.support import fresh_settings


@pytest.fixture(autouse=True)
def unit_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIN_TABLE", "unit-main")
    monkeypatch.setenv("AUDIT_TABLE", "unit-audit")
    monkeypatch.setenv("PNR_HMAC_SECRET", "unit-test-key")
    monkeypatch.delenv("PNR_HMAC_SECRET_ARN", raising=False)
    fresh_settings()
