"""Staff identity: a JWT from the region's IdP (SITHS) carrying the HSA-id and roles per clinic.

Checked with PyJWT against the issuer's keys: a JWKS URL in production, the local issuer's key file
for the local stack and tests (`python -m local staff-token`). Signature, issuer, audience and expiry
are verified; only RS256/ES256 are accepted (never `none` or a shared secret).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError, Forbidden, NotFound, Unauthenticated

Role = Literal["case-receiver", "case-handler", "clinic-admin"]
ROLES: frozenset[str] = frozenset({"case-receiver", "case-handler", "clinic-admin"})
CASE_ROLES: frozenset[str] = frozenset({"case-receiver", "case-handler"})


@dataclass(frozen=True)
class StaffPrincipal:
    hsa_id: str
    name: str
    roles: frozenset[tuple[str, str]]  # (clinic HSA-id, role)

    def has_role(self, clinic_id: str, *roles: str) -> bool:
        return any((clinic_id, role) in self.roles for role in roles)

    def require(self, clinic_id: str, *roles: str) -> None:
        """403 when the staff member has some role at the clinic but not this one; 404 when none (R-21)."""
        if self.has_role(clinic_id, *roles):
            return
        if any(clinic == clinic_id for clinic, _ in self.roles):
            raise Forbidden(
                "Din behörighet på mottagningen räcker inte för detta.",
                code="role-required",
                extra={"requiredRoles": sorted(roles)},
            )
        raise NotFound("Finns inte.", code="not-found")


@cache
def _key() -> Any:
    config = settings()
    if config.staff_jwks_url:
        import jwt

        return jwt.PyJWKClient(config.staff_jwks_url, cache_keys=True, lifespan=3600)
    if config.staff_jwt_key_path:
        from cryptography.hazmat.primitives import serialization

        with open(config.staff_jwt_key_path, "rb") as handle:
            pem = handle.read()
        if b"PRIVATE KEY" in pem:  # the local issuer's key file: verify with its public half
            return serialization.load_pem_private_key(pem, password=None).public_key()
        return serialization.load_pem_public_key(pem)
    raise ConfigurationError("set STAFF_JWKS_URL or STAFF_JWT_KEY_PATH")


def reset_key_cache() -> None:
    _key.cache_clear()


def verified_claims(token: str, *, required: list[str], invalid: Unauthenticated) -> dict[str, Any]:
    """The claims of a JWT from the staff IdP (signature, issuer, audience, expiry checked), or `invalid`.
    Shared by staff tokens and care-system (machine) tokens."""
    import jwt

    config = settings()
    key = _key()
    try:
        signing_key = key.get_signing_key_from_jwt(token).key if isinstance(key, jwt.PyJWKClient) else key
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key,
            algorithms=["RS256", "ES256"],
            audience=config.staff_jwt_audience,
            issuer=config.staff_jwt_issuer,
            options={"require": ["exp", "iss", "aud", *required]},
            leeway=30,
        )
    except jwt.PyJWTError:
        raise invalid from None
    return claims


def authenticate_staff(token: str) -> StaffPrincipal:
    claims = verified_claims(
        token,
        required=["hsaId"],
        invalid=Unauthenticated("Ogiltig eller utgången personalinloggning.", code="staff-token-invalid"),
    )
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not isinstance(claims.get("hsaId"), str):
        raise Unauthenticated("Ogiltig personalinloggning.", code="staff-token-invalid")
    pairs = frozenset(
        (str(r.get("clinic")), str(r.get("role")))
        for r in roles
        if isinstance(r, dict) and r.get("role") in ROLES and isinstance(r.get("clinic"), str)
    )
    return StaffPrincipal(hsa_id=claims["hsaId"], name=str(claims.get("name") or claims["hsaId"]), roles=pairs)


def from_request(request: Any) -> StaffPrincipal:
    from chalicelib.core.http import bearer_token

    return authenticate_staff(bearer_token(request))
