"""The dev CLI against the running stack."""

from __future__ import annotations

import json

import jwt
from cryptography.hazmat.primitives import serialization

from local.services import LOCAL_DIR


def test_staff_token_is_a_signed_jwt_with_hsa_id_and_roles(http):
    token = http.cli(
        "staff-token", "--hsa-id", "SE2321000016-S001", "--clinic", "SE2321000016-1001", "--role", "case-receiver"
    ).strip()
    key = serialization.load_pem_private_key((LOCAL_DIR / "staff-jwt-key.pem").read_bytes(), password=None)
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], audience="e-services")
    assert claims["hsaId"] == "SE2321000016-S001"
    assert claims["roles"] == [{"clinic": "SE2321000016-1001", "role": "case-receiver"}]


def test_seed_reloads_test_data(http):
    counts = json.loads(http.cli("seed").strip().splitlines()[-1])
    assert counts == {"clinics": 3, "staff": 5, "persons": 16}
