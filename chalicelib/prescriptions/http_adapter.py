"""The national medication list over HTTP (production): not connected yet.

The service (E-hälsomyndigheten's prescription register, reached through the region's integration
platform) is a deployment's contract that this project does not have; until it does, every call answers
503 `medication-list-unavailable`, so a stage without it never shows a wrong (empty) list and a renewal
in free text still works (it needs no list). `MEDICATION_LIST_URL` is read so the wiring is in place.
"""

from __future__ import annotations

from typing import NoReturn

from chalicelib.core.errors import ServiceUnavailable
from chalicelib.prescriptions.models import Medication, PickupPoint, PrescribedSupply


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Läkemedelslistan går inte att hämta just nu. Försök igen senare.",
        code="medication-list-unavailable",
        retry_after_s=60,
    )


class HttpMedicationList:
    def __init__(self, base_url: str | None) -> None:
        self._base = base_url

    def _not_configured(self) -> NoReturn:
        raise unavailable()

    def registered(self, personnummer: str) -> list[Medication]:
        self._not_configured()

    def prescribed_supplies(self, personnummer: str) -> list[PrescribedSupply]:
        self._not_configured()

    def pickup_points(self) -> list[PickupPoint]:
        self._not_configured()
