"""The account service and the support desk's lifecycle against in-memory repositories (no DynamoDB).

Each test names the rule (DOMAIN.md) it guards; the DynamoDB Local integration tests
(test_account_lifecycle.py, test_login_rules.py) cover the same rules end to end."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.accounts import service as accounts
from chalicelib.accounts.models import Account, AccountChanged
from chalicelib.audit.models import SupportRequest, citizen_subject, person_subject
from chalicelib.core.clock import fixed_clock
from chalicelib.core.errors import Conflict, Forbidden
from chalicelib.core.personal_number import lookup_key
from chalicelib.population.local_adapter import JsonPopulationRegister
from chalicelib.support import messages
from chalicelib.support import service as support
from tests.support import ROOT, at, pnr
from tests.unit.fakes.accounts import InMemoryAccountRepository
from tests.unit.fakes.support import support_stores
from tests.unit.fakes.unit_of_work import FakeUnitOfWork

REGISTER = JsonPopulationRegister.from_file(ROOT / "testdata" / "population.json")
CLOCK = fixed_clock(at("2026-11-22T12:00:00Z"))
LATER = fixed_clock(at("2026-11-23T08:00:00Z"))
DESK_REQUEST = SupportRequest(ticket_ref="EASIT-1", region="Region Kronoberg", actor="vis-anna")


class World:
    """The in-memory stores, and the services wired to them."""

    def __init__(self, stores: support.SupportStores | None = None) -> None:
        self.stores = stores or support_stores()
        self.repo, self.audit, self.outbox = self.stores.accounts, self.stores.audit, self.stores.inbox

    def login(self, name: str, clock=CLOCK) -> accounts.LoginPlan:
        plan = accounts.plan_login(pnr(name), register=REGISTER, clock=clock, stores=self.stores)
        uow = FakeUnitOfWork()
        accounts.add_login(uow, plan, stores=self.stores)
        uow.commit()
        return plan

    def account(self, name: str) -> Account:
        found = accounts.find_by_personnummer(pnr(name), stores=self.stores)
        assert found is not None
        return found

    def desk(self, action, name: str, *, request=DESK_REQUEST, clock=CLOCK, **fields) -> Account:
        """A support-desk `action` on `name`'s account, under `request`, on these stores."""
        return action(pnr(name), request=request, clock=clock, stores=self.stores, **fields)

    def lock(self, name: str, requested_by="care", request=DESK_REQUEST) -> Account:
        return self.desk(
            support.lock,
            name,
            request=request,
            requested_by=requested_by,
            requester="SE2321000016-ABCD",
            form_ref="LAS-1",
        )

    def decide(self, name: str, approved: bool, request=DESK_REQUEST, clock=LATER) -> Account:
        return self.desk(
            support.record_unlock_decision,
            name,
            request=request,
            clock=clock,
            approved=approved,
            head_of_unit="Dr Chef",
            decision_ref="BESLUT-1",
        )

    def unlock(self, name: str, requested_by="care", request=DESK_REQUEST) -> Account:
        return self.desk(
            support.unlock, name, request=request, clock=LATER, requested_by=requested_by, form_ref="UPP-1"
        )


@pytest.fixture
def world() -> World:
    return World()


# ---------------------------------------------------------------- login


def test_r01_first_login_activates_the_account_and_records_consent_once(world):
    first = world.login("Sara")
    assert first.first_login and first.new
    account = world.account("Sara")
    assert account.active and account.activated_by == "self" and account.first_login_at == "2026-11-22T12:00:00.000Z"
    second = world.login("Sara", clock=LATER)
    assert not second.first_login and second.citizen_id == first.citizen_id
    assert world.account("Sara").first_login_at == "2026-11-22T12:00:00.000Z"  # consent is stored once


def test_r02a_coordination_number_is_refused_before_anything_is_read(world):
    with pytest.raises(Forbidden) as refused:
        world.login("Alex")
    assert refused.value.code == "coordination-number"
    assert world.repo.reads == 0 and world.repo.accounts == {}


def test_r02a_deceased_person_gets_no_account(world):
    with pytest.raises(Forbidden) as refused:
        world.login("Gustav")
    assert refused.value.code == "deceased" and world.repo.accounts == {}


def test_r02a_deceased_account_is_inactivated_its_sessions_end_and_it_is_audited(world):
    world.login("Sara")
    before = world.account("Sara")
    dead = replace(REGISTER.find(pnr("Sara")), deceased=True)
    register = type("R", (), {"find": lambda self, _: dead})()
    with pytest.raises(Forbidden) as refused:
        accounts.plan_login(pnr("Sara"), register=register, clock=LATER, stores=world.stores)
    assert refused.value.code == "deceased"
    after = world.account("Sara")
    assert after.status == "inactivated" and after.session_epoch == before.session_epoch + 1
    assert world.audit.actions() == [("account.inactivate", "ok")]


def test_r04_a_locked_citizen_cannot_log_in(world):
    world.login("Sara")
    world.lock("Sara", requested_by="citizen")
    with pytest.raises(accounts.AccountLocked) as refused:
        world.login("Sara")
    assert refused.value.code == "account-locked" and "egen begäran" in refused.value.detail


def test_r04_a_lock_placed_mid_login_wins_over_the_login(world):
    world.login("Sara")
    plan = accounts.plan_login(pnr("Sara"), register=REGISTER, clock=LATER, stores=world.stores)
    world.lock("Sara")  # between the check and the commit
    uow = FakeUnitOfWork()
    accounts.add_login(uow, plan, stores=world.stores)
    with pytest.raises(AccountChanged):
        uow.commit()
    assert world.account("Sara").locked and plan.citizen_id not in world.repo.last_login  # no touch applied


def test_r30_guardian_activates_a_child_in_proxy_mode_without_the_childs_consent(world):
    guardian = world.login("Anna").citizen_id
    child_id = accounts.activate_by_guardian(REGISTER.find(pnr("Elsa")), guardian, CLOCK, stores=world.stores)
    child = world.repo.accounts[child_id]
    assert child.activated_by == "guardian" and child.first_login_at is None
    assert world.repo.activated_by[child_id] == guardian
    assert [(e.subject, e.action, e.actor) for e in world.audit.entries] == [
        (citizen_subject(child_id), "account.activate-proxy", guardian)
    ]


def test_r30_a_concurrent_activation_answers_the_existing_account_and_writes_nothing(world):
    existing = world.login("Elsa").citizen_id
    audited = len(world.audit.entries)
    again = accounts.activate_by_guardian(REGISTER.find(pnr("Elsa")), "anna", CLOCK, stores=world.stores)
    assert again == existing and len(world.repo.accounts) == 1 and len(world.audit.entries) == audited


# ---------------------------------------------------------------- the support desk


def test_r05_no_lock_without_an_account_and_the_refusal_is_audited_without_personnummer(world):
    with pytest.raises(accounts.NoAccount):
        world.lock("Sara")
    assert world.repo.accounts == {}
    [entry] = world.audit.entries
    assert entry.subject == person_subject(lookup_key(pnr("Sara"))) and pnr("Sara") not in entry.subject
    assert (entry.action, entry.outcome, entry.ticket_ref) == ("account.lock", "refused:no-account", "EASIT-1")


def test_r03_r04_lock_records_who_region_form_and_time_and_ends_sessions(world):
    world.login("Sara")
    before = world.account("Sara")
    locked = world.lock("Sara")
    assert locked.lock is not None
    assert (locked.lock.requested_by, locked.lock.region, locked.lock.form_ref, locked.lock.locked_at) == (
        "care",
        "Region Kronoberg",
        "LAS-1",
        "2026-11-22T12:00:00.000Z",
    )
    assert locked.session_epoch == before.session_epoch + 1 and locked.version == before.version + 1
    assert world.account("Sara") == locked
    [entry] = world.audit.entries
    assert (entry.action, entry.actor_kind, entry.ticket_ref, entry.details["formRef"]) == (
        "account.lock",
        "support-desk",
        "EASIT-1",
        "LAS-1",
    )


def test_r03_a_second_lock_is_refused_audited_and_changes_nothing(world):
    world.login("Sara")
    locked = world.lock("Sara")
    with pytest.raises(Conflict) as refused:
        world.lock("Sara")
    assert refused.value.code == "already-locked" and world.account("Sara") == locked
    assert world.audit.actions() == [("account.lock", "ok"), ("account.lock", "refused:already-locked")]


def test_r08_a_citizens_own_lock_is_lifted_only_on_the_citizens_request(world):
    world.login("Sara")
    world.lock("Sara", requested_by="citizen")
    with pytest.raises(Forbidden) as refused:
        world.unlock("Sara", requested_by="care")
    assert refused.value.code == "citizen-request-required" and world.account("Sara").locked
    unlocked = world.unlock("Sara", requested_by="citizen")
    assert not unlocked.locked and unlocked.last_unlocked_at == "2026-11-23T08:00:00.000Z"
    assert world.outbox.sent == [(unlocked.citizen_id, messages.UNLOCKED)]


def test_r08_a_care_lock_needs_the_head_of_units_decision_from_the_locking_region(world):
    world.login("Sara")
    world.lock("Sara")
    with pytest.raises(Conflict) as missing:
        world.unlock("Sara")
    assert missing.value.code == "decision-missing"
    other = SupportRequest(ticket_ref="EASIT-2", region="Region Skåne", actor="vis-bo")
    with pytest.raises(Forbidden) as wrong:
        world.decide("Sara", approved=True, request=other)
    assert wrong.value.code == "wrong-region"
    assert world.account("Sara").locked and world.outbox.sent == []


def test_r08_a_no_is_told_to_the_citizen_once_and_keeps_the_lock(world):
    world.login("Sara")
    world.lock("Sara")
    world.decide("Sara", approved=False)
    before = world.account("Sara")
    world.decide("Sara", approved=False)  # the same console event again
    assert world.account("Sara") == before  # nothing written
    assert [m.subject for _, m in world.outbox.sent] == ["Beslut om din låsta inloggning"]
    assert world.audit.actions().count(("account.unlock-decision", "ok")) == 1
    with pytest.raises(Forbidden) as refused:
        world.unlock("Sara")
    assert refused.value.code == "decision-no" and world.account("Sara").locked


def test_r08_a_yes_then_the_unlock_lifts_the_lock_and_tells_the_citizen(world):
    world.login("Sara")
    world.lock("Sara")
    world.decide("Sara", approved=True)
    assert world.outbox.sent == []  # a yes is told when the lock is lifted
    unlocked = world.unlock("Sara")
    assert unlocked.lock is None and unlocked.unlock_decision is None
    assert [m for _, m in world.outbox.sent] == [messages.UNLOCKED]
    world.login("Sara", clock=LATER)  # may log in again


def test_r09_sealing_is_separate_from_the_lock_and_a_repeat_writes_nothing(world):
    world.login("Sara")
    sealed = world.desk(support.seal_record, "Sara", sealed=True, form_ref="F-1")
    assert sealed.record_sealed and not sealed.locked and sealed.session_epoch == 0  # sessions go on
    again = world.desk(support.seal_record, "Sara", sealed=True, form_ref="F-1")
    assert again == sealed and world.audit.actions() == [("record.seal", "ok")]
    assert accounts.is_record_sealed(sealed.citizen_id, stores=world.stores)


class RacingRepository(InMemoryAccountRepository):
    """Someone else changes the account between every read and write, `races` times."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def update(self, uow, account, *, expected_version):
        if self.races:
            self.races -= 1
            stored = self.accounts[account.citizen_id]
            self.accounts[account.citizen_id] = replace(stored, version=stored.version + 1)  # e.g. a login
        super().update(uow, account, expected_version=expected_version)


def _racing_world(races: int) -> World:
    world = World(replace(support_stores(), accounts=RacingRepository(races)))
    world.login("Sara")
    return world


def test_a_concurrent_change_is_retried_on_fresh_state_and_audited_once():
    world = _racing_world(races=1)
    locked = world.lock("Sara")
    assert locked.locked and world.account("Sara") == locked
    assert world.audit.actions() == [("account.lock", "ok")]


def test_a_change_that_keeps_losing_is_a_409_and_writes_nothing():
    world = _racing_world(races=support.ATTEMPTS)
    with pytest.raises(Conflict) as conflict:
        world.lock("Sara")
    assert conflict.value.code == "concurrent-change" and conflict.value.status == 409
    assert not world.account("Sara").locked and world.audit.entries == []
