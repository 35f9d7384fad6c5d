"""The settings rules (R-10, R-12, R-14, R-33), pure: current settings + a change → new settings, or a 422.

A change has JSON merge semantics: a field that is absent stays as it is, `null` clears a mobile or an
e-mail. Numbers are validated with `phonenumbers` (default region SE, mobile only, stored as E.164) and
addresses with `email-validator` (syntax only, stored normalized). Both libraries are imported only
when a detail is actually being changed.

Nothing here logs or echoes a detail: problems name the rule, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from chalicelib.core.errors import InvalidInput

Channel = Literal["sms", "email"]
CHANNELS: tuple[Channel, ...] = ("sms", "email")
DETAIL_OF: dict[Channel, str] = {"sms": "mobile", "email": "email"}

# The fields a change may touch (camelCase, as on the wire and in the item).
FLAGS = ("notifyBySms", "notifyByEmail", "shareContactDetails", "digitalOnly")
DETAILS = ("mobile", "email")
FIELDS = DETAILS + FLAGS


class RuleBroken(InvalidInput):
    """A 422 whose `code` names the rule; nothing is written."""

    title = "Inställningarna kunde inte sparas"


@dataclass(frozen=True)
class GuardianContact:
    mobile: str | None = None
    email: str | None = None
    delivery_problems: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.mobile and not self.email

    def to_record(self) -> dict[str, Any]:
        return {"mobile": self.mobile, "email": self.email, "deliveryProblems": self.delivery_problems or None}

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> GuardianContact:
        return cls(
            mobile=raw.get("mobile"),
            email=raw.get("email"),
            delivery_problems=dict(raw.get("deliveryProblems") or {}),
        )


@dataclass(frozen=True)
class Settings:
    """A citizen's settings. Defaults (no item yet): nothing set, everything off."""

    mobile: str | None = None
    email: str | None = None
    notify_by_sms: bool = False
    notify_by_email: bool = False
    share_contact_details: bool = False
    digital_only: bool = False
    guardian_contacts: dict[str, GuardianContact] = field(default_factory=dict)
    delivery_problems: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_delivery: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated_at: str | None = None
    version: int = 0  # 0: no item stored yet

    def detail(self, channel: Channel) -> str | None:
        return self.mobile if channel == "sms" else self.email

    def notifies(self, channel: Channel) -> bool:
        return self.notify_by_sms if channel == "sms" else self.notify_by_email

    def to_record(self) -> dict[str, Any]:
        return {
            "mobile": self.mobile,
            "email": self.email,
            "notifyBySms": self.notify_by_sms,
            "notifyByEmail": self.notify_by_email,
            "shareContactDetails": self.share_contact_details,
            "digitalOnly": self.digital_only,
            "guardianContacts": {k: v.to_record() for k, v in self.guardian_contacts.items()} or None,
            "deliveryProblems": self.delivery_problems or None,
            "lastDelivery": self.last_delivery or None,
            "updatedAt": self.updated_at,
        }

    @classmethod
    def from_record(cls, raw: Mapping[str, Any] | None) -> Settings:
        if not raw:
            return cls()
        return cls(
            mobile=raw.get("mobile"),
            email=raw.get("email"),
            notify_by_sms=bool(raw.get("notifyBySms", False)),
            notify_by_email=bool(raw.get("notifyByEmail", False)),
            share_contact_details=bool(raw.get("shareContactDetails", False)),
            digital_only=bool(raw.get("digitalOnly", False)),
            guardian_contacts={
                str(k): GuardianContact.from_record(v) for k, v in (raw.get("guardianContacts") or {}).items()
            },
            delivery_problems=dict(raw.get("deliveryProblems") or {}),
            last_delivery=dict(raw.get("lastDelivery") or {}),
            updated_at=raw.get("updatedAt"),
            version=int(raw.get("version", 0)),
        )


# ---------------------------------------------------------------- details


def normalize_mobile(value: str) -> str:
    """A Swedish or international mobile number → E.164, or 422 `invalid-mobile`."""
    import phonenumbers

    invalid = RuleBroken(
        "Mobilnumret är inte ett giltigt mobilnummer. Ange ett svenskt mobilnummer som börjar med 07, "
        "eller ett utländskt mobilnummer med landsnummer (+).",
        code="invalid-mobile",
    )
    if not isinstance(value, str) or not 3 <= len(value) <= 32:
        raise invalid
    try:
        number = phonenumbers.parse(value, "SE")
    except phonenumbers.NumberParseException:
        raise invalid from None
    mobile_types = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in mobile_types:
        raise invalid
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalize_email(value: str) -> str:
    """An e-mail address, syntax-checked and normalized, or 422 `invalid-email`."""
    from email_validator import EmailNotValidError, validate_email

    invalid = RuleBroken(
        "E-postadressen är inte giltig. Kontrollera att den är rätt skriven, till exempel namn@exempel.se.",
        code="invalid-email",
    )
    if not isinstance(value, str) or not 3 <= len(value) <= 254:
        raise invalid
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError:
        raise invalid from None


def _detail(changes: Mapping[str, Any], name: str, current: str | None) -> str | None:
    if name not in changes:
        return current
    value = changes[name]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # null (or an empty string) clears the detail
    return normalize_mobile(value) if name == "mobile" else normalize_email(value)


# ---------------------------------------------------------------- rules


def check(settings: Settings) -> None:
    """The rules every stored state must satisfy; the first broken one is the 422."""
    if settings.notify_by_sms and not settings.mobile:
        raise RuleBroken(
            "För att få avisering via sms behöver du ange ett mobilnummer. "
            "Fyll i mobilnumret, eller stäng av avisering via sms.",
            code="sms-needs-mobile",
        )
    if settings.notify_by_email and not settings.email:
        raise RuleBroken(
            "För att få avisering via e-post behöver du ange en e-postadress. "
            "Fyll i e-postadressen, eller stäng av avisering via e-post.",
            code="email-needs-email",
        )
    if settings.share_contact_details and not (settings.mobile or settings.email):
        raise RuleBroken(
            "För att dela dina kontaktuppgifter med vården behöver du ange ett mobilnummer eller en e-postadress.",
            code="sharing-needs-contact-details",
        )
    if settings.digital_only and not (
        (settings.notify_by_sms or settings.notify_by_email) and settings.share_contact_details
    ):
        raise RuleBroken(
            "För att välja att inte få brev hemskickade behöver du ha avisering via sms eller e-post påslagen "
            "och dela dina kontaktuppgifter med vården. Stäng först av valet att inte få brev hemskickade "
            "om du vill ändra detta.",
            code="digital-only-needs-notifications-and-sharing",
        )


def apply(current: Settings, changes: Mapping[str, Any]) -> tuple[Settings, list[str]]:
    """The settings after `changes` (camelCase keys of FIELDS; absent = unchanged), and the names of
    the fields whose value actually changed. Raises RuleBroken; `current` is never modified."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise RuleBroken("Okänd inställning.", code="invalid-input")
    for flag in FLAGS:
        if flag in changes and not isinstance(changes[flag], bool):
            raise RuleBroken("Ange sant eller falskt.", code="invalid-input")
    mobile = _detail(changes, "mobile", current.mobile)
    email = _detail(changes, "email", current.email)
    problems = dict(current.delivery_problems)
    if mobile != current.mobile:
        problems.pop("sms", None)  # a new number gets a fresh chance
    if email != current.email:
        problems.pop("email", None)
    new = replace(
        current,
        mobile=mobile,
        email=email,
        notify_by_sms=changes.get("notifyBySms", current.notify_by_sms),
        notify_by_email=changes.get("notifyByEmail", current.notify_by_email),
        share_contact_details=changes.get("shareContactDetails", current.share_contact_details),
        digital_only=changes.get("digitalOnly", current.digital_only),
        delivery_problems=problems,
    )
    check(new)
    before, after = current.to_record(), new.to_record()
    return new, [name for name in FIELDS if before[name] != after[name]]


def apply_guardian_contact(
    current: Settings, guardian_citizen_id: str, changes: Mapping[str, Any]
) -> tuple[Settings, list[str]]:
    """R-33: a guardian sets their own mobile/e-mail under the child's settings (merge semantics)."""
    unknown = set(changes) - set(DETAILS)
    if unknown:
        raise RuleBroken("Okänd uppgift.", code="invalid-input")
    entry = current.guardian_contacts.get(guardian_citizen_id, GuardianContact())
    mobile = _detail(changes, "mobile", entry.mobile)
    email = _detail(changes, "email", entry.email)
    problems = dict(entry.delivery_problems)
    if mobile != entry.mobile:
        problems.pop("sms", None)
    if email != entry.email:
        problems.pop("email", None)
    contacts = dict(current.guardian_contacts)
    updated = GuardianContact(mobile=mobile, email=email, delivery_problems=problems)
    if updated.empty:
        contacts.pop(guardian_citizen_id, None)
    else:
        contacts[guardian_citizen_id] = updated
    changed = [n for n, old, new in (("mobile", entry.mobile, mobile), ("email", entry.email, email)) if old != new]
    return replace(current, guardian_contacts=contacts), [f"guardianContact.{n}" for n in changed]
