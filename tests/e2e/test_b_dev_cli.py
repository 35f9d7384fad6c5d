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
    assert counts == {"clinics": 3, "staff": 6, "persons": 17}


def test_clock_set_moves_the_running_stacks_api_and_clock_reset_brings_it_back(http):
    """`clock set` (issue 9's tool): what the API writes carries the set time; after `reset`, real time."""
    from tests.integration.case_helpers import CLINIC
    from tests.support import pnr

    def new_case_created_at(token: str) -> str:
        created = http.call(
            "POST",
            "/citizens/me/cases",
            {"clinicId": CLINIC, "caseTypeId": "fraga-sjukskoterskan", "subject": "Tid", "body": "Vilken tid?"},
            token=token,
        )
        assert created.status_code == 201, created.text
        item = http.call("GET", f"/citizens/me/inbox/{created.json()['caseId']}", token=token)
        assert item.status_code == 200, item.text
        return str(item.json()["case"]["createdAt"])

    # Leo is in no other end-to-end test: his 2031 items stay the newest in his inbox only.
    try:
        shown = json.loads(http.cli("clock", "set", "2031-03-10T17:59:00+01:00").strip())
        assert shown["now"].startswith("2031-03-10T16:59")
        citizen = http.token_for(pnr("Leo"))
        assert new_case_created_at(citizen).startswith("2031-03-10T16:59")
    finally:
        reset = json.loads(http.cli("clock", "reset").strip())
    assert reset["offsetSeconds"] == 0.0
    citizen = http.token_for(pnr("Leo"))
    assert not new_case_created_at(citizen).startswith("2031")


def test_machine_token_is_accepted_for_its_scope_and_refused_without_it(http):
    from tests.support import pnr

    token = http.cli("machine-token", "--client", "journal-system-1", "--scope", "contact-details:read").strip()
    key = serialization.load_pem_private_key((LOCAL_DIR / "staff-jwt-key.pem").read_bytes(), password=None)
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], audience="e-services")
    assert claims["client"] == "journal-system-1" and claims["scope"] == "contact-details:read"
    lookup = http.call("POST", "/contact-details/lookup", {"personnummer": pnr("Leo")}, token=token)
    assert lookup.status_code in (200, 404), lookup.text  # shared details, or not shared: never 401/403
    other = http.cli("machine-token", "--client", "pasis-1", "--scope", "bookings:write").strip()
    refused = http.call("POST", "/contact-details/lookup", {"personnummer": pnr("Leo")}, token=other)
    assert refused.status_code == 403 and refused.json()["code"] == "scope-required"
