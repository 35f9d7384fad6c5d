from datetime import date

import pytest

from chalicelib.core import personal_number
from tests.support import pnr


def test_parses_valid_numbers_and_flags_coordination_numbers():
    sara = personal_number.parse(pnr("Sara"))
    assert sara.birth_date == date(1985, 4, 2) and not sara.coordination
    alex = personal_number.parse(pnr("Alex"))
    assert alex.coordination  # day 82 = 22 + 60


@pytest.mark.parametrize("bad", ["198504022397", "8504022396", "19850402-2396", "", "abcdefghijkl", "1985040223960"])
def test_rejects_wrong_check_digit_and_wrong_shapes(bad):
    with pytest.raises(ValueError) as error:
        personal_number.parse(bad)
    assert bad not in str(error.value) or not bad  # never echoes the number


def test_age_counts_whole_years_and_29_february_birthday_is_28_february_in_common_years():
    """R-34 (lag 1930:173, 1 §): the earlier day, in every age limit."""
    saga = personal_number.parse(pnr("Saga"))  # born 2016-02-29
    assert saga.age_on(date(2029, 2, 27)) == 12
    assert saga.age_on(date(2029, 2, 28)) == 13
    assert saga.turns(13) == date(2029, 2, 28)
    assert saga.age_on(date(2032, 2, 28)) == 15  # a leap year: the birthday is the 29th
    assert saga.age_on(date(2032, 2, 29)) == 16
    assert saga.turns(16) == date(2032, 2, 29)
    wilma = personal_number.parse(pnr("Wilma"))  # turns 13 on 2026-11-23
    assert wilma.age_on(date(2026, 11, 22)) == 12
    assert wilma.age_on(date(2026, 11, 23)) == 13
    assert wilma.turns(13) == date(2026, 11, 23)


def test_a_child_born_28_february_turns_13_on_28_february_of_a_leap_year() -> None:
    born_28th = personal_number.parse("201502282393")  # Skatteverket's test number, born 2015-02-28
    assert born_28th.turns(13) == date(2028, 2, 28)
    assert born_28th.age_on(date(2028, 2, 27)) == 12 and born_28th.age_on(date(2028, 2, 29)) == 13


def test_lookup_key_is_keyed_stable_and_not_the_number(monkeypatch):
    first = personal_number.lookup_key(pnr("Sara"))
    assert first == personal_number.lookup_key(pnr("Sara"))
    assert pnr("Sara") not in first and len(first) == 64
    assert first != personal_number.lookup_key(pnr("Anna"))
    monkeypatch.setenv("PNR_HMAC_SECRET", "another-key")
    from tests.support import fresh_settings

    fresh_settings()
    assert personal_number.lookup_key(pnr("Sara")) != first


def test_missing_key_is_a_configuration_error(monkeypatch):
    from chalicelib.core.errors import ConfigurationError
    from tests.support import fresh_settings

    monkeypatch.delenv("PNR_HMAC_SECRET")
    fresh_settings()
    with pytest.raises(ConfigurationError):
        personal_number.lookup_key(pnr("Sara"))
