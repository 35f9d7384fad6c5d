"""`python -m local population add-synthetic COUNT` on a register file of its own: adults from
Skatteverket's test personnummer, none already there, chosen the same way every time, written as
testdata/population.json has them and readable by the local register adapter."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.support import POPULATION, ROOT, fresh_settings

REPOSITORY_FILE = ROOT / "testdata" / "population.json"
ADULTS = ["198607172395", "199408242387", "198210082387", "198805062398", "198903152398", "194001042383"]
UNUSABLE = [
    "198504022396",  # Sara: already in the register
    "197011822397",  # a samordningsnummer
    "201706142385",  # a child
    "189001019802",  # born 1890
    "198607172396",  # wrong check digit
    "not a number",
]


@pytest.fixture
def register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of testdata's register as the stack's, and a small test personnummer list."""
    from local import __main__ as cli

    saved = dict(os.environ)  # the CLI fills in the stack's environment: put back afterwards
    path = tmp_path / "population.json"
    path.write_text(REPOSITORY_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    source = tmp_path / "skatteverket-testpersonnummer.txt"
    source.write_text("\n".join(UNUSABLE + ADULTS) + "\n", encoding="utf-8")
    monkeypatch.setattr(cli, "TEST_PERSONNUMMER_FILES", (tmp_path / "missing.txt", source))
    os.environ["POPULATION_SEED_PATH"] = str(path)
    try:
        yield path
    finally:
        os.environ.clear()
        os.environ.update(saved)
        fresh_settings()


def add(count: int, capsys: pytest.CaptureFixture[str]) -> list[str]:
    from local.__main__ import main

    main(["population", "add-synthetic", str(count)])
    return capsys.readouterr().out.split()


def persons(path: Path) -> list[dict]:
    return list(json.loads(path.read_text(encoding="utf-8"))["persons"])


def test_adds_adults_not_already_there_and_prints_them(register: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.core.personal_number import parse
    from chalicelib.population.local_adapter import JsonPopulationRegister

    added = add(3, capsys)
    assert len(added) == len(set(added)) == 3 and set(added) <= set(ADULTS)
    stored = persons(register)
    assert stored[: len(POPULATION)] == POPULATION  # the others untouched, in their order
    assert [p["personnummer"] for p in stored[len(POPULATION) :]] == added
    found = JsonPopulationRegister.from_file(register)
    for number in added:
        person = found.find(number)
        assert person is not None and person.given_name and person.surname and person.address
        assert not person.deceased and person.protected_identity is None and person.guardians == ()
        assert parse(number).age_on(date(2026, 1, 1)) >= 18 and not parse(number).coordination
    assert found.find(POPULATION[0]["personnummer"]) is not None  # the others still found


def test_the_choice_is_the_same_however_it_is_split(
    register: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, then = add(2, capsys), add(3, capsys)
    assert not set(first) & set(then)
    register.write_text(REPOSITORY_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    assert add(5, capsys) == first + then


def test_refuses_more_than_the_list_has_and_changes_nothing(register: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = register.read_bytes()
    for count in (len(ADULTS) + 1, 0, -1):
        with pytest.raises(SystemExit) as refused:
            add(count, capsys)
        assert refused.value.code not in (0, None)
    assert register.read_bytes() == before


def test_never_changes_the_repository_file(register: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = hashlib.sha256(REPOSITORY_FILE.read_bytes()).hexdigest()
    os.environ["POPULATION_SEED_PATH"] = str(REPOSITORY_FILE)
    with pytest.raises(SystemExit):
        add(1, capsys)
    assert hashlib.sha256(REPOSITORY_FILE.read_bytes()).hexdigest() == before
