"""Clinics (public reads) and case-type configuration (clinic admin, R-22)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.errors import InvalidInput, NotFound
from chalicelib.core.http import ok, parse_body, query_param
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.clinics import components as forms
    from chalicelib.clinics import service
    from chalicelib.clinics.schemas import ComponentModel
else:
    forms = lazy_module("chalicelib.clinics.components")
    service = lazy_module("chalicelib.clinics.service")

bp = Blueprint(__name__)
MODELS = "chalicelib.clinics.schemas"
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def _case_type_out(t: service.CaseType, *, with_components: bool = False) -> dict[str, object]:
    out: dict[str, object] = {
        "id": t.id,
        "name": t.name,
        "attachmentsAllowed": t.attachments_allowed,
        "active": t.active,
    }
    if t.web_booking:
        out["webBooking"] = {"system": t.web_booking.system, "kind": t.web_booking.kind}
        out["termsText"] = t.terms_text
    if t.form:
        out["formVersion"] = t.form.version
        if with_components:
            out["components"] = forms.components_raw(t.form.components)
    return out


def _clinic_out(clinic: service.Clinic, include_inactive: bool = False) -> dict[str, object]:
    return {
        "clinicId": clinic.clinic_id,
        "name": clinic.name,
        "region": clinic.region,
        "caseTypes": [_case_type_out(t) for t in clinic.case_types if t.active or include_inactive],
    }


def checked_id(value: str) -> str:
    if not _ID.match(value):
        raise NotFound("Finns inte.", code="not-found")
    return value


@documented(
    bp,
    "/clinics",
    "GET",
    summary="Search clinics by name",
    tag="Clinics",
    models=MODELS,
    responses={200: "ClinicList"},
    problems=(422,),
    query=("q",),
)
def search() -> Response:
    query = query_param(bp.current_request, "q") or ""
    if len(query) > service.MAX_QUERY:
        raise InvalidInput("Sökningen är för lång.", code="query-too-long")
    return ok({"items": service.search(query)})


@documented(
    bp,
    "/clinics/{clinicId}",
    "GET",
    summary="A clinic and its active case types",
    tag="Clinics",
    models=MODELS,
    responses={200: "ClinicOut"},
    problems=(404,),
)
def get_clinic(clinicId: str) -> Response:
    return ok(_clinic_out(service.get(checked_id(clinicId))))


@documented(
    bp,
    "/clinics/{clinicId}/case-types/{caseTypeId}/form",
    "GET",
    summary="A local e-service's form: its version and components (R-50)",
    tag="Clinics",
    models=MODELS,
    responses={200: "FormOut"},
    problems=(404,),
)
def get_form(clinicId: str, caseTypeId: str) -> Response:
    case_type, form = service.case_type_form(checked_id(clinicId), checked_id(caseTypeId))
    return ok(
        {
            "clinicId": clinicId,
            "caseTypeId": case_type.id,
            "name": case_type.name,
            "attachmentsAllowed": form.attachments_allowed,
            **forms.form_out(form),
        }
    )


@documented(
    bp,
    "/staff/clinics/{clinicId}/case-types/{caseTypeId}",
    "PUT",
    summary="Configure a case type; with components a local e-service (R-50)",
    tag="Staff",
    models=MODELS,
    request="CaseTypeIn",
    responses={200: "CaseTypeOut"},
    security="staffJwt",
    problems=(401, 403, 404, 409, 422),
)
def put_case_type(clinicId: str, caseTypeId: str) -> Response:
    from chalicelib.clinics import schemas as models

    staff = callers.staff(bp.current_request)
    staff.require(checked_id(clinicId), "clinic-admin")
    body = parse_body(bp.current_request, models.CaseTypeIn)
    saved = service.configure_case_type(
        clinicId,
        checked_id(caseTypeId),
        name=body.name,
        attachments_allowed=body.attachments_allowed,
        active=body.active,
        web_booking=service.WebBooking(body.web_booking.system, body.web_booking.kind) if body.web_booking else None,
        terms_text=body.terms_text,
        components=None if body.components is None else [_component(c) for c in body.components],
    )
    return ok(_case_type_out(saved, with_components=True))


def _component(c: ComponentModel) -> forms.Component:
    return forms.Component(
        id=c.id,
        kind=c.kind,
        label=c.label,
        required=c.required,
        options=tuple(forms.Option(o.id, o.label) for o in c.options or ()),
        max_length=c.max_length,
        text=c.text,
    )
