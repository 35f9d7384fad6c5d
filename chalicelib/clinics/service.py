"""Clinics and case types (R-22): citizens search and read them; a clinic admin configures them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.clinics import repository
from chalicelib.core.errors import InvalidInput, NotFound

MIN_QUERY = 2
MAX_QUERY = 200


@dataclass(frozen=True)
class CaseType:
    id: str
    name: str
    attachments_allowed: bool
    active: bool


@dataclass(frozen=True)
class Clinic:
    clinic_id: str
    name: str
    region: str
    case_types: tuple[CaseType, ...]
    patient_board: bool = False

    def case_type(self, case_type_id: str) -> CaseType | None:
        return next((t for t in self.case_types if t.id == case_type_id), None)


def _case_type(raw: dict[str, Any]) -> CaseType:
    return CaseType(raw["id"], raw["name"], bool(raw["attachmentsAllowed"]), bool(raw.get("active", True)))


def get(clinic_id: str) -> Clinic:
    raw, types = repository.get_clinic(clinic_id)
    if raw is None:
        raise NotFound("Mottagningen finns inte.", code="clinic-not-found")
    return Clinic(raw["hsaId"], raw["name"], raw["region"], tuple(_case_type(t) for t in types))


def search(query: str, limit: int = 20) -> list[dict[str, str]]:
    """Clinics whose name has words starting with each word of the query (one Query per search)."""
    terms = repository.words(query)
    if not terms or len(terms[0]) < MIN_QUERY:
        raise InvalidInput("Skriv minst två bokstäver.", code="query-too-short")
    found: dict[str, dict[str, str]] = {}
    for item in repository.search(terms[0], limit=200):
        name_words = repository.words(item["name"])
        if all(any(w.startswith(t) for w in name_words) for t in terms[1:]):
            found.setdefault(item["hsaId"], {"clinicId": item["hsaId"], "name": item["name"], "region": item["region"]})
    return sorted(found.values(), key=lambda c: c["name"])[:limit]


def configure_case_type(
    clinic_id: str, case_type_id: str, *, name: str, attachments_allowed: bool, active: bool
) -> CaseType:
    get(clinic_id)  # 404 for an unknown clinic
    repository.put_case_type(
        clinic_id, {"id": case_type_id, "name": name, "attachmentsAllowed": attachments_allowed, "active": active}
    )
    return CaseType(case_type_id, name, attachments_allowed, active)


def patient_board(region: str) -> Clinic:
    board = repository.patient_board(region)
    if board is None:
        raise InvalidInput("Det finns ingen patientnämnd för regionen.", code="patient-board-not-found")
    return Clinic(board["hsaId"], board["name"], board["region"], (), patient_board=True)


def seed(data: dict[str, Any]) -> None:
    """Loads clinics, case types and patient boards in the shape of testdata/clinics.json."""
    items: list[dict[str, Any]] = []
    for clinic in data["clinics"]:
        items.extend(repository.clinic_items(clinic))
        items.extend(repository.case_type_item(clinic["hsaId"], t) for t in clinic["caseTypes"])
    items.extend(repository.patient_board_item(b) for b in data["patientBoards"])
    repository.put_items(items)


def all_ids() -> list[str]:
    return repository.all_clinic_ids()
