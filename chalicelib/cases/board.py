"""The patient board sets the right clinic on a complaint sent to it without one (R-27).

A citizen who does not know the clinic sends a complaint to the region's patient board with a free-text
location (`service.complain`); the complaint is then a case at the board (`clinicId` = the board's HSA-id,
`complaint.location` set). Staff with a case role at the board name the clinic it concerns, for follow-up
and statistics. One transaction, with the case's version checked:

- the case moves to the clinic: `clinicId`/`clinicName`, the clinic's list by status (`gsi2`) and, while
  an answer is owed, its due index (`gsi3`). A case assigned to a board handler goes back to `open`
  (the clinic distributes it). `complaint.patientBoard` keeps the board (`hsaId`, `name`, who set the
  clinic and when): the board keeps reading the case by id (`staff_service._staff_case`), and statistics
  can count complaints per clinic and per board;
- a history entry `clinic-set` (R-28) and an audit entry `case.clinic-set` under the citizen (R-29; it
  is in the citizen's access log as the board's staff member acting from the board).

The same clinic again answers the same result and writes nothing; another clinic once one is set is 409.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.audit.models import AuditEntry, citizen_subject
from chalicelib.cases import threads
from chalicelib.cases.ports import STORES, CaseStores
from chalicelib.core.clock import Clock, iso
from chalicelib.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from chalicelib.staff.identity import CASE_ROLES

if TYPE_CHECKING:
    from chalicelib.clinics.service import Clinic
    from chalicelib.staff.identity import StaffPrincipal

BOARD_ROLES = tuple(sorted(CASE_ROLES))  # the board's case receivers and handlers work its complaints


def board_of(case: dict[str, Any]) -> str | None:
    """The HSA-id of the patient board a complaint was sent to (still there, or moved on), else None."""
    if case.get("kind") != "complaint":
        return None
    complaint = case.get("complaint") or {}
    moved = complaint.get("patientBoard") or {}
    if moved.get("hsaId"):
        return str(moved["hsaId"])
    return str(case["clinicId"]) if "location" in complaint else None  # only the board path has a location


def _not_found() -> NotFound:
    return NotFound("Ärendet finns inte.", code="case-not-found")


def _board_case(staff: StaffPrincipal, case_id: str, clock: Clock, stores: CaseStores) -> tuple[dict[str, Any], str]:
    """The case and its board, for staff with a case role at that board. Staff with no role at the board
    nor at the case's clinic do not learn that it exists (R-21); a clinic's own staff are told it is not
    the board's complaint."""
    case = threads.live(threads.read_case(case_id, stores.cases), clock)
    if case is None:
        raise _not_found()
    board = board_of(case)
    places = {case["clinicId"], board}
    if not any(clinic in places for clinic, _ in staff.roles):
        raise _not_found()
    if board is None:
        raise Conflict(
            "Bara ett klagomål som skickats till patientnämnden kan få en mottagning här.",
            code="not-a-board-complaint",
        )
    if not any(clinic == board for clinic, _ in staff.roles):  # the clinic's own staff
        raise Forbidden("Bara patientnämnden kan ange mottagning för klagomålet.", code="patient-board-only")
    staff.require(board, *BOARD_ROLES)  # 403 role-required for the board's other roles
    return case, board


def _target(clinic_id: str, board: str, stores: CaseStores) -> Clinic:
    """The clinic to move to: an existing clinic, not a patient board (boards are no `CLINIC#` items)."""
    unknown = InvalidInput("Mottagningen finns inte.", code="clinic-not-found", extra={"clinicId": clinic_id})
    try:
        clinic = stores.clinics.get(clinic_id)
    except NotFound:
        raise unknown from None
    if clinic.patient_board or clinic.clinic_id == board:
        raise unknown
    return clinic


def _result(case: dict[str, Any]) -> dict[str, Any]:
    board = case["complaint"]["patientBoard"]
    return {
        "caseId": case["caseId"],
        "clinicId": case["clinicId"],
        "clinicName": case["clinicName"],
        "status": case["status"],
        "patientBoard": {"hsaId": board["hsaId"], "name": board["name"]},
    }


def set_clinic(
    staff: StaffPrincipal,
    case_id: str,
    clinic_id: str,
    *,
    clock: Clock,
    stores: CaseStores = STORES,
) -> dict[str, Any]:
    """R-27: the board names the clinic a complaint concerns; the case moves there (see the module)."""
    repo = stores.cases

    def attempt() -> dict[str, Any]:
        case, board = _board_case(staff, case_id, clock, stores)
        complaint = dict(case["complaint"])
        if complaint.get("patientBoard"):
            if case["clinicId"] == clinic_id:
                return _result(case)  # already so: a repeated call writes nothing
            raise Conflict(
                f"Klagomålet har redan mottagningen {case['clinicName']}.",
                code="clinic-already-set",
                extra={"clinicId": case["clinicId"]},
            )
        if case["status"] == "closed":
            raise Conflict("Ärendet är avslutat.", code="case-closed")
        clinic = _target(clinic_id, board, stores)
        now = clock()
        actor = threads.staff_actor(staff)
        complaint["patientBoard"] = {
            "hsaId": board,
            "name": case["clinicName"],
            "clinicSetAt": iso(now),
            "clinicSetBy": actor,
        }
        changes: dict[str, Any] = {
            "clinicId": clinic.clinic_id,
            "clinicName": clinic.name,
            "complaint": complaint,
            "updatedAt": iso(now),
            # A board handler is no handler at the clinic: the clinic's receivers distribute it.
            "status": "open" if case["status"] == "assigned" else case["status"],
        }
        if case.get("handlerHsaId"):
            changes["handlerHsaId"] = None
        owes_answer = repo.awaits_answer(case)
        if owes_answer:
            changes["dueAt"] = case["dueAt"]  # the answer is owed as before, now by the clinic
        uow = stores.new_uow()
        # The index keys (clinic list, due index) are made from the case's clinic: the new one.
        repo.update_case(uow, {**case, "clinicId": clinic.clinic_id}, changes, awaits_answer=owes_answer or None)
        details = {
            "patientBoardId": board,
            "patientBoardName": case["clinicName"],
            "clinicId": clinic.clinic_id,
            "clinicName": clinic.name,
        }
        repo.add_history(uow, case_id, threads.history(now, "clinic-set", actor, details))
        stores.access_log.append(
            uow,
            AuditEntry(
                subject=citizen_subject(case["citizenId"]),
                action="case.clinic-set",
                actor_kind="staff",
                actor=staff.hsa_id,
                at=now,
                # The access log shows who acted from where: the board; and where the case went.
                details={
                    "staffName": staff.name,
                    "clinicId": board,
                    "clinicName": case["clinicName"],
                    "reference": case_id,
                    "toClinicId": clinic.clinic_id,
                    "toClinicName": clinic.name,
                    "purpose": "klagomålshantering",
                },
            ),
        )
        threads.commit(uow, now=now, guard=None, created_id=None)
        return _result({**case, **changes})

    return threads.change(attempt)
