"""Population register over a JSON file of test persons (Skatteverket's test personnummer).

The local stack's file is a copy the dev CLI changes while the stack runs (`python -m local population
set`), so a register read from a file follows the file: every lookup compares the file's identity
(inode, size, modification time in ns) with the one it was read at and reads it again when it changed.
A change is therefore seen by the very next request, in every process (API, pump), as the production
register is (the HTTP adapter keeps no copy). One `stat` per lookup; a file that cannot be read or parsed
at that moment (half written by hand) keeps the last good copy and is tried again on the next lookup.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chalicelib.population.models import Address, Person


def person_from_json(raw: dict[str, Any]) -> Person:
    address = raw.get("address")
    return Person(
        personnummer=raw["personnummer"],
        given_name=raw["givenName"],
        surname=raw["surname"],
        address=Address(address["street"], address["postalCode"], address["city"]) if address else None,
        guardians=tuple(raw.get("guardians") or ()),
        protected_identity=raw.get("protectedIdentity"),
        deceased=bool(raw.get("deceased")),
    )


_Index = tuple[dict[str, Person], dict[str, list[Person]]]
_Signature = tuple[int, int, int, int]  # device, inode, size, mtime (ns)


def _index(persons: Iterable[Person]) -> _Index:
    by_number = {p.personnummer: p for p in persons}
    children: dict[str, list[Person]] = {}
    for person in by_number.values():
        for guardian in person.guardians:
            children.setdefault(guardian, []).append(person)
    return by_number, children


def _read(path: Path) -> list[Person]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [person_from_json(raw) for raw in data["persons"]]


def _signature(path: Path) -> _Signature | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


class JsonPopulationRegister:
    def __init__(self, persons: Iterable[Person], *, path: str | Path | None = None) -> None:
        """Persons as given; with `path`, the file they were read from, followed from then on."""
        self._path = Path(path) if path is not None else None
        self._signature = _signature(self._path) if self._path is not None else None
        self._data: _Index = _index(persons)
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> JsonPopulationRegister:
        path = Path(path)
        signature = _signature(path)
        register = cls(_read(path), path=path)
        register._signature = signature  # as read: a change since makes the next lookup read it again
        return register

    def _current(self) -> _Index:
        if self._path is None:
            return self._data
        signature = _signature(self._path)
        if signature is None or signature == self._signature:
            return self._data
        with self._lock:
            if signature != self._signature:
                try:
                    persons = _read(self._path)
                except (OSError, ValueError, KeyError, TypeError):
                    return self._data  # unreadable just now: the last good copy, and another try next time
                self._data, self._signature = _index(persons), signature
        return self._data

    def find(self, personnummer: str) -> Person | None:
        return self._current()[0].get(personnummer)

    def children_of(self, personnummer: str) -> list[Person]:
        return list(self._current()[1].get(personnummer, ()))
