"""The patient board's work on complaints sent to it without a clinic (R-27)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.core.clock import system_clock
from chalicelib.core.http import ok, parse_body
from chalicelib.core.lazy import lazy_module
from chalicelib.core.openapi import documented
from chalicelib.edge import callers

if TYPE_CHECKING:
    from chalicelib.cases import board
else:
    board = lazy_module("chalicelib.cases.board")

bp = Blueprint(__name__)
TAG = "Staff"
MODELS = "chalicelib.cases.board_schemas"


@documented(
    bp,
    "/staff/cases/{caseId}/clinic",
    "POST",
    summary="The patient board sets the clinic of a complaint sent to it without one (R-27; audited)",
    tag=TAG,
    models=MODELS,
    request="SetClinicRequest",
    responses={200: "ClinicSet"},
    security="staffJwt",
    problems=(401, 403, 404, 409, 422),
)
def set_clinic(caseId: str) -> Response:
    """The case moves to the clinic (its case list, its due index); the board keeps reading it by id.
    The same clinic again: 200, nothing written. Another clinic once one is set: 409."""
    from chalicelib.cases import board_schemas

    staff = callers.staff(bp.current_request)
    body = parse_body(bp.current_request, board_schemas.SetClinicRequest)
    return ok(board.set_clinic(staff, caseId, body.clinic_id, clock=system_clock))
