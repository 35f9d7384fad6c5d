"""Staff identity: a JWT from the region's IdP (SITHS) carrying the HSA-id and roles per clinic.

Checked with PyJWT against the issuer's keys: a JWKS URL in production, the local issuer's key file
for the local stack and tests (`python -m local staff-token`). Signature, issuer, audience and expiry
are verified; the algorithm is the key's own (RS256 for an RSA key, ES256 for an EC key), never the
one the token names, so `none`, a shared secret or a mismatched algorithm is a 401. Expiry, not-before
and issued-at are checked against the app's clock (`core.clock.system_clock`: real time, except on the
local stage, where `python -m local clock set` moves it and the dev CLI issues its tokens on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.core.clock import system_clock
from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError, Forbidden, NotFound, ServiceUnavailable, Unauthenticated
from chalicelib.core.process import process_wide

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


# The algorithm follows from the key, never from the token's header: an RSA key verifies RS256 only,
# an EC P-256 key ES256 only. Anything else (none, HS256 with the public key as secret, ES256 against
# an RSA key) is simply an invalid token.
_ALGORITHM_FOR_KEY = {"RSAPublicKey": "RS256", "EllipticCurvePublicKey": "ES256"}
ALLOWED_ALGORITHMS = frozenset(_ALGORITHM_FOR_KEY.values())


@process_wide
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


def _algorithm(key: Any) -> str | None:
    for kind in type(key).__mro__:
        if kind.__name__ in _ALGORITHM_FOR_KEY:
            return _ALGORITHM_FOR_KEY[kind.__name__]
    return None


def _signing_key(token: str) -> tuple[Any, str | None]:
    import jwt

    key = _key()
    if isinstance(key, jwt.PyJWKClient):
        jwk = key.get_signing_key_from_jwt(token)
        # The JWKS names the key's algorithm (`alg`); without it, the key type decides.
        name = jwk.algorithm_name if jwk.algorithm_name in ALLOWED_ALGORITHMS else _algorithm(jwk.key)
        return jwk.key, name
    return key, _algorithm(key)


LEEWAY_S = 30  # clock skew allowed between the IdP and us, on exp, nbf and iat


def _check_times(claims: dict[str, Any], now: float) -> None:
    """PyJWT's exp/nbf/iat rules with its leeway, against `now` (the app's clock) instead of PyJWT's own
    time.time(): expired at `exp` (+ leeway), not valid before `nbf` or `iat` (- leeway). Raises PyJWT's
    errors, so the caller's handling is the same as for the other checks."""
    import jwt

    def seconds(name: str) -> int:
        try:
            return int(claims[name])
        except (ValueError, TypeError, OverflowError):
            raise jwt.DecodeError(f"the {name} claim must be an integer") from None

    if seconds("exp") <= now - LEEWAY_S:  # `exp` is required (decode's `require`)
        raise jwt.ExpiredSignatureError("Signature has expired")
    for name in ("nbf", "iat"):
        if name in claims and seconds(name) > now + LEEWAY_S:
            raise jwt.ImmatureSignatureError(f"The token is not yet valid ({name})")


def verified_claims(token: str, *, required: list[str], invalid: Unauthenticated) -> dict[str, Any]:
    """The claims of a JWT from the staff IdP (signature, issuer, audience, expiry checked), or `invalid`.
    Shared by staff tokens and care-system (machine) tokens. Whatever the token says of itself (header
    algorithm, key id, malformed parts), the answer is the claims or 401, never an exception."""
    import jwt

    config = settings()
    try:
        header = jwt.get_unverified_header(token)
        signing_key, algorithm = _signing_key(token)
        if algorithm is None or header.get("alg") != algorithm:
            raise invalid
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key,
            algorithms=[algorithm],
            audience=config.staff_jwt_audience,
            issuer=config.staff_jwt_issuer,
            # The times are checked below, on the app's clock.
            options={
                "require": ["exp", "iss", "aud", *required],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        _check_times(claims, system_clock().timestamp())
    except jwt.PyJWKClientConnectionError:
        raise ServiceUnavailable(
            "Inloggningstjänsten för personal svarar inte just nu.", code="idp-unavailable"
        ) from None
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
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
