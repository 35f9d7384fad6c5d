"""Population register over a JSON file of test persons (Skatteverket's test personnummer)."""

from __future__ import annotations

import json
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


class JsonPopulationRegister:
    def __init__(self, persons: Iterable[Person]) -> None:
        self._persons = {p.personnummer: p for p in persons}
        self._children: dict[str, list[Person]] = {}
        for person in self._persons.values():
            for guardian in person.guardians:
                self._children.setdefault(guardian, []).append(person)

    @classmethod
    def from_file(cls, path: str | Path) -> JsonPopulationRegister:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(person_from_json(raw) for raw in data["persons"])

    def find(self, personnummer: str) -> Person | None:
        return self._persons.get(personnummer)

    def children_of(self, personnummer: str) -> list[Person]:
        return list(self._children.get(personnummer, ()))
