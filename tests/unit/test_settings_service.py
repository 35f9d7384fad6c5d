"""The settings service against in-memory repositories (no DynamoDB): the rules of a change, its audit
entry, optimistic concurrency, the support desk's change and the notification pipeline's contract.

Each test names the rule (DOMAIN.md) it guards; tests/integration/test_settings.py covers the same rules
through the HTTP routes against DynamoDB Local."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.accounts.models import Account
from chalicelib.audit.models import SupportRequest, citizen_subject, person_subject
from chalicelib.core.clock import fixed_clock
from chalicelib.core.errors import Conflict
from chalicelib.core.personal_number import lookup_key
from chalicelib.guardians.service import Subject
from chalicelib.settings import rules, service
from chalicelib.settings.rules import RuleBroken, Settings
from tests.support import at, pnr
from tests.unit.fakes.settings import settings_stores

CLOCK = fixed_clock(at("2026-11-22T12:00:00Z"))
MOBILE, MOBILE_E164 = "070-174 06 05", "+46701740605"
DESK = SupportRequest(ticket_ref="EASIT-42", region="Region Kronoberg", actor="vis-anna")


def _account(citizen_id: str, personnummer: str = "198504022396") -> Account:
    return Account(citizen_id, personnummer, "active", "2026-01-01T00:00:00.000Z", "self", None, 0, 1)


SARA = _account("sara", pnr("Sara"))
ELSA = _account("elsa", pnr("Elsa"))
OWN = Subject("sara", SARA, proxy=False, actor_citizen_id="sara")
ANNA_FOR_ELSA = Subject("elsa", ELSA, proxy=True, actor_citizen_id="anna")
ERIK_FOR_ELSA = Subject("elsa", ELSA, proxy=True, actor_citizen_id="erik")


class World:
    def __init__(self) -> None:
        self.stores = settings_stores()
        self.repo, self.audit, self.accounts = self.stores.settings, self.stores.audit, self.stores.accounts

    def change(self, subject: Subject, changes, guardian_contact=None) -> dict:
        return service.change(subject, changes, guardian_contact=guardian_contact, clock=CLOCK, stores=self.stores)

    def by_support(self, personnummer: str, changes) -> tuple[str, dict]:
        return service.change_by_support(personnummer, changes, request=DESK, clock=CLOCK, stores=self.stores)

    def delivery(self, status: str, minute: int, sent_to: str | None = None, recipient: str = "self") -> None:
        service.record_delivery(
            "sara",
            recipient,
            "sms",
            status=status,
            at=datetime(2026, 11, 22, 9, minute, tzinfo=UTC),
            notification_id="n1",
            sent_to=sent_to,
            stores=self.stores,
        )


@pytest.fixture
def world() -> World:
    return World()


def test_r10_the_citizen_sets_a_mobile_stored_normalized_and_audited_by_field_name_only(world):
    view = world.change(OWN, {"mobile": MOBILE, "notifyBySms": True})
    assert view["mobile"] == MOBILE_E164 and view["notifyBySms"] is True
    assert world.repo.stored["sara"].version == 1 and world.repo.stored["sara"].updated_at
    [entry] = world.audit.entries
    assert (entry.subject, entry.action, entry.actor_kind) == (citizen_subject("sara"), "settings.change", "citizen")
    assert entry.details == {"fields": ["mobile", "notifyBySms"], "proxy": False}
    assert MOBILE_E164 not in str(entry) and "0701740605" not in str(entry)


def test_r11_r12_sms_notification_needs_a_mobile_and_nothing_is_written(world):
    with pytest.raises(RuleBroken) as broken:
        world.change(OWN, {"notifyBySms": True})
    assert broken.value.code == "sms-needs-mobile" and broken.value.status == 422
    assert world.repo.stored == {} and world.audit.entries == []


def test_r12_an_invalid_mobile_is_refused_and_the_valid_parts_are_not_written_either(world):
    with pytest.raises(RuleBroken) as broken:
        world.change(OWN, {"email": "sara@example.com", "mobile": "12345"})
    assert broken.value.code == "invalid-mobile" and world.repo.stored == {}


def test_r14_digital_only_needs_notifications_and_sharing(world):
    world.change(OWN, {"mobile": MOBILE, "notifyBySms": True})
    with pytest.raises(RuleBroken) as broken:
        world.change(OWN, {"digitalOnly": True})
    assert broken.value.code == "digital-only-needs-notifications-and-sharing"
    assert world.repo.stored["sara"].digital_only is False and len(world.audit.entries) == 1


def test_a_change_to_the_same_values_writes_nothing(world):
    world.change(OWN, {"mobile": MOBILE})
    world.change(OWN, {"mobile": MOBILE_E164})
    assert world.repo.writes == 1 and len(world.audit.entries) == 1 and world.repo.stored["sara"].version == 1


def test_r33_a_guardian_contact_belongs_under_the_childs_settings(world):
    with pytest.raises(RuleBroken) as broken:
        world.change(OWN, {}, guardian_contact={"mobile": MOBILE})
    assert broken.value.code == "guardian-contact-needs-child" and world.repo.stored == {}


def test_r33_each_guardian_sees_only_their_own_entry_and_both_are_notified(world):
    anna = world.change(ANNA_FOR_ELSA, {}, guardian_contact={"mobile": MOBILE})
    assert anna["guardianContacts"] == {"anna": {"mobile": MOBILE_E164, "email": None, "deliveryProblems": {}}}
    erik = world.change(ERIK_FOR_ELSA, {}, guardian_contact={"email": "erik@example.com"})
    assert set(erik["guardianContacts"]) == {"erik"} and MOBILE_E164 not in str(erik)
    assert service.notification_targets("elsa", stores=world.stores) == [
        ("guardian:anna", "sms"),
        ("guardian:erik", "email"),
    ]
    assert service.contact_for("elsa", "guardian:anna", "sms", stores=world.stores) == MOBILE_E164
    assert world.audit.entries[0].details == {"fields": ["guardianContact.mobile"], "proxy": True}
    assert world.audit.entries[0].actor == "anna"


def test_a_concurrent_change_between_read_and_write_is_retried_and_both_survive(world):
    world.change(OWN, {"mobile": MOBILE, "notifyBySms": True})
    original, calls = rules.apply, []

    def racing_apply(current, changes):
        if not calls:
            world.delivery("permanent-failure", 0)  # lands between this attempt's read and its write
        calls.append(current.version)
        return original(current, changes)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rules, "apply", racing_apply)
        view = world.change(OWN, {"email": "sara@example.com"})
    assert calls == [1, 2]
    assert view["email"] == "sara@example.com" and view["deliveryProblems"]["sms"]["status"] == "permanent-failure"
    assert world.repo.stored["sara"].version == 3


def test_a_change_that_keeps_losing_the_race_is_a_409_and_writes_nothing(world):
    world.change(OWN, {"mobile": MOBILE})

    def someone_else() -> None:  # bumps the version after every read
        current = world.repo.stored["sara"]
        world.repo.stored["sara"] = replace(current, version=current.version + 1)

    world.repo.after_read = someone_else
    with pytest.raises(Conflict) as conflict:
        world.change(OWN, {"email": "sara@example.com"})
    assert conflict.value.code == "concurrent-change" and conflict.value.status == 409
    assert world.repo.stored["sara"].email is None and len(world.audit.entries) == 1


def test_r15_the_support_desk_cannot_change_settings_of_someone_without_an_account(world):
    from chalicelib.accounts.service import NoAccount

    with pytest.raises(NoAccount):
        world.by_support(pnr("Sara"), {"notifyBySms": False})
    [entry] = world.audit.entries
    assert entry.subject == person_subject(lookup_key(pnr("Sara")))
    assert (entry.outcome, entry.ticket_ref, entry.details) == (
        "refused:no-account",
        "EASIT-42",
        {"fields": ["notifyBySms"]},
    )


def test_r15_the_support_desks_change_follows_the_same_rules_and_is_audited_with_its_ticket(world):
    world.accounts.seed(SARA, lookup_key(pnr("Sara")))
    with pytest.raises(RuleBroken):
        world.by_support(pnr("Sara"), {})
    with pytest.raises(RuleBroken):
        world.by_support(pnr("Sara"), {"notifyByEmail": True})
    citizen_id, view = world.by_support(pnr("Sara"), {"email": "sara@example.com", "notifyByEmail": True})
    assert citizen_id == "sara" and view["notifyByEmail"] is True
    assert world.audit.actions() == [
        ("settings.change", "refused:no-changes"),
        ("settings.change", "refused:email-needs-email"),
        ("settings.change", "ok"),
    ]
    done = world.audit.entries[-1]
    assert (done.actor_kind, done.actor, done.region, done.ticket_ref) == (
        "support-desk",
        "vis-anna",
        DESK.region,
        "EASIT-42",
    )


def test_r12_a_permanent_failure_shows_until_the_mobile_changes_and_old_news_never_wins(world):
    world.change(OWN, {"mobile": MOBILE, "notifyBySms": True})
    world.delivery("sending", 0)
    world.delivery("permanent-failure", 1)
    world.delivery("sending", 0)  # late and older: ignored
    stored = world.repo.stored["sara"]
    assert stored.last_delivery["sms"]["status"] == "permanent-failure"
    assert stored.delivery_problems["sms"]["status"] == "permanent-failure"
    assert world.change(OWN, {"mobile": "0701740606"})["deliveryProblems"] == {}
    world.delivery("permanent-failure", 2, sent_to=MOBILE_E164)  # a bounce for the old number
    assert world.repo.stored["sara"].delivery_problems == {}


def test_the_pipeline_contract_rejects_unknown_recipients_channels_and_statuses(world):
    with pytest.raises(ValueError):
        world.delivery("sending", 0, recipient="someone")
    with pytest.raises(ValueError):
        world.delivery("lost", 0)
    with pytest.raises(ValueError):
        service.contact_in(Settings(), "self", "fax")  # type: ignore[arg-type]
    assert world.repo.writes == 0
