from __future__ import annotations

import time
from typing import Any

import jwt

CLINIC = "SE2321000016-1001"
OTHER_CLINIC = "SE2321000016-2002"
RECEIVER = "SE2321000016-S001"
HANDLER = "SE2321000016-S002"
ADMIN = "SE2321000016-S003"
OTHER_STAFF = "SE2321000016-S004"

ROLES = {
    RECEIVER: [(CLINIC, "case-receiver")],
    HANDLER: [(CLINIC, "case-handler")],
    ADMIN: [(CLINIC, "clinic-admin")],
    OTHER_STAFF: [(OTHER_CLINIC, "case-receiver"), (OTHER_CLINIC, "case-handler")],
}


def staff_token(hsa_id: str, roles: list[tuple[str, str]] | None = None, **overrides: Any) -> str:
    from local.bootstrap import ensure_staff_key

    now = int(time.time())
    claims = {
        "iss": "local-staff-idp",
        "aud": "e-services",
        "hsaId": hsa_id,
        "name": f"Personal {hsa_id[-4:]}",
        "roles": [{"clinic": c, "role": r} for c, r in (roles if roles is not None else ROLES[hsa_id])],
        "iat": now,
        "exp": now + 600,
        **overrides,
    }
    return jwt.encode(claims, ensure_staff_key().read_bytes(), algorithm="RS256")


def start_case(
    api: Any,
    token: str,
    *,
    cid: str = "me",
    case_type: str = "fraga-sjukskoterskan",
    attachment_ids: list[str] | None = None,
    key: str | None = None,
    clinic: str = CLINIC,
) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else None
    status, body, _ = api.call(
        "POST",
        f"/citizens/{cid}/cases",
        {
            "clinicId": clinic,
            "caseTypeId": case_type,
            "subject": "Utslag på armen",
            "body": "Jag har fått utslag. Vad ska jag göra?",
            "attachmentIds": attachment_ids or [],
        },
        token=token,
        headers=headers,
    )
    return status, body
