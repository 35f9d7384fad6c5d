"""The 13th birthday (R-34) against DynamoDB Local: the job reads only the children whose birthday has
come, by key; clears their notification settings and guardian contacts; asks for new details at the
next own login; catches up days it missed; and a second run changes nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.core.clock import fixed_clock
from tests.support import at, pnr


def _activate(name: str, on: str) -> str:
    """The child's account as a guardian's first use creates it (R-30), on the given day."""
    from chalicelib.accounts import service as accounts
    from chalicelib.population.port import population_register

    child = population_register().find(pnr(name))
    assert child is not None
    return accounts.activate_by_guardian(child, "guardian-citizen-id", fixed_clock(at(on)))


def _with_contacts(citizen_id: str) -> None:
    from chalicelib.core.unit_of_work import UnitOfWork
    from chalicelib.settings import repository
    from chalicelib.settings.rules import GuardianContact, Settings

    uow = UnitOfWork()
    chosen = Settings(
        mobile="+46701740611",
        notify_by_sms=True,
        guardian_contacts={"guardian-citizen-id": GuardianContact(mobile="+46701740612", email=None)},
    )
    repository.DYNAMO.save(uow, citizen_id, chosen, expected_version=0)
    uow.commit()


def _reset(day: str) -> Any:
    from chalicelib.birthdays import service

    return service.run_day(date.fromisoformat(day), clock=fixed_clock(at(f"{day}T00:05:00+01:00")))


def test_the_birthday_clears_settings_and_asks_for_new_ones_once() -> None:
    from chalicelib.accounts import service as accounts
    from chalicelib.audit import service as audit
    from chalicelib.settings import repository

    wilma = _activate("Wilma", "2026-11-01T12:00:00Z")  # turns 13 on 2026-11-23
    elsa = _activate("Elsa", "2026-11-01T12:00:00Z")  # 9: not this year
    for child in (wilma, elsa):
        _with_contacts(child)

    the_day_before = _reset("2026-11-22")
    assert (the_day_before.reset, the_day_before.read) == (0, 0)  # nobody due for a reset: nothing read
    assert the_day_before.told == 1  # Wilma's 30-day notice, late (her account is three weeks old)

    run = _reset("2026-11-23")
    assert (run.reset, run.read) == (1, 1)  # one item read per child reset
    cleared = repository.DYNAMO.get(wilma)
    assert (cleared.mobile, cleared.notify_by_sms, cleared.guardian_contacts) == (None, False, {})
    account = accounts.get(wilma)
    assert account is not None and account.must_review_settings and account.thirteen_on is None
    assert repository.DYNAMO.get(elsa).mobile == "+46701740611"  # untouched
    turned = [e for e in audit.entries_for(audit.citizen_subject(wilma)) if e["action"] == "account.turned-13"]
    assert len(turned) == 1 and turned[0]["actorKind"] == "system"

    again = _reset("2026-11-23")
    assert (again.reset, again.read) == (0, 0)  # idempotent: out of the index


def test_a_missed_day_is_caught_up_and_29_february_is_28_february() -> None:
    from chalicelib.accounts import service as accounts

    saga = _activate("Saga", "2028-06-01T12:00:00Z")  # born 2016-02-29: 13 on 2029-02-28
    wilma = _activate("Wilma", "2026-11-01T12:00:00Z")
    saga_account = accounts.get(saga)
    assert saga_account is not None and saga_account.thirteen_on == "2029-02-28"

    assert _reset("2029-02-27").reset == 1  # Wilma's birthday, long missed: caught up; Saga not yet
    assert _reset("2029-02-28").reset == 1  # Saga, on the 28th
    assert accounts.get(saga).must_review_settings and accounts.get(wilma).must_review_settings  # type: ignore[union-attr]


def test_children_activated_after_their_13th_birthday_are_never_in_the_index() -> None:
    from chalicelib.accounts import service as accounts

    late = _activate("Wilma", "2026-11-24T12:00:00Z")  # already 13 when the account is made
    assert accounts.get(late).thirteen_on is None  # type: ignore[union-attr]
    assert _reset("2030-01-01").read == 0


def test_thirty_days_before_the_child_and_each_guardian_are_told_once(api: Any) -> None:
    from chalicelib.accounts import service as accounts
    from chalicelib.inbox import service as inbox

    for guardian in ("Anna", "Erik"):  # both guardians of Elsa have logged in
        api.token_for(pnr(guardian))
    anna, erik = (accounts.find_by_personnummer(pnr(n)) for n in ("Anna", "Erik"))
    assert anna is not None and erik is not None
    elsa = _activate("Elsa", "2030-01-10T12:00:00Z")  # born 2017-06-14: 13 on 2030-06-14

    assert _reset("2030-05-14").told == 0  # 31 days before
    assert _reset("2030-05-15").told == 1
    assert _reset("2030-05-15").told == 0  # once
    for citizen_id in (elsa, anna.citizen_id, erik.citizen_id):
        told = [i for i in inbox.items(citizen_id) if "13" in i["subject"]]
        assert len(told) == 1, citizen_id
    (for_anna,) = [i for i in inbox.items(anna.citizen_id) if "13" in i["subject"]]
    assert for_anna["subject"] == "Elsa fyller snart 13 år" and for_anna["unread"]
    assert _reset("2030-06-14").reset == 1


def test_a_two_day_catch_up_processes_both_days() -> None:
    """The job did not run on the 23rd: the run of the 24th resets the child of the 23rd and of the 24th."""
    from dataclasses import replace

    from chalicelib.accounts import service as accounts
    from chalicelib.accounts.repository import DYNAMO
    from chalicelib.core.unit_of_work import UnitOfWork

    wilma = _activate("Wilma", "2026-11-01T12:00:00Z")  # 13 on 2026-11-23
    other = _activate("Elsa", "2026-11-01T12:00:00Z")
    account = accounts.get(other)
    assert account is not None
    uow = UnitOfWork()  # as if Elsa were born a day after Wilma: 13 on the 24th
    DYNAMO.update(uow, replace(account, thirteen_on="2026-11-24"), expected_version=account.version)
    uow.commit()

    assert _reset("2026-11-22").reset == 0
    caught_up = _reset("2026-11-24")
    assert (caught_up.reset, caught_up.read) == (2, 2)
    assert all(accounts.get(c).must_review_settings for c in (wilma, other))  # type: ignore[union-attr]
