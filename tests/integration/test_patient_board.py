"""R-27: the patient board sets the right clinic on a complaint sent to it without one, over the routes
against DynamoDB Local. The case moves to the clinic (its list by status, its due index), keeps the
board on `complaint.patientBoard`, gets a history entry (R-28) and an audit entry (R-29); the board keeps
reading it by id; a repeat with the same clinic writes nothing; another clinic is 409."""

from __future__ import annotations

from typing import Any

from tests.integration.case_helpers import (
    CLINIC,
    HANDLER,
    OTHER_CLINIC,
    OTHER_STAFF,
    RECEIVER,
    staff_token,
    start_case,
)
from tests.support import pnr

BOARD = "SE2321000016-9000"  # Patientnämnden Region Jönköpings län (testdata/clinics.json)
BOARD_NAME = "Patientnämnden Region Jönköpings län"
BOARD_STAFF = "SE2321000016-S006"  # Maria Ek: case receiver and handler at the board
OTHER_BOARD = "SE2321000255-9000"


def board_token(*roles: str) -> str:
    return staff_token(BOARD_STAFF, [(BOARD, r) for r in roles or ("case-receiver", "case-handler")])


def complain_to_board(api: Any, citizen: str, region: str = "Region Jönköpings län") -> str:
    status, created, _ = api.call(
        "POST",
        "/citizens/me/complaints",
        {
            "patientBoard": {"region": region, "location": "Någon vårdcentral i Jönköping, minns inte vilken"},
            "eventDate": "2026-01-10",
            "body": "Jag blev otrevligt bemött i receptionen.",
        },
        token=citizen,
    )
    assert status == 201, created
    return str(created["caseId"])


def set_clinic(api: Any, case_id: str, clinic_id: Any, token: str) -> tuple[int, Any]:
    status, body, _ = api.call("POST", f"/staff/cases/{case_id}/clinic", {"clinicId": clinic_id}, token=token)
    return status, body


def listed(api: Any, clinic: str, token: str, status: str = "open") -> list[str]:
    code, page, _ = api.call("GET", f"/staff/clinics/{clinic}/cases?status={status}", token=token)
    assert code == 200, page
    return [c["caseId"] for c in page["items"]]


def thread(case_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from chalicelib.cases import repository

    case, _, history = repository.get_thread(case_id)
    assert case is not None
    return case, history


def audit_actions(citizen_id: str) -> list[dict[str, Any]]:
    from chalicelib.audit import repository

    return [e for e in repository.DYNAMO.for_subject(f"CITIZEN#{citizen_id}") if e["action"] == "case.clinic-set"]


def test_the_board_sets_the_clinic_and_the_clinic_then_sees_and_answers_the_complaint(api):
    citizen = api.token_for(pnr("Sara"))
    case_id = complain_to_board(api, citizen)
    board, receiver = board_token(), staff_token(RECEIVER)
    assert case_id in listed(api, BOARD, board)
    assert case_id not in listed(api, CLINIC, receiver)
    assert api.call("GET", f"/staff/cases/{case_id}", token=receiver)[0] == 404  # not the clinic's yet

    status, moved = set_clinic(api, case_id, CLINIC, board)
    assert status == 200, moved
    assert moved == {
        "caseId": case_id,
        "clinicId": CLINIC,
        "clinicName": "Vårdcentralen Storgatan",
        "status": "open",
        "patientBoard": {"hsaId": BOARD, "name": BOARD_NAME},
    }

    # The clinic sees it in its case list, and it is no longer in the board's.
    assert case_id in listed(api, CLINIC, receiver)
    assert case_id not in listed(api, BOARD, board)
    status, view, _ = api.call("GET", f"/staff/cases/{case_id}", token=receiver)
    assert status == 200 and view["clinicId"] == CLINIC and view["kind"] == "complaint"
    board_kept = view["complaint"]["patientBoard"]
    assert (board_kept["hsaId"], board_kept["name"]) == (BOARD, BOARD_NAME)
    assert board_kept["clinicSetBy"]["hsaId"] == BOARD_STAFF and board_kept["clinicSetAt"]
    assert view["complaint"]["location"].startswith("Någon vårdcentral")  # the citizen's words stay
    # the history says who moved it, from where, to where.
    (entry,) = [h for h in view["history"] if h["event"] == "clinic-set"]
    assert entry["actor"]["hsaId"] == BOARD_STAFF
    assert entry["details"] == {
        "patientBoardId": BOARD,
        "patientBoardName": BOARD_NAME,
        "clinicId": CLINIC,
        "clinicName": "Vårdcentralen Storgatan",
    }
    # audited under the citizen, with who did it.
    (audited,) = audit_actions(citizen.split(".")[0])
    assert (audited["actorKind"], audited["actor"]) == ("staff", BOARD_STAFF)
    assert audited["details"]["reference"] == case_id
    assert (audited["details"]["clinicId"], audited["details"]["toClinicId"]) == (BOARD, CLINIC)
    status, log, _ = api.call("GET", "/citizens/me/access-log", token=citizen)
    assert status == 200
    # The citizen sees who moved it, from the board (after the clinic's read of the moved case).
    assert [(e["staffHsaId"], e["what"], e["clinicName"]) for e in log["items"]] == [
        (RECEIVER, "case", "Vårdcentralen Storgatan"),
        (BOARD_STAFF, "case.clinic-set", BOARD_NAME),
    ]

    # The clinic works it like any of its cases; the citizen sees the clinic's answer.
    assert api.call("POST", f"/staff/cases/{case_id}/assign", {"handlerHsaId": HANDLER}, token=receiver)[0] == 200
    answer = {"kind": "answer", "body": "Vi beklagar bemötandet och tar upp det med personalen."}
    assert api.call("POST", f"/staff/cases/{case_id}/messages", answer, token=staff_token(HANDLER))[0] == 201
    status, item, _ = api.call("GET", f"/citizens/me/inbox/{case_id}", token=citizen)
    assert status == 200 and item["case"]["messages"][-1]["author"]["clinic"] == "Vårdcentralen Storgatan"

    # The board keeps reading it by id (follow-up), and nothing more.
    status, seen, _ = api.call("GET", f"/staff/cases/{case_id}", token=board)
    assert status == 200 and seen["clinicId"] == CLINIC
    assert api.call("POST", f"/staff/cases/{case_id}/close", token=board)[0] == 404
    assert api.call("POST", f"/staff/cases/{case_id}/messages", answer, token=board)[0] == 404
    # Other staff still do not see it.
    assert api.call("GET", f"/staff/cases/{case_id}", token=staff_token(OTHER_STAFF))[0] == 404


def test_the_same_clinic_again_writes_nothing_and_another_clinic_is_409(api):
    citizen = api.token_for(pnr("Sara"))
    case_id = complain_to_board(api, citizen)
    board = board_token()
    first = set_clinic(api, case_id, CLINIC, board)
    assert first[0] == 200
    case_before, history_before = thread(case_id)

    assert set_clinic(api, case_id, CLINIC, board) == first
    case_after, history_after = thread(case_id)
    assert case_after["version"] == case_before["version"] and len(history_after) == len(history_before)
    assert len(audit_actions(citizen.split(".")[0])) == 1

    status, problem = set_clinic(api, case_id, OTHER_CLINIC, board)
    assert (status, problem["code"], problem["clinicId"]) == (409, "clinic-already-set", CLINIC)
    assert thread(case_id)[0]["clinicId"] == CLINIC


def test_the_due_index_moves_with_the_case_and_an_assigned_complaint_goes_back_to_open(api):
    from chalicelib.cases import repository

    citizen = api.token_for(pnr("Sara"))
    case_id = complain_to_board(api, citizen)
    board = board_token()
    # The board assigned it to its own handler before finding out which clinic it concerns.
    status, _, _ = api.call("POST", f"/staff/cases/{case_id}/assign", {"handlerHsaId": BOARD_STAFF}, token=board)
    assert status == 200
    assert case_id in listed(api, BOARD, board, "assigned")
    far_future = "2999-01-01T00:00:00Z"
    assert [c["caseId"] for c in repository.overdue_cases(BOARD, far_future, 10, None)[0]] == [case_id]

    status, moved = set_clinic(api, case_id, CLINIC, board)
    assert status == 200 and moved["status"] == "open"
    case, _ = thread(case_id)
    assert case.get("handlerHsaId") is None and case["status"] == "open"
    # the answer is still owed, now by the clinic: its due index, not the board's.
    assert [c["caseId"] for c in repository.overdue_cases(CLINIC, far_future, 10, None)[0]] == [case_id]
    assert repository.overdue_cases(BOARD, far_future, 10, None)[0] == []
    receiver = staff_token(RECEIVER)
    assert case_id in listed(api, CLINIC, receiver, "open")
    assert case_id not in listed(api, CLINIC, receiver, "assigned")
    assert case_id not in listed(api, BOARD, board, "assigned")


def test_only_a_complaint_at_a_patient_board_and_only_by_its_case_staff(api):
    citizen = api.token_for(pnr("Sara"))
    board_case = complain_to_board(api, citizen)
    # A complaint sent straight to a clinic, and an ordinary case: the clinic is known already.
    status, direct, _ = api.call(
        "POST",
        "/citizens/me/complaints",
        {"clinicId": CLINIC, "eventDate": "2026-01-10", "body": "Lång väntetid."},
        token=citizen,
    )
    assert status == 201
    ordinary = start_case(api, citizen)[1]["caseId"]
    receiver = staff_token(RECEIVER)
    for case_id in (direct["caseId"], ordinary):
        status, problem = set_clinic(api, case_id, OTHER_CLINIC, receiver)
        assert (status, problem["code"]) == (409, "not-a-board-complaint")
        assert set_clinic(api, case_id, OTHER_CLINIC, board_token())[0] == 404  # the board never had it
    # Staff of the clinic, of another clinic, of another region's board: nothing to see here.
    assert set_clinic(api, board_case, CLINIC, receiver)[1]["code"] == "case-not-found"
    assert set_clinic(api, board_case, CLINIC, staff_token(OTHER_STAFF))[0] == 404
    other_board = staff_token("SE2321000255-S999", [(OTHER_BOARD, "case-receiver")])
    assert set_clinic(api, board_case, CLINIC, other_board)[0] == 404
    # A role at the board that is not a case role.
    status, problem = set_clinic(api, board_case, CLINIC, staff_token(BOARD_STAFF, [(BOARD, "clinic-admin")]))
    assert (status, problem["code"]) == (403, "role-required")
    # Unknown and malformed cases.
    assert set_clinic(api, "no-such-case", CLINIC, board_token())[1]["code"] == "case-not-found"
    assert set_clinic(api, "x" * 500, CLINIC, board_token())[0] == 404
    assert thread(board_case)[0]["clinicId"] == BOARD  # nothing moved


def test_the_clinic_must_be_a_clinic(api):
    citizen = api.token_for(pnr("Sara"))
    case_id = complain_to_board(api, citizen)
    board = board_token()
    for clinic_id in ("SE2321000016-0000", BOARD, OTHER_BOARD):
        status, problem = set_clinic(api, case_id, clinic_id, board)
        assert (status, problem["code"]) == (422, "clinic-not-found"), clinic_id
    for malformed in ("", "SE 2321", "x" * 65, None, 42, ["SE2321000016-1001"]):
        status, problem = set_clinic(api, case_id, malformed, board)
        assert status == 422, (malformed, problem)
    assert api.call("POST", f"/staff/cases/{case_id}/clinic", {}, token=board)[0] == 422
    assert api.call("POST", f"/staff/cases/{case_id}/clinic", {"clinicId": CLINIC})[0] == 401
    case, history = thread(case_id)
    assert case["clinicId"] == BOARD and [h["event"] for h in history] == ["created"]
    assert audit_actions(citizen.split(".")[0]) == []


def test_a_closed_complaint_keeps_its_board(api):
    citizen = api.token_for(pnr("Sara"))
    case_id = complain_to_board(api, citizen)
    board = board_token()
    assert api.call("POST", f"/staff/cases/{case_id}/close", token=board)[0] == 200
    status, problem = set_clinic(api, case_id, CLINIC, board)
    assert (status, problem["code"]) == (409, "case-closed")
    assert thread(case_id)[0]["clinicId"] == BOARD
