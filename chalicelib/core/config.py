"""Settings read from the environment, once, on first use (never at import: `cdk synth` imports app.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from chalicelib.core.errors import ConfigurationError
from chalicelib.core.process import process_wide

DEFAULT_BANKID_URL = "https://appapi2.bankid.com/rp/v6.0/"
DEFAULT_FREJA_URL = "https://services.prod.frejaeid.com"


@dataclass(frozen=True)
class Settings:
    stage: str
    main_table: str
    audit_table: str
    idempotency_table: str
    # Key for the keyed hash that turns a personnummer into a lookup key. Locally a plain value;
    # in AWS the ARN of a Secrets Manager secret, fetched lazily and cached.
    pnr_hmac_secret: str | None
    pnr_hmac_secret_arn: str | None
    bankid_api_url: str
    bankid_cert_secret_arn: str | None
    bankid_cert_path: str | None
    bankid_key_path: str | None
    population_register_url: str | None
    population_seed_path: str | None
    session_ttl_seconds: int
    bankid_order_ttl_seconds: int
    # Staff JWTs: issuer and audience always; the key from a PEM file (local issuer) or the IdP's JWKS.
    staff_jwt_issuer: str
    staff_jwt_audience: str
    staff_jwt_key_path: str | None
    staff_jwks_url: str | None
    # Login starts allowed per client address per minute, and per personnummer per five minutes
    # (0 turns a limit off). The WAF limits addresses in front of the API as well (infra/).
    auth_start_limit_per_address: int
    auth_start_limit_per_person: int
    # Notifications: the queue (a URL, or locally its name), the sender address, the SES configuration
    # set (delivery events), and the provider send rate per process (None: the sender's default).
    notifications_queue: str | None = None
    notification_from_email: str | None = None
    ses_configuration_set: str | None = None
    notification_send_rate_per_s: float | None = None
    attachments_bucket: str | None = None  # the attachments bucket's name (S3)
    documents_bucket: str | None = None  # documents made for care's record systems (S3), e.g. health declarations
    # Appointment notices: the release queue (a URL, or locally its name) and the bookings bus's name.
    notice_release_queue: str | None = None
    bookings_bus: str | None = None
    # Web booking: the booking systems' endpoints and credentials, `{"PASiS": {"url", "apiKey"}, "PMO": ...}`;
    # locally a JSON value, in AWS the ARN of a Secrets Manager secret holding it.
    booking_systems: str | None = None
    booking_systems_secret_arn: str | None = None
    # Freja eID: the RP API's base URL; the JWS signing certificates it trusts from a PEM bundle, and/or the
    # ARN of a Secrets Manager secret `{"clientCertificate", "clientKey", "trustedCertificates": [pem, …]}`.
    freja_api_url: str = DEFAULT_FREJA_URL
    freja_trusted_certs_path: str | None = None
    freja_secret_arn: str | None = None


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def _optional_float(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else None


@process_wide
def settings() -> Settings:
    """The process's settings. Tests that change the environment call `core.process.reset()`."""
    return Settings(
        stage=os.environ.get("STAGE", "local"),
        main_table=_required("MAIN_TABLE"),
        audit_table=_required("AUDIT_TABLE"),
        idempotency_table=os.environ.get("IDEMPOTENCY_TABLE", ""),
        pnr_hmac_secret=os.environ.get("PNR_HMAC_SECRET"),
        pnr_hmac_secret_arn=os.environ.get("PNR_HMAC_SECRET_ARN"),
        bankid_api_url=os.environ.get("BANKID_API_URL", DEFAULT_BANKID_URL),
        bankid_cert_secret_arn=os.environ.get("BANKID_CERT_SECRET_ARN"),
        bankid_cert_path=os.environ.get("BANKID_CERT_PATH"),
        bankid_key_path=os.environ.get("BANKID_KEY_PATH"),
        population_register_url=os.environ.get("POPULATION_REGISTER_URL"),
        population_seed_path=os.environ.get("POPULATION_SEED_PATH"),
        session_ttl_seconds=int(os.environ.get("SESSION_TTL_SECONDS", "3600")),
        bankid_order_ttl_seconds=int(os.environ.get("BANKID_ORDER_TTL_SECONDS", "600")),
        staff_jwt_issuer=os.environ.get("STAFF_JWT_ISSUER", "local-staff-idp"),
        staff_jwt_audience=os.environ.get("STAFF_JWT_AUDIENCE", "e-services"),
        staff_jwt_key_path=os.environ.get("STAFF_JWT_KEY_PATH"),
        staff_jwks_url=os.environ.get("STAFF_JWKS_URL"),
        auth_start_limit_per_address=int(os.environ.get("AUTH_START_LIMIT_PER_ADDRESS", "30")),
        auth_start_limit_per_person=int(os.environ.get("AUTH_START_LIMIT_PER_PERSON", "5")),
        notifications_queue=os.environ.get("NOTIFICATIONS_QUEUE") or None,
        notification_from_email=os.environ.get("NOTIFICATION_FROM_EMAIL") or None,
        ses_configuration_set=os.environ.get("SES_CONFIGURATION_SET") or None,
        notification_send_rate_per_s=_optional_float("NOTIFICATION_SEND_RATE_PER_S"),
        attachments_bucket=os.environ.get("ATTACHMENTS_BUCKET") or None,
        documents_bucket=os.environ.get("DOCUMENTS_BUCKET") or None,
        notice_release_queue=os.environ.get("NOTICE_RELEASE_QUEUE") or None,
        bookings_bus=os.environ.get("BOOKINGS_BUS") or None,
        booking_systems=os.environ.get("BOOKING_SYSTEMS") or None,
        booking_systems_secret_arn=os.environ.get("BOOKING_SYSTEMS_SECRET_ARN") or None,
        freja_api_url=os.environ.get("FREJA_API_URL") or DEFAULT_FREJA_URL,
        freja_trusted_certs_path=os.environ.get("FREJA_TRUSTED_CERTS_PATH") or None,
        freja_secret_arn=os.environ.get("FREJA_SECRET_ARN") or None,
    )


@process_wide
def local_clock_file() -> str | None:
    """The file the dev CLI's `clock set` writes, honoured on the local stage only (never in AWS).
    Read apart from `settings()`: the clock runs where no table is configured (unit tests, tools)."""
    if os.environ.get("STAGE", "local") != "local":
        return None
    return os.environ.get("LOCAL_CLOCK_FILE") or None
