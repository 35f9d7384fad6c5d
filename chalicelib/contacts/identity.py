"""Care-provider systems calling the contact-details service (PU-tjänsten): a machine JWT from the
same IdP as staff tokens, verified the same way (staff.identity.verified_claims), that must carry
`client` (the system's id) and a `scope` containing `contact-details:read` (booking systems:
`bookings:write`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import Forbidden, Unauthenticated

SCOPE = "contact-details:read"


@dataclass(frozen=True)
class CareSystem:
    client: str


def _scopes(raw: Any) -> set[str]:
    if isinstance(raw, str):
        return set(raw.split())
    if isinstance(raw, list):
        return {s for s in raw if isinstance(s, str)}
    return set()


def authenticate_care_system(
    token: str, scope: str = SCOPE, refusal: str = "Systemet saknar behörighet att läsa kontaktuppgifter."
) -> CareSystem:
    """The calling system, if its token is valid (401) and carries `scope` (403 `scope-required`)."""
    from chalicelib.staff.identity import verified_claims

    invalid = Unauthenticated("Ogiltig eller utgången systeminloggning.", code="client-token-invalid")
    claims = verified_claims(token, required=["client", "scope"], invalid=invalid)
    client = claims.get("client")
    if not isinstance(client, str) or not 1 <= len(client) <= 128:
        raise invalid
    if scope not in _scopes(claims.get("scope")):
        raise Forbidden(refusal, code="scope-required")
    return CareSystem(client=client)
