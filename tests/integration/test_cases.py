"""Cases and the inbox (R-06, R-20, R-21, R-22, R-24, R-25, R-27, R-28, R-29) in-process over the routes."""

from __future__ import annotations

from datetime import date, timedelta

from tests.integration.admin_helpers import lock
from tests.integration.case_helpers import (
    ADMIN,
    CLINIC,
    HANDLER,
    OTHER_STAFF,
    RECEIVER,
    staff_token,
    start_case,
)
from tests.support import at, pnr


def _case_count():
    from chalicelib.cases import repository

    return len(repository.clinic_cases(CLINIC, "open", 100, None)[0])


def test_case_flow_partial_answer_answer_inbox_and_access_log(api):
    citizen = api.token_for(pnr("Sara"))
    status, created = start_case(api, citizen)
    assert status == 201
    case_id = created["caseId"]

    receiver = staff_token(RECEIVER)
    status, listed, _ = api.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=receiver)
    assert status == 200 and [c["caseId"] for c in listed["items"]] == [case_id]
    assert listed["items"][0]["dueAt"] and listed["items"][0]["overdue"] is False

    status, view, _ = api.call("GET", f"/staff/cases/{case_id}", token=receiver)
    assert status == 200 and view["citizen"]["name"] == "Sara Berg" and view["citizen"]["protectedIdentity"] is False
    status, assigned, _ = api.call("POST", f"/staff/cases/{case_id}/assign", {"handlerHsaId": HANDLER}, token=receiver)
    assert status == 200 and assigned["status"] == "assigned"

    handler = staff_token(HANDLER)
    for kind, text in (("partial-answer", "Vi återkommer i eftermiddag."), ("answer", "Smörj med mjukgörande kräm.")):
        status, _, _ = api.call("POST", f"/staff/cases/{case_id}/messages", {"kind": kind, "body": text}, token=handler)
        assert status == 201

    status, page, _ = api.call("GET", "/citizens/me/inbox", token=citizen)
    assert status == 200 and page["items"][0]["id"] == case_id and page["items"][0]["unread"] is True
    status, item, _ = api.call("GET", f"/citizens/me/inbox/{case_id}", token=citizen)
    assert [m["kind"] for m in item["case"]["messages"]] == ["citizen-message", "partial-answer", "answer"]
    assert item["case"]["messages"][2]["author"]["kind"] == "staff"
    assert api.call("GET", "/citizens/me/inbox", token=citizen)[1]["items"][0]["unread"] is False

    status, log, _ = api.call("GET", "/citizens/me/access-log", token=citizen)
    assert status == 200
    assert [(e["staffHsaId"], e["clinicName"], e["what"]) for e in log["items"]] == [
        (RECEIVER, "Vårdcentralen Storgatan", "case")
    ]

    status, view, _ = api.call("GET", f"/staff/cases/{case_id}", token=handler)
    events = [h["event"] for h in view["history"]]
    assert events == ["created", "assigned", "message", "message"]  # the history keeps every step
    assert len(api.call("GET", "/citizens/me/access-log", token=citizen)[1]["items"]) == 2


def test_authorization_citizens_see_only_their_own(api):
    sara, johan = api.token_for(pnr("Sara")), api.token_for(pnr("Johan"))
    case_id = start_case(api, sara)[1]["caseId"]
    johan_id = johan.split(".")[0]
    assert api.call("GET", f"/citizens/me/inbox/{case_id}", token=johan)[0] == 404
    assert api.call("POST", f"/citizens/me/cases/{case_id}/messages", {"body": "hej"}, token=johan)[0] == 404
    assert api.call("GET", f"/citizens/{johan_id}/inbox", token=sara)[0] == 404
    assert api.call("GET", f"/citizens/{johan_id}/access-log", token=sara)[0] == 404
    assert api.call("POST", f"/citizens/{johan_id}/cases", {}, token=sara)[0] == 404


def test_authorization_staff_roles_and_clinics(api):
    case_id = start_case(api, api.token_for(pnr("Sara")))[1]["caseId"]
    other = staff_token(OTHER_STAFF)
    assert api.call("GET", f"/staff/cases/{case_id}", token=other)[0] == 404
    assert api.call("GET", f"/staff/clinics/{CLINIC}/cases", token=other)[0] == 404
    assert api.call("POST", f"/staff/cases/{case_id}/close", token=other)[0] == 404
    receiver = staff_token(RECEIVER)
    status, problem, _ = api.call(
        "POST", f"/staff/cases/{case_id}/messages", {"kind": "answer", "body": "x"}, token=receiver
    )
    assert status == 403 and problem["code"] == "role-required"
    handler = staff_token(HANDLER)
    status, problem, _ = api.call(
        "PUT",
        f"/staff/clinics/{CLINIC}/case-types/boka-tid",
        {"name": "Boka tid", "attachmentsAllowed": True},
        token=handler,
    )
    assert status == 403 and problem["code"] == "role-required"
    assert api.call("POST", f"/staff/cases/{case_id}/assign", {"handlerHsaId": HANDLER}, token=handler)[0] == 403
    admin = staff_token(ADMIN)
    assert api.call("GET", f"/staff/cases/{case_id}", token=admin)[0] == 403  # configuration is not case access
    forged = staff_token(RECEIVER, iss="someone-else")
    assert api.call("GET", f"/staff/cases/{case_id}", token=forged)[1]["code"] == "staff-token-invalid"
    assert api.call("GET", f"/staff/cases/{case_id}", token=api.token_for(pnr("Sara")))[0] == 401


def test_assign_only_to_a_case_handler_of_the_clinic(api):
    case_id = start_case(api, api.token_for(pnr("Sara")))[1]["caseId"]
    status, problem, _ = api.call(
        "POST", f"/staff/cases/{case_id}/assign", {"handlerHsaId": OTHER_STAFF}, token=staff_token(RECEIVER)
    )
    assert status == 422 and problem["code"] == "not-a-case-handler"


def test_r22_clinic_admin_decides_attachments_and_case_types(api):
    citizen = api.token_for(pnr("Sara"))
    status, problem = start_case(api, citizen, case_type="boka-tid", attachment_ids=["x"])
    assert status == 422 and problem["code"] == "attachments-not-allowed"
    assert _case_count() == 0  # refused: nothing written
    admin = staff_token(ADMIN)
    status, saved, _ = api.call(
        "PUT",
        f"/staff/clinics/{CLINIC}/case-types/boka-tid",
        {"name": "Boka tid", "attachmentsAllowed": False, "active": False},
        token=admin,
    )
    assert status == 200 and saved["active"] is False
    clinic = api.call("GET", f"/clinics/{CLINIC}")[1]
    assert "boka-tid" not in [t["id"] for t in clinic["caseTypes"]]
    status, problem = start_case(api, citizen, case_type="boka-tid")
    assert status == 422 and problem["code"] == "case-type-not-offered"


def test_clinic_search(api):
    status, found, _ = api.call("GET", "/clinics?q=vårdcent")
    assert status == 200 and [c["name"] for c in found["items"]] == ["Vårdcentralen Storgatan"]
    assert [c["clinicId"] for c in api.call("GET", "/clinics?q=hud läns")[1]["items"]] == ["SE2321000016-2002"]
    assert api.call("GET", "/clinics?q=x")[0] == 422
    assert api.call("GET", "/clinics/SE0000000000-0000")[0] == 404


def test_r06_locked_citizen_still_receives_answers_but_no_new_conversations(api):
    citizen = api.token_for(pnr("Sara"))
    case_id = start_case(api, citizen)[1]["caseId"]
    assert lock(pnr("Sara"), requested_by="citizen")["ok"]
    handler = staff_token(HANDLER)
    status, _, _ = api.call(
        "POST", f"/staff/cases/{case_id}/messages", {"kind": "answer", "body": "Svar"}, token=handler
    )
    assert status == 201
    status, view, _ = api.call("GET", f"/staff/cases/{case_id}", token=handler)
    assert view["citizen"]["accountLocked"] is True  # staff see the lock
    status, problem, _ = api.call(
        "POST",
        f"/staff/clinics/{CLINIC}/messages",
        {"personnummer": pnr("Sara"), "subject": "Provsvar", "body": "Hej"},
        token=handler,
    )
    assert status == 403 and problem["code"] == "citizen-locked"
    from tests.integration.admin_helpers import unlock

    unlock(pnr("Sara"), requested_by="citizen")
    citizen = api.token_for(pnr("Sara"))
    item = api.call("GET", f"/citizens/me/inbox/{case_id}", token=citizen)[1]
    assert item["case"]["messages"][-1]["body"] == "Svar"  # visible after unlock


def test_staff_conversation_needs_an_activated_account(api):
    handler = staff_token(HANDLER)
    request = {"personnummer": pnr("Johan"), "subject": "Kallelse", "body": "Välkommen"}
    status, problem, _ = api.call("POST", f"/staff/clinics/{CLINIC}/messages", request, token=handler)
    assert status == 409 and problem["code"] == "citizen-not-activated"
    citizen = api.token_for(pnr("Johan"))
    status, created, _ = api.call("POST", f"/staff/clinics/{CLINIC}/messages", request, token=handler)
    assert status == 201
    page = api.call("GET", "/citizens/me/inbox", token=citizen)[1]
    assert page["items"][0]["kind"] == "message" and page["items"][0]["unread"] is True
    assert (
        api.call("POST", f"/citizens/me/cases/{created['caseId']}/messages", {"body": "Tack"}, token=citizen)[0] == 201
    )


def test_idempotency_key_returns_the_first_result_and_writes_nothing_new(api):
    citizen = api.token_for(pnr("Sara"))
    first = start_case(api, citizen, key="app-retry-1")
    second = start_case(api, citizen, key="app-retry-1")
    assert first[0] == second[0] == 201 and first[1] == second[1]
    assert _case_count() == 1


def test_r27_complaints_never_anonymous_patient_board_with_location(api):
    citizen = api.token_for(pnr("Sara"))
    status, created, _ = api.call(
        "POST",
        "/citizens/me/complaints",
        {
            "patientBoard": {"region": "Region Skåne", "location": "Akuten, okänd avdelning"},
            "eventDate": "2026-01-10",
            "concernsCareProcess": True,
            "body": "Jag fick vänta i tio timmar.",
        },
        token=citizen,
    )
    assert status == 201
    board = staff_token("SE2321000255-S999", [("SE2321000255-9000", "case-receiver")])
    view = api.call("GET", f"/staff/cases/{created['caseId']}", token=board)[1]
    assert view["complaint"] == {
        "eventDate": "2026-01-10",
        "concernsCareProcess": True,
        "location": "Akuten, okänd avdelning",
    }
    assert view["citizen"]["name"] == "Sara Berg"  # not anonymous
    status, problem, _ = api.call(
        "POST",
        "/citizens/me/complaints",
        {"clinicId": "SE2321000016-2002", "eventDate": "2026-01-10", "body": "x"},
        token=citizen,
    )
    assert status == 422 and problem["code"] == "complaints-not-offered"
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    status, problem, _ = api.call(
        "POST", "/citizens/me/complaints", {"clinicId": CLINIC, "eventDate": tomorrow, "body": "x"}, token=citizen
    )
    assert status == 422 and problem["code"] == "event-date-in-future"
    assert (
        api.call("POST", "/citizens/me/complaints", {"eventDate": "2026-01-10", "body": "x"}, token=citizen)[0] == 422
    )


def test_r20_overdue_cases_by_the_response_time_rule(api):
    from chalicelib.accounts import service as accounts
    from chalicelib.cases import service
    from chalicelib.cases.staff_service import staff_list, staff_message
    from chalicelib.core.clock import fixed_clock
    from chalicelib.guardians.service import Subject
    from chalicelib.staff.identity import StaffPrincipal

    api.token_for(pnr("Sara"))
    account = accounts.find_by_personnummer(pnr("Sara"))
    subject = Subject(account.citizen_id, account, proxy=False, actor_citizen_id=account.citizen_id)
    monday_morning = fixed_clock(at("2026-11-23T09:00:00Z"))  # 10:00 in Stockholm: due 12:00
    created = service.start_case(
        subject,
        clinic_id=CLINIC,
        case_type_id="fraga-sjukskoterskan",
        title="t",
        body="b",
        attachment_ids=[],
        idempotency_key=None,
        clock=monday_morning,
    )
    staff = StaffPrincipal(HANDLER, "Per Lund", frozenset({(CLINIC, "case-handler")}))
    before, _ = staff_list(staff, CLINIC, "overdue", cursor=None, clock=fixed_clock(at("2026-11-23T10:59:00Z")))
    after, _ = staff_list(staff, CLINIC, "overdue", cursor=None, clock=fixed_clock(at("2026-11-23T11:01:00Z")))
    assert before == [] and [c["caseId"] for c in after] == [created.id] and after[0]["overdue"]
    from chalicelib.cases.events import count_overdue

    assert count_overdue({"time": "2026-11-23T11:01:00Z"}, None)["byClinic"][CLINIC] == 1
    staff_message(
        staff,
        created.id,
        kind="answer",
        body="svar",
        attachment_ids=[],
        idempotency_key=None,
        clock=fixed_clock(at("2026-11-23T11:30:00Z")),
    )
    late, _ = staff_list(staff, CLINIC, "overdue", cursor=None, clock=fixed_clock(at("2026-11-23T12:00:00Z")))
    assert late == []  # answered: no longer overdue


def test_r24_closed_case_disappears_two_years_later(api):
    from chalicelib.cases import repository
    from chalicelib.cases.events import case_retention
    from chalicelib.core import dynamo
    from chalicelib.core.clock import fixed_clock
    from chalicelib.inbox import service as inbox

    citizen = api.token_for(pnr("Sara"))
    case_id = start_case(api, citizen)[1]["caseId"]
    handler = staff_token(HANDLER)
    closed = api.call("POST", f"/staff/cases/{case_id}/close", token=handler)[1]
    assert closed["status"] == "closed"
    assert api.call("POST", f"/citizens/me/cases/{case_id}/messages", {"body": "x"}, token=citizen)[1]["code"] == (
        "case-closed"
    )
    citizen_id = citizen.split(".")[0]
    two_years_later = fixed_clock(at(closed["closedAt"]) + timedelta(days=731))
    assert inbox.get(citizen_id, case_id, clock=two_years_later) is None  # reads ignore expired items
    assert inbox.page(citizen_id, None, clock=two_years_later)["items"] == []
    assert inbox.get(citizen_id, case_id, clock=fixed_clock(at(closed["closedAt"]) + timedelta(days=700)))
    # DynamoDB's TTL deletes the case; the stream's REMOVE record drives the rest away.
    case = repository.get_case(case_id)
    dynamo.client().delete_item(TableName=__import__("os").environ["MAIN_TABLE"], Key=repository.case_key(case_id))
    record = {
        "eventName": "REMOVE",
        "dynamodb": {"Keys": repository.case_key(case_id), "OldImage": dynamo.to_item(case), "SequenceNumber": "1"},
    }
    assert case_retention({"Records": [record]}, None) == {"batchItemFailures": []}
    assert repository.get_thread(case_id) == (None, [], [])
    assert inbox.get(citizen_id, case_id, clock=fixed_clock(at(closed["closedAt"]))) is None


def test_guardian_starts_a_case_for_a_young_child_and_staff_see_it(api):
    guardian = api.token_for(pnr("Anna"))
    elsa = next(c for c in api.call("GET", "/me", token=guardian)[1]["actingFor"] if c["name"] == "Elsa Andersson")
    status, created = start_case(api, guardian, cid=elsa["citizenId"])
    assert status == 201
    view = api.call("GET", f"/staff/cases/{created['caseId']}", token=staff_token(RECEIVER))[1]
    assert view["startedBy"]["kind"] == "guardian" and view["citizen"]["name"] == "Elsa Andersson"
    assert (
        api.call("GET", f"/citizens/{elsa['citizenId']}/inbox", token=guardian)[1]["items"][0]["id"]
        == (created["caseId"])
    )
    leo_id = api.token_for(pnr("Leo")).split(".")[0]
    assert api.call("GET", f"/citizens/{leo_id}/inbox", token=guardian)[0] == 404  # 15: no proxy


def test_inbox_pages_with_cursor_and_rejects_foreign_cursor(api):
    citizen = api.token_for(pnr("Sara"))
    for n in range(3):
        start_case(api, citizen, key=f"k{n}")
    from chalicelib.core.clock import system_clock
    from chalicelib.inbox import service as inbox

    citizen_id = citizen.split(".")[0]
    first = inbox.page(citizen_id, None, clock=system_clock, limit=2)
    second = inbox.page(citizen_id, first["nextCursor"], clock=system_clock, limit=2)
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    other = api.token_for(pnr("Johan"))
    status, problem, _ = api.call("GET", f"/citizens/me/inbox?cursor={first['nextCursor']}", token=other)
    assert status == 400 and problem["code"] == "invalid-cursor"


def test_r25_sent_messages_cannot_be_recalled_or_edited(api):
    case_id = start_case(api, api.token_for(pnr("Sara")))[1]["caseId"]
    handler = staff_token(HANDLER)
    api.call("POST", f"/staff/cases/{case_id}/messages", {"kind": "answer", "body": "Svar"}, token=handler)
    for method in ("PUT", "PATCH", "DELETE"):
        status, problem, _ = api.call(method, f"/staff/cases/{case_id}/messages", {"body": "ändrat"}, token=handler)
        assert status == 405 and problem["code"] == "method-not-allowed"
    from chalicelib.cases import repository

    _, messages, _ = repository.get_thread(case_id)
    assert [m["body"] for m in messages][-1] == "Svar"
