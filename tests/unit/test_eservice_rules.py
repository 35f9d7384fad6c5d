"""R-35, R-52, R-55, R-09, R-06: which e-services a subject may open (`eservices/rules.py`), and R-34's one
age rule behind the age limits (29 February → 28 February in a common year, Stockholm dates)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from chalicelib.accounts.models import Account
from chalicelib.core.clock import fixed_clock
from chalicelib.eservices import rules, service
from chalicelib.guardians.service import Subject
from tests.support import at, pnr

TODAY = date(2026, 12, 2)
ADULT = rules.Facts(age=46, proxy=False, record_sealed=False, locked=False)
ALL_OPEN = {s: (True, None) for s in rules.SERVICES}


def _table(facts: rules.Facts) -> dict[str, tuple[bool, str | None]]:
    items = rules.evaluate(facts)
    assert [a.service for a in items] == list(rules.SERVICES)  # each once, in API.md's order
    for a in items:
        assert (a.reason is None) == a.available and (a.code is None) == a.available
    return {a.service: (a.available, a.code) for a in items}


def test_the_ten_services_of_the_api_in_order() -> None:
    assert rules.SERVICES == (
        "messages",
        "web-booking",
        "prescription-renewal",
        "medication-list",
        "lakemedelskollen",
        "journal",
        "health-declaration",
        "supplies",
        "self-sampling",
        "support-and-treatment",
    )


def test_an_adult_may_open_everything() -> None:
    assert _table(ADULT) == ALL_OPEN


def test_a_15_year_old_has_neither_the_medicine_list_nor_lakemedelskollen() -> None:
    table = _table(replace(ADULT, age=15))
    assert table == {
        **ALL_OPEN,
        "medication-list": (False, "age-limit"),
        "lakemedelskollen": (False, "age-limit"),
    }
    # renewal stays open (free text where the list is hidden)
    assert table["prescription-renewal"] == (True, None)


def test_a_16_and_a_17_year_old_see_the_medicine_list_but_not_lakemedelskollen() -> None:
    for age in (16, 17):
        assert _table(replace(ADULT, age=age)) == {**ALL_OPEN, "lakemedelskollen": (False, "age-limit")}


def test_a_guardian_acting_for_a_9_year_old_has_lakemedelskollen_but_not_the_medicine_list() -> None:
    assert _table(rules.Facts(age=9, proxy=True, record_sealed=False, locked=False)) == {
        **ALL_OPEN,
        "medication-list": (False, "proxy-mode"),
    }


def test_lakemedelskollen_in_proxy_mode_only_for_a_child_under_13() -> None:
    assert rules.lakemedelskollen(rules.Facts(age=12, proxy=True, record_sealed=False, locked=False)).available
    closed = rules.lakemedelskollen(rules.Facts(age=13, proxy=True, record_sealed=False, locked=False))
    assert not closed.available and closed.code == "proxy-mode"


def test_a_sealed_record_closes_the_journal_and_nothing_else() -> None:
    assert _table(replace(ADULT, record_sealed=True)) == {**ALL_OPEN, "journal": (False, "record-sealed")}
    sealed_child = rules.Facts(age=9, proxy=True, record_sealed=True, locked=False)
    assert _table(sealed_child) == {
        **ALL_OPEN,
        "medication-list": (False, "proxy-mode"),
        "journal": (False, "record-sealed"),
    }


def test_a_locked_account_opens_nothing() -> None:
    table = _table(replace(ADULT, locked=True))
    assert table == {s: (False, "account-locked") for s in rules.SERVICES}


def test_an_age_that_cannot_be_told_opens_no_age_limited_service() -> None:
    table = _table(replace(ADULT, age=None))
    assert table["medication-list"] == (False, "age-unknown")
    assert table["lakemedelskollen"] == (False, "age-unknown")
    assert table["journal"] == (True, None)
    assert rules.age_on("not a number", TODAY) is None


def test_reasons_are_swedish_sentences() -> None:
    for facts in (replace(ADULT, age=15), replace(ADULT, locked=True), replace(ADULT, record_sealed=True)):
        for a in rules.evaluate(facts):
            if not a.available:
                assert a.reason and a.reason.endswith(".") and a.reason[0].isupper()
    assert "16" in (rules.medication_list(replace(ADULT, age=15)).reason or "")
    assert "18" in (rules.lakemedelskollen(replace(ADULT, age=17)).reason or "")


# the one age rule. Someone born 29 February 2008 turns 16 on 29 February 2024 (a leap year) and
# 18 on 28 February 2026 (a common year: the month's last day, lag 1930:173).
LEAPLING = "200802292383"


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (date(2024, 2, 28), 15),
        (date(2024, 2, 29), 16),
        (date(2026, 2, 27), 17),
        (date(2026, 2, 28), 18),  # lag 1930:173: the missing day's month's last day
        (date(2026, 3, 1), 18),
    ],
)
def test_the_age_limits_follow_r34_for_someone_born_29_february(day: date, age: int) -> None:
    assert rules.age_on(LEAPLING, day) == age


def _subject(personnummer: str, *, proxy: bool = False, sealed: bool = False, locked: bool = False) -> Subject:
    from chalicelib.accounts.models import Lock

    lock = Lock("citizen", "citizen", "Region", "F-1", "T-1", "desk", "2026-01-01T00:00:00Z") if locked else None
    account = Account(
        citizen_id="c-1",
        personnummer=personnummer,
        status="active",
        activated_at="2026-01-01T00:00:00Z",
        activated_by="self",
        first_login_at=None,
        session_epoch=0,
        version=1,
        lock=lock,
        record_sealed=sealed,
    )
    return Subject("c-1", account, proxy=proxy, actor_citizen_id="g-1" if proxy else "c-1")


def test_the_service_takes_the_age_on_the_stockholm_date_not_the_utc_date() -> None:
    """Leo (born 2011-01-02) turns 16 at midnight in Stockholm, 23:00 UTC the day before."""
    leo = _subject(pnr("Leo"))
    before = service.facts(leo, clock=fixed_clock(at("2027-01-01T22:59:59Z")))
    after = service.facts(leo, clock=fixed_clock(at("2027-01-01T23:00:00Z")))
    assert (before.age, after.age) == (15, 16)
    listed = service.services(leo, clock=fixed_clock(at("2027-01-01T23:00:00Z")))["items"]
    assert {"service": "medication-list", "available": True} in listed


def test_the_service_reads_proxy_seal_and_lock_from_the_subject() -> None:
    now = fixed_clock(at("2026-12-02T12:00:00Z"))
    elsa = service.services(_subject(pnr("Elsa"), proxy=True), clock=now)["items"]
    assert [i["service"] for i in elsa if not i["available"]] == ["medication-list"]
    assert next(i for i in elsa if i["service"] == "medication-list")["reasonCode"] == "proxy-mode"
    sealed = service.services(_subject(pnr("Sara"), sealed=True), clock=now)["items"]
    assert [(i["service"], i["reasonCode"]) for i in sealed if not i["available"]] == [("journal", "record-sealed")]
    locked = service.services(_subject(pnr("Sara"), locked=True), clock=now)["items"]
    assert all(not i["available"] and i["reasonCode"] == "account-locked" for i in locked) and len(locked) == 10
