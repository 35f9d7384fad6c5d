"""Clinics and case types (R-22): citizens search and read them; a clinic admin configures them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.clinics import components as forms
from chalicelib.clinics import repository
from chalicelib.clinics.components import Component, Form
from chalicelib.core.errors import Conflict, InvalidInput, NotFound
from chalicelib.core.unit_of_work import UnitOfWork

BookingSystem = Literal["PASiS", "PMO"]
WebBookingKind = Literal["book-direct", "manage-bookings"]

MIN_QUERY = 2
MAX_QUERY = 200


@dataclass(frozen=True)
class WebBooking:
    """A case type that activates web booking at its clinic (R-45a): the PASiS pair "Boka tid direkt" /
    "Bokade tider, av- och omboka direkt", the PMO pair "Boka tid online" / "Av- omboka bokad tid online"."""

    system: BookingSystem
    kind: WebBookingKind


@dataclass(frozen=True)
class CaseType:
    id: str
    name: str
    attachments_allowed: bool
    active: bool
    web_booking: WebBooking | None = None
    terms_text: str | None = None
    form: Form | None = None  # a local e-service built from components
    form_version: int = 0  # the components' version: counts every change, kept when the form is removed


@dataclass(frozen=True)
class Clinic:
    clinic_id: str
    name: str
    region: str
    case_types: tuple[CaseType, ...]
    patient_board: bool = False

    def case_type(self, case_type_id: str) -> CaseType | None:
        return next((t for t in self.case_types if t.id == case_type_id), None)

    def web_booking(self) -> tuple[BookingSystem, frozenset[WebBookingKind]] | None:
        """The clinic's booking system and the web-booking kinds active now, or None (nothing online)."""
        active = [t.web_booking for t in self.case_types if t.active and t.web_booking]
        if not active:
            return None
        return active[0].system, frozenset(w.kind for w in active)


def _case_type(raw: dict[str, Any]) -> CaseType:
    web = raw.get("webBooking")
    version = int(raw.get("formVersion") or 0)
    components = raw.get("components") or []
    return CaseType(
        raw["id"],
        raw["name"],
        bool(raw["attachmentsAllowed"]),
        bool(raw.get("active", True)),
        WebBooking(web["system"], web["kind"]) if web else None,
        raw.get("termsText"),
        forms.form_from_raw(version, components) if components else None,
        version,
    )


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
    clinic_id: str,
    case_type_id: str,
    *,
    name: str,
    attachments_allowed: bool | None,
    active: bool,
    web_booking: WebBooking | None = None,
    terms_text: str | None = None,
    components: list[Component] | None = None,
) -> CaseType:
    """Saves a case type; a web-booking one (R-45a) needs its terms text, and a clinic books in one
    booking system only. The clinic's web-booking index entry follows in the same transaction.

    R-50: `components` (None: as they are) make the case type a local e-service; an empty list removes
    the form. Any change of the components takes the next form version. With a form, attachments are
    allowed exactly when it has an attachments component (`attachments_allowed` None: derived; a
    contradicting value: 422). The write is conditional on the version read, so two admins saving at
    once cannot both base a version on the same one (409 `concurrent-change`)."""
    clinic = get(clinic_id)  # 404 for an unknown clinic
    if web_booking is not None and not (terms_text or "").strip():
        raise InvalidInput("Webbtidbok kräver en villkorstext.", code="terms-text-required")
    before = clinic.case_type(case_type_id)
    kept = list(before.form.components) if before and before.form else []
    chosen = kept if components is None else components
    forms.check_definition(chosen)
    if chosen and web_booking is not None:
        raise InvalidInput(
            "En ärendetyp för webbtidbok kan inte samtidigt vara ett formulär.", code="components-with-web-booking"
        )
    if chosen:
        allowed = forms.derived_attachments_allowed(chosen, attachments_allowed)
    elif attachments_allowed is None:
        raise InvalidInput(
            "Ange om ärendetypen tar emot bilagor (attachmentsAllowed).", code="attachments-allowed-required"
        )
    else:
        allowed = attachments_allowed
    read_version = before.form_version if before else 0
    version = forms.next_version(before.form if before else None, read_version, chosen)
    saved = CaseType(
        case_type_id,
        name,
        allowed,
        active,
        web_booking,
        terms_text if web_booking else None,
        Form(version, tuple(chosen)) if chosen else None,
        version,
    )
    others = tuple(t for t in clinic.case_types if t.id != case_type_id)
    after = Clinic(clinic.clinic_id, clinic.name, clinic.region, (*others, saved))
    systems = {t.web_booking.system for t in after.case_types if t.active and t.web_booking}
    if len(systems) > 1:
        raise InvalidInput(
            "Mottagningen har redan webbtidbok i ett annat tidbokningssystem.", code="booking-system-mismatch"
        )
    uow = UnitOfWork()
    repository.put_case_type_with_index(
        uow,
        clinic_id,
        _raw(saved),
        _index(after),
        read_form_version=read_version,
        changed=lambda: Conflict("Ärendetypen ändrades samtidigt. Försök igen.", code="concurrent-change"),
    )
    uow.commit()
    return saved


def _raw(case_type: CaseType) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": case_type.id,
        "name": case_type.name,
        "attachmentsAllowed": case_type.attachments_allowed,
        "active": case_type.active,
    }
    if case_type.web_booking:
        raw["webBooking"] = {"system": case_type.web_booking.system, "kind": case_type.web_booking.kind}
        raw["termsText"] = case_type.terms_text
    if case_type.form_version:
        raw["formVersion"] = case_type.form_version
    if case_type.form:
        raw["components"] = forms.components_raw(case_type.form.components)
    return raw


def case_type_form(clinic_id: str, case_type_id: str) -> tuple[CaseType, Form]:
    """`GET /clinics/{clinicId}/case-types/{caseTypeId}/form`: an active case type's current form; 404
    for an unknown clinic or case type, an inactive one, or one without a form."""
    raw = repository.get_case_type(clinic_id, case_type_id)
    case_type = _case_type(raw) if raw else None
    if case_type is None or not case_type.active or case_type.form is None:
        raise NotFound("Ärendetypen har inget formulär.", code="form-not-found")
    return case_type, case_type.form


def _index(clinic: Clinic) -> tuple[str, str, list[str]] | None:
    web = clinic.web_booking()
    return (clinic.name, web[0], sorted(web[1])) if web else None


@dataclass(frozen=True)
class WebBookingClinic:
    clinic_id: str
    name: str
    system: BookingSystem
    kinds: frozenset[WebBookingKind]


def web_booking_clinics() -> list[WebBookingClinic]:
    """Every clinic with web booking active: its booking system and active kinds (one Query)."""
    return [
        WebBookingClinic(i["sk"], i["name"], i["system"], frozenset(i["kinds"]))
        for i in repository.web_booking_clinics()
    ]


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


def seed_web_booking(data: dict[str, Any]) -> None:
    """Activates web booking as in testdata/web-booking.json: the case types and the clinic's index entry."""
    for clinic in data["clinics"]:
        for case_type in clinic["caseTypes"]:
            configure_case_type(
                clinic["clinicId"],
                case_type["id"],
                name=case_type["name"],
                attachments_allowed=False,
                active=True,
                web_booking=WebBooking(clinic["system"], case_type["kind"]),
                terms_text=case_type["termsText"],
            )


def all_ids() -> list[str]:
    return repository.all_clinic_ids()
