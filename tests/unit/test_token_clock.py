"""The dev CLI's tokens run on the local stack's clock (API.md, Local stack): issued on a moved clock,
they are fresh for an API that runs on it, and refused by one that does not (real time)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.core import process
from chalicelib.core.errors import Unauthenticated
from chalicelib.staff import identity
from local import clients

INVALID = Unauthenticated("Ogiltig eller utgången personalinloggning.", code="staff-token-invalid")


@pytest.fixture
def issuer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The local issuer's key in a temporary file, and the local stage's clock file (not set yet)."""
    key_path = tmp_path / "staff-jwt-key.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    monkeypatch.setattr("local.bootstrap.ensure_staff_key", lambda: key_path)
    monkeypatch.setenv("STAFF_JWT_KEY_PATH", str(key_path))
    monkeypatch.setenv("STAGE", "local")
    clock = tmp_path / "clock.json"
    monkeypatch.setenv("LOCAL_CLOCK_FILE", str(clock))
    process.reset()
    yield clock
    monkeypatch.undo()
    process.reset()


def _move(clock: Path, by: timedelta) -> None:
    clock.write_text(json.dumps({"offsetSeconds": by.total_seconds()}), encoding="utf-8")


def _api_on_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API that does not run on the moved clock: any stage but local ignores the clock file."""
    monkeypatch.setenv("STAGE", "dev")
    process.reset()


def _claims(token: str) -> dict[str, object]:
    return identity.verified_claims(token, required=["hsaId"], invalid=INVALID)


def test_a_token_issued_on_a_moved_clock_is_accepted_by_an_api_on_that_clock(
    issuer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _move(issuer, timedelta(days=2))  # `python -m local clock set` two days ahead
    token = clients.staff_token("SE2321000016-S002", ["SE2321000016-1001"], "case-handler")
    issued = jwt.decode(token, options={"verify_signature": False})
    assert abs(issued["iat"] - (datetime.now(UTC) + timedelta(days=2)).timestamp()) < 5
    assert _claims(token)["hsaId"] == "SE2321000016-S002"  # the API runs on the same clock

    _api_on_real_time(monkeypatch)  # in real time it was issued two days from now
    with pytest.raises(Unauthenticated):
        _claims(token)


def test_a_real_time_token_has_expired_for_an_api_two_days_ahead(issuer: Path) -> None:
    token = clients.staff_token("SE2321000016-S002", ["SE2321000016-1001"], "case-handler")
    assert _claims(token)["hsaId"] == "SE2321000016-S002"
    _move(issuer, timedelta(days=2))
    with pytest.raises(Unauthenticated):
        _claims(token)


def test_machine_tokens_run_on_the_same_clock(issuer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _move(issuer, timedelta(hours=-5))
    token = clients.machine_token("pasis-region-1", ["bookings:write"])
    assert identity.verified_claims(token, required=["client"], invalid=INVALID)["client"] == "pasis-region-1"
    _api_on_real_time(monkeypatch)  # issued five hours ago with an hour to live: expired in real time
    with pytest.raises(Unauthenticated):
        identity.verified_claims(token, required=["client"], invalid=INVALID)


@pytest.mark.parametrize(
    ("offset_s", "accepted"),
    [(-3600 - 25, True), (-3600 - 35, False), (25, True), (35, False)],
    ids=["expired-within-leeway", "expired", "issued-just-ahead-within-leeway", "issued-ahead"],
)
def test_the_30_second_leeway_holds_on_the_apps_clock(issuer: Path, offset_s: int, accepted: bool) -> None:
    """A token issued `offset_s` from the API's now, with an hour to live (5 s either side of the
    leeway: the issued times are whole seconds)."""
    _move(issuer, timedelta(seconds=offset_s))
    token = clients.staff_token("SE2321000016-S002", ["SE2321000016-1001"], "case-handler", ttl_s=3600)
    issuer.unlink()  # the API reads real time
    if accepted:
        assert _claims(token)
    else:
        with pytest.raises(Unauthenticated):
            _claims(token)


def test_a_token_without_exp_or_with_a_malformed_time_is_refused(issuer: Path) -> None:
    from local.bootstrap import ensure_staff_key

    now = int(datetime.now(UTC).timestamp())
    key = ensure_staff_key().read_bytes()
    base = {"iss": "local-staff-idp", "aud": "e-services", "hsaId": "SE2321000016-S002", "iat": now}
    for claims in (
        {**base},
        {**base, "exp": "soon"},
        {**base, "exp": now + 60, "nbf": "later"},
        {**base, "exp": now + 60, "nbf": now + 120},
    ):
        token = jwt.encode(claims, key, algorithm="RS256")
        with pytest.raises(Unauthenticated):
            _claims(token)
    assert _claims(jwt.encode({**base, "exp": now + 60, "nbf": now}, key, algorithm="RS256"))
