"""The population register port and the choice of adapter.

`local`: a JSON file of test persons (the local stack and tests). `http`: the production register
service (documented in docs/architecture.md). Name, address, guardianship and protected identity come
only from here (R-02).
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError
from chalicelib.core.process import process_wide
from chalicelib.population.models import Person


class PopulationRegister(Protocol):
    def find(self, personnummer: str) -> Person | None:
        """The person, or None when the register does not know the number."""
        ...

    def children_of(self, personnummer: str) -> list[Person]:
        """Persons for whom `personnummer` is registered as guardian."""
        ...


@process_wide
def population_register() -> PopulationRegister:
    config = settings()
    if config.population_register_url:
        from chalicelib.population.http_adapter import HttpPopulationRegister

        return HttpPopulationRegister(config.population_register_url)
    if config.population_seed_path:
        from chalicelib.population.local_adapter import JsonPopulationRegister

        return JsonPopulationRegister.from_file(config.population_seed_path)
    raise ConfigurationError("set POPULATION_REGISTER_URL or POPULATION_SEED_PATH")
