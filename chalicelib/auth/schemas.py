"""Request and response models of the login routes (and `GET /me`, which collect embeds)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.core.schemas import ApiModel, PersonnummerField

ORDER_REF = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class StartRequest(ApiModel):
    personnummer: PersonnummerField | None = Field(
        default=None, description="Optional: becomes BankID's requirement.personalNumber"
    )


class StartResponse(ApiModel):
    order_ref: str
    auto_start_token: str
    qr_start_token: str


class OrderRequest(ApiModel):
    order_ref: str = ORDER_REF


class FrejaStartRequest(ApiModel):
    personnummer: PersonnummerField | None = Field(
        default=None,
        description="Optional: the order goes to this person's Freja eID app (SSN); without it a QR order",
    )


class FrejaStartResponse(ApiModel):
    auth_ref: str
    qr_code_secret: str | None = Field(
        default=None, description="QR orders: the secret the app turns into Freja's animated QR code"
    )


class FrejaOrderRequest(ApiModel):
    auth_ref: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9+/=_.-]+$")


class LockCollectResponse(ApiModel):
    status: Literal["pending", "failed", "complete"]
    hint_code: str | None = None


class QrResponse(ApiModel):
    qr_data: str


class Address(ApiModel):
    street: str
    postal_code: str
    city: str


class ProxyLink(ApiModel):
    citizen_id: str
    name: str
    relation: Literal["guardian"]


class Me(ApiModel):
    citizen_id: str
    name: str
    given_name: str
    surname: str
    address: Address | None = None
    protected_identity: bool
    first_login_at: str | None = None
    must_review_settings: bool
    record_sealed: bool
    acting_for: list[ProxyLink]


class SessionOut(ApiModel):
    token: str
    expires_at: str


class CollectResponse(ApiModel):
    status: Literal["pending", "failed", "complete"]
    hint_code: str | None = None
    session: SessionOut | None = None
    me: Me | None = None
