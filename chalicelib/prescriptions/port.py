"""The national medication list port and the choice of adapter.

`MEDICATION_LIST=local` (the default on the local stage): a JSON fixture of test persons' medicines,
prescribed supplies and the supplier's pickup points (`MEDICATION_LIST_PATH`, by default
`testdata/medications.json`). `http`: the national service (the default on every other stage); no
endpoint is configured yet, so it answers 503 `medication-list-unavailable` (`http_adapter.py`).
The personnummer goes to the adapter and nowhere else: never in a key, a URL or a log line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from chalicelib.core.errors import ConfigurationError
from chalicelib.core.process import process_wide
from chalicelib.prescriptions.models import Medication, PickupPoint, PrescribedSupply

DEFAULT_FIXTURE = Path(__file__).resolve().parents[2] / "testdata" / "medications.json"


class MedicationList(Protocol):
    def registered(self, personnummer: str) -> list[Medication]:
        """Every medicine registered for the person, however old: the 5-year rule is the service's (R-52)."""
        ...

    def prescribed_supplies(self, personnummer: str) -> list[PrescribedSupply]:
        """Consumables prescribed to the person (R-53), expired prescriptions included."""
        ...

    def pickup_points(self) -> list[PickupPoint]:
        """Where prescribed supplies can be picked up."""
        ...


@process_wide
def medication_list() -> MedicationList:
    stage = os.environ.get("STAGE", "local")
    kind = os.environ.get("MEDICATION_LIST") or ("local" if stage == "local" else "http")
    if kind == "local":
        from chalicelib.prescriptions.local_adapter import JsonMedicationList

        return JsonMedicationList.from_file(os.environ.get("MEDICATION_LIST_PATH") or DEFAULT_FIXTURE)
    if kind == "http":
        from chalicelib.prescriptions.http_adapter import HttpMedicationList

        return HttpMedicationList(os.environ.get("MEDICATION_LIST_URL") or None)
    raise ConfigurationError("MEDICATION_LIST must be local or http")
