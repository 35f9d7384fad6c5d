"""The settings rules (R-10, R-12, R-14, R-33), pure: each rule has a case that fails if it breaks."""

from __future__ import annotations

import pytest

from chalicelib.settings import rules
from chalicelib.settings.rules import GuardianContact, RuleBroken, Settings

MOBILE = "+46701740605"  # PTS fiction range
FULL = Settings(
    mobile=MOBILE,
    email="sara@example.com",
    notify_by_sms=True,
    notify_by_email=True,
    share_contact_details=True,
    digital_only=True,
)


def code_of(current: Settings, changes: dict) -> str:
    with pytest.raises(RuleBroken) as raised:
        rules.apply(current, changes)
    assert raised.value.status == 422 and raised.value.detail
    return raised.value.code


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("070-174 06 05", MOBILE),
        ("0701740605", MOBILE),
        ("+46 70 174 06 99", "+46701740699"),
        ("0046701740605", MOBILE),
        ("070-123 45 67", "+46701234567"),
    ],
)
def test_mobile_is_stored_as_e164(raw, e164):
    assert rules.normalize_mobile(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "08-123 456 78", "+4681234567", "abc", "", "0" * 40, "070-17"])
def test_invalid_and_fixed_line_numbers_are_refused(raw):
    with pytest.raises(RuleBroken) as raised:
        rules.normalize_mobile(raw)
    assert raised.value.code == "invalid-mobile" and (not raw or raw not in raised.value.detail)


def test_email_is_normalized_and_invalid_refused():
    assert rules.normalize_email("Sara.Berg@EXAMPLE.com") == "Sara.Berg@example.com"
    for raw in ("sara", "sara@", "sara@localhost", "a b@example.com"):
        with pytest.raises(RuleBroken) as raised:
            rules.normalize_email(raw)
        assert raised.value.code == "invalid-email"


def test_each_rule_names_itself():
    empty = Settings()
    assert code_of(empty, {"notifyBySms": True}) == "sms-needs-mobile"
    assert code_of(empty, {"notifyByEmail": True, "mobile": MOBILE}) == "email-needs-email"
    assert code_of(empty, {"shareContactDetails": True}) == "sharing-needs-contact-details"
    with_mobile = Settings(mobile=MOBILE)
    assert (
        code_of(with_mobile, {"notifyBySms": True, "digitalOnly": True})
        == "digital-only-needs-notifications-and-sharing"
    )
    assert (
        code_of(with_mobile, {"shareContactDetails": True, "digitalOnly": True})
        == "digital-only-needs-notifications-and-sharing"
    )
    new, changed = rules.apply(with_mobile, {"notifyBySms": True, "shareContactDetails": True, "digitalOnly": True})
    assert new.digital_only and changed == ["notifyBySms", "shareContactDetails", "digitalOnly"]


def test_nothing_may_break_an_existing_digital_only():
    assert (
        code_of(FULL, {"notifyBySms": False, "notifyByEmail": False}) == "digital-only-needs-notifications-and-sharing"
    )
    assert code_of(FULL, {"shareContactDetails": False}) == "digital-only-needs-notifications-and-sharing"
    assert code_of(FULL, {"mobile": None}) == "sms-needs-mobile"
    # one notification channel is enough
    new, _ = rules.apply(FULL, {"notifyByEmail": False})
    assert new.digital_only and new.notify_by_sms
    new, _ = rules.apply(FULL, {"digitalOnly": False, "shareContactDetails": False})
    assert not new.digital_only and not new.share_contact_details


def test_merge_semantics_and_the_current_state_is_never_modified():
    new, changed = rules.apply(FULL, {"email": None, "notifyByEmail": False})
    assert new.email is None and new.mobile == MOBILE and changed == ["email", "notifyByEmail"]
    assert FULL.email == "sara@example.com"
    assert rules.apply(FULL, {}) == (FULL, [])
    assert code_of(FULL, {"notifyBySms": None}) == "invalid-input"


def test_changing_a_detail_clears_its_delivery_problem_only():
    problem = {"status": "permanent-failure", "at": "2026-11-22T09:00:00.000Z", "notificationId": "n1"}
    current = Settings(mobile=MOBILE, email="sara@example.com", delivery_problems={"sms": problem, "email": problem})
    same, _ = rules.apply(current, {"mobile": "070-174 06 05"})  # the same number, written differently
    assert same.delivery_problems == {"sms": problem, "email": problem}
    new, _ = rules.apply(current, {"mobile": "070-174 06 99"})
    assert new.delivery_problems == {"email": problem}
    new, _ = rules.apply(current, {"email": "sara.b@example.com"})
    assert new.delivery_problems == {"sms": problem}


def test_guardian_edits_only_their_own_entry():
    current = Settings(guardian_contacts={"erik": GuardianContact(email="erik@example.com")})
    new, changed = rules.apply_guardian_contact(current, "anna", {"mobile": "070-174 06 05"})
    assert new.guardian_contacts["anna"].mobile == MOBILE and changed == ["guardianContact.mobile"]
    assert new.guardian_contacts["erik"] == current.guardian_contacts["erik"]
    cleared, _ = rules.apply_guardian_contact(new, "anna", {"mobile": None})
    assert "anna" not in cleared.guardian_contacts and "erik" in cleared.guardian_contacts
    with pytest.raises(RuleBroken):
        rules.apply_guardian_contact(current, "anna", {"notifyBySms": True})


def test_records_round_trip():
    full = Settings(
        mobile=MOBILE,
        notify_by_sms=True,
        guardian_contacts={"anna": GuardianContact(mobile=MOBILE)},
        delivery_problems={"sms": {"status": "permanent-failure", "at": "x", "notificationId": "n"}},
        version=3,
    )
    assert Settings.from_record({**full.to_record(), "version": 3}) == full
    assert Settings.from_record(None) == Settings()
