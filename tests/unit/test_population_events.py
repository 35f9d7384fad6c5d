"""Issue 10, R-32: the local population register follows its file (a change is seen by the very next
lookup, in every process), and a population event is re-read from the register and audited without a
personnummer, under the person and each guardian and child with an account."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.accounts.models import Account
from chalicelib.accounts.service import AccountStores
from chalicelib.audit.models import citizen_subject, person_subject
from chalicelib.audit.repository import record_of
from chalicelib.core.clock import fixed_clock
from chalicelib.core.errors import InvalidInput
from chalicelib.core.personal_number import lookup_key
from chalicelib.guardians.service import proxy_eligible
from chalicelib.population.local_adapter import JsonPopulationRegister
from chalicelib.registry_events import service
from tests.support import POPULATION, ROOT, at, pnr
from tests.unit.fakes.accounts import in_memory

SOURCE = ROOT / "testdata" / "population.json"
NOW = fixed_clock(at("2026-11-22T12:00:00Z"))


@pytest.fixture
def register_file(tmp_path: Path) -> Path:
    path = tmp_path / "population.json"
    shutil.copyfile(SOURCE, path)
    return path


def _change(path: Path, given_name: str, *, atomic: bool = True, **fields: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    for person in data["persons"]:
        if person["givenName"] == given_name:
            person.update(fields)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if atomic:  # as the dev CLI writes it: a new file renamed over the old one
        partial = path.with_suffix(".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    else:  # edited in place
        path.write_text(text, encoding="utf-8")


# --- the local adapter follows its file ----------------------------------------------------------


def test_a_change_replacing_the_file_is_seen_by_the_next_lookup(register_file: Path) -> None:
    register = JsonPopulationRegister.from_file(register_file)
    anna, elsa = register.find(pnr("Anna")), register.find(pnr("Elsa"))
    assert anna and elsa and proxy_eligible(anna, elsa, NOW)
    _change(register_file, "Elsa", protectedIdentity="sekretessmarkering", address=None)
    elsa = register.find(pnr("Elsa"))
    assert elsa and elsa.protected and elsa.address is None
    assert not proxy_eligible(anna, elsa, NOW)
    assert {c.given_name for c in register.children_of(pnr("Anna"))} == {"Elsa", "Nils", "Leo"}
    assert next(c for c in register.children_of(pnr("Anna")) if c.given_name == "Elsa").protected


def test_a_change_written_in_place_is_seen_too(register_file: Path) -> None:
    register = JsonPopulationRegister.from_file(register_file)
    assert register.children_of(pnr("Sara")) == []
    _change(register_file, "Nils", atomic=False, guardians=[pnr("Anna"), pnr("Sara")])
    stat = register_file.stat()
    os.utime(register_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a coarse clock's tick
    assert [c.given_name for c in register.children_of(pnr("Sara"))] == ["Nils"]
    assert pnr("Erik") not in (register.find(pnr("Nils")) or pytest.fail()).guardians  # custody changed


def test_the_file_is_read_again_only_when_it_changed(register_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.population import local_adapter

    register = JsonPopulationRegister.from_file(register_file)
    reads: list[Path] = []
    real_read = local_adapter._read
    monkeypatch.setattr(local_adapter, "_read", lambda path: reads.append(path) or real_read(path))
    for _ in range(5):
        register.find(pnr("Anna"))
    assert reads == []
    _change(register_file, "Alva", protectedIdentity=None)
    register.find(pnr("Alva"))
    register.find(pnr("Alva"))
    assert reads == [register_file]


def test_an_unreadable_file_keeps_the_last_good_copy_until_it_is_whole_again(register_file: Path) -> None:
    register = JsonPopulationRegister.from_file(register_file)
    register_file.write_text('{"persons": [', encoding="utf-8")  # half written
    assert register.find(pnr("Anna")) is not None
    register_file.unlink()
    assert register.find(pnr("Anna")) is not None
    shutil.copyfile(SOURCE, register_file)
    _change(register_file, "Anna", deceased=True)
    assert (register.find(pnr("Anna")) or pytest.fail()).deceased


def test_a_register_built_from_persons_has_no_file_to_follow() -> None:
    register = JsonPopulationRegister(
        replace(p, protected_identity=None)
        for p in (JsonPopulationRegister.from_file(SOURCE).find(pnr(n)) for n in ("Karin", "Alva"))
        if p is not None
    )
    assert [c.given_name for c in register.children_of(pnr("Karin"))] == ["Alva"]


def test_a_deceased_guardian_may_not_act(register_file: Path) -> None:
    register = JsonPopulationRegister.from_file(register_file)
    _change(register_file, "Anna", deceased=True)
    anna, elsa = register.find(pnr("Anna")), register.find(pnr("Elsa"))
    assert anna and elsa and not proxy_eligible(anna, elsa, NOW)


# --- the event: re-read and audited --------------------------------------------------------------


def _stores_with_accounts(*names: str) -> tuple[AccountStores, dict[str, str]]:
    stores = in_memory(AccountStores)
    ids = {}
    for n, name in enumerate(names):
        account = Account(
            citizen_id=f"cid-{n}-{name.lower()}",
            personnummer=pnr(name),
            status="active",
            activated_at="2026-01-01T00:00:00.000Z",
            activated_by="self",
            first_login_at="2026-01-01T00:00:00.000Z",
            session_epoch=0,
            version=1,
        )
        stores.accounts.seed(account, lookup_key(pnr(name)))  # type: ignore[attr-defined]
        ids[name] = account.citizen_id
    return stores, ids


def _no_personnummer_in(entries: list[Any]) -> None:
    text = json.dumps([record_of(e) for e in entries], default=str)
    assert not [p["givenName"] for p in POPULATION if p["personnummer"] in text]


def test_a_childs_event_is_recorded_under_the_child_and_each_guardian_with_an_account(register_file: Path) -> None:
    register = JsonPopulationRegister.from_file(register_file)
    stores, ids = _stores_with_accounts("Anna", "Erik", "Elsa")
    _change(register_file, "Elsa", protectedIdentity="sekretessmarkering", address=None)
    receipt = service.receive(
        "protected-identity-changed", pnr("Elsa"), actor="skv-feed", register=register, clock=NOW, stores=stores
    )
    assert receipt == {
        "kind": "protected-identity-changed",
        "citizenId": ids["Elsa"],
        "protectedIdentity": True,
        "deceased": False,
        "relatedAccounts": 2,
    }
    entries = stores.audit.entries  # type: ignore[attr-defined]
    by_subject = {e.subject: e for e in entries}
    assert set(by_subject) == {citizen_subject(ids[n]) for n in ("Elsa", "Anna", "Erik")}
    own = by_subject[citizen_subject(ids["Elsa"])]
    assert own.action == "population.protected-identity-changed" and own.actor == "skv-feed"
    assert own.actor_kind == "system" and own.at == NOW()
    assert own.details == {
        "protectedIdentity": "sekretessmarkering",
        "deceased": False,
        "guardians": sorted([ids["Anna"], ids["Erik"]]),
        "children": [],
    }
    told = by_subject[citizen_subject(ids["Anna"])]
    assert told.action == "population.child-protected-identity-changed"
    assert told.details["citizenId"] == ids["Elsa"]
    _no_personnummer_in(entries)


def test_a_guardians_event_is_recorded_under_each_child_with_an_account(register_file: Path) -> None:
    register = JsonPopulationRegister.from_file(register_file)
    stores, ids = _stores_with_accounts("Elsa", "Leo")  # Anna has no account, Nils neither
    _change(register_file, "Anna", deceased=True)
    receipt = service.receive("deceased", pnr("Anna"), actor=service.ACTOR, register=register, clock=NOW, stores=stores)
    assert receipt["citizenId"] is None and receipt["deceased"] is True and receipt["relatedAccounts"] == 2
    entries = stores.audit.entries  # type: ignore[attr-defined]
    subjects = [e.subject for e in entries]
    # No account: the keyed hash of the personnummer is the subject, never the number.
    assert subjects[0] == person_subject(lookup_key(pnr("Anna")))
    assert sorted(subjects[1:]) == sorted(citizen_subject(ids[n]) for n in ("Elsa", "Leo"))
    assert {e.action for e in entries[1:]} == {"population.guardian-deceased"}
    _no_personnummer_in(entries)


def test_a_person_the_register_does_not_know_is_422_and_nothing_is_written() -> None:
    stores, _ = _stores_with_accounts("Anna")
    with pytest.raises(InvalidInput) as refused:
        service.receive(
            "custody-changed",
            "189001019802",
            actor="skv-feed",
            register=JsonPopulationRegister.from_file(SOURCE),
            clock=NOW,
            stores=stores,
        )
    assert refused.value.code == "unknown-person" and refused.value.status == 422
    assert stores.audit.entries == []  # type: ignore[attr-defined]
