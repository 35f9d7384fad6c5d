"""R-31/R-32/R-34 as pure rules over the register (the R-07 lock part is an integration test)."""

import pytest

from chalicelib.core.clock import fixed_clock
from chalicelib.guardians.service import proxy_eligible
from chalicelib.population.local_adapter import JsonPopulationRegister
from tests.support import ROOT, at, pnr

REGISTER = JsonPopulationRegister.from_file(ROOT / "testdata" / "population.json")
NOW = fixed_clock(at("2026-11-22T12:00:00Z"))


def _eligible(guardian, child, clock=NOW):
    return proxy_eligible(REGISTER.find(pnr(guardian)), REGISTER.find(pnr(child)), clock)


def test_guardian_of_children_under_13():
    assert _eligible("Anna", "Elsa") and _eligible("Erik", "Nils")


def test_not_for_a_teenager_nor_for_someone_elses_child():
    assert not _eligible("Anna", "Leo")  # 15
    assert not _eligible("Sara", "Elsa")  # not her guardian


@pytest.mark.parametrize(("guardian", "child"), [("Maria", "Hugo"), ("Karin", "Alva")])
def test_protected_identity_on_either_side_means_no_proxy(guardian, child):
    assert not _eligible(guardian, child)


def test_proxy_ends_on_the_13th_birthday_by_the_stockholm_calendar():
    assert _eligible("Johan", "Wilma", fixed_clock(at("2026-11-22T22:59:59Z")))  # 23:59:59 in Stockholm
    assert not _eligible("Johan", "Wilma", fixed_clock(at("2026-11-22T23:00:00Z")))  # midnight, the birthday


def test_29_february_child_turns_13_on_28_february_in_a_common_year():
    """R-34: a guardian may act on 2029-02-27, not on 2029-02-28 (Stockholm dates)."""
    assert _eligible("Lars", "Saga", fixed_clock(at("2029-02-27T22:59:00Z")))  # 23:59 on the 27th
    assert not _eligible("Lars", "Saga", fixed_clock(at("2029-02-27T23:00:00Z")))  # midnight: the 28th
