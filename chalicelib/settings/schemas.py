"""Settings and the staff lookup on the wire (API.md: settings, /staff/citizen-lookup)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.core.schemas import ApiModel, PersonnummerField

Mobile = Field(
    default=None,
    max_length=40,
    description="Mobile number; stored as E.164. null clears it",
    examples=["070-174 06 05"],
)
Email = Field(default=None, max_length=254, description="E-mail address; stored normalized. null clears it")


def changes_of(model: ApiModel) -> dict[str, Any]:
    """JSON merge semantics: only the fields the caller sent, camelCase; null stays null (= clear)."""
    return model.model_dump(by_alias=True, include=set(model.model_fields_set))


class GuardianContactPatch(ApiModel):
    """R-33: the calling guardian's own mobile/e-mail under the child's settings."""

    mobile: str | None = Mobile
    email: str | None = Email


class SettingsChanges(ApiModel):
    """Absent = unchanged; null clears mobile/e-mail."""

    mobile: str | None = Mobile
    email: str | None = Email
    notify_by_sms: bool | None = None
    notify_by_email: bool | None = None
    share_contact_details: bool | None = Field(
        default=None, description="R-13: care providers may read the mobile/e-mail through the contact-details service"
    )
    digital_only: bool | None = Field(
        default=None, description="R-14: no paper letters; needs notifications on and contact details shared"
    )


class SettingsPatch(SettingsChanges):
    guardian_contact: GuardianContactPatch | None = Field(
        default=None, description="Only for a guardian acting for a child under 13: the guardian's own entry"
    )


class DeliveryProblem(ApiModel):
    status: str
    at: str


class GuardianContactOut(ApiModel):
    mobile: str | None
    email: str | None
    delivery_problems: dict[str, DeliveryProblem] = Field(default_factory=dict)


class SettingsOut(ApiModel):
    mobile: str | None
    email: str | None
    notify_by_sms: bool
    notify_by_email: bool
    share_contact_details: bool
    digital_only: bool
    guardian_contacts: dict[str, GuardianContactOut] | None = Field(
        default=None, description="Only when a guardian reads a child's settings: the guardian's own entry"
    )
    delivery_problems: dict[str, DeliveryProblem] = Field(
        description='Failed deliveries per channel ("sms", "email"), kept until that detail is changed (R-12)'
    )


class CitizenLookupRequest(ApiModel):
    personnummer: PersonnummerField
    clinic_id: str | None = Field(
        default=None, max_length=64, description="The clinic the lookup is made for (default: the first with a role)"
    )


class LastDelivery(ApiModel):
    channel: str
    status: str
    at: str


class DeliveryProblemFlags(ApiModel):
    sms: bool
    email: bool


class CitizenLookup(ApiModel):
    """The notification method only: never the number or the address (R-10, R-12)."""

    activated: bool
    locked: bool
    protected_identity: bool
    notify_by_sms: bool
    notify_by_email: bool
    digital_only: bool
    last_delivery: LastDelivery | None = None
    delivery_problems: DeliveryProblemFlags
