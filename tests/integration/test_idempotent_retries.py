"""Nothing doubled (issue 7, defects 1 and 6): a retry with the same Idempotency-Key writes nothing new,
checked at the storage key; concurrent writers on one case all succeed, each exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tests.integration.admin_helpers import admin, decide, lock
from tests.integration.case_helpers import CLINIC, HANDLER, RECEIVER, staff_token, start_case
from tests.support import pnr


def _partition(pk: str) -> list[dict[str, Any]]:
    """Every stored item under a partition key (by key: a Query, consistent)."""
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings

    response = dynamo.client().query(
        TableName=settings().main_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    return [dynamo.from_item(i) for i in response["Items"]]


def _messages(case_id: str) -> list[dict[str, Any]]:
    return [i for i in _partition(f"CASE#{case_id}") if i["sk"].startswith("MSG#")]


def _history(case_id: str) -> list[dict[str, Any]]:
    return [i for i in _partition(f"CASE#{case_id}") if i["sk"].startswith("HIST#")]


def _inbox_arrivals(citizen_id: str, item_id: str) -> str | None:
    item = next(i for i in _partition(f"CITIZEN#{citizen_id}") if i["sk"] == f"INBOX#{item_id}")
    return item.get("arrivalId")


def _citizen_id(api: Any, token: str) -> str:
    return str(api.call("GET", "/me", token=token)[1]["citizenId"])


def _all_at_once(n: int, work: Callable[[int], Any]) -> list[Any]:
    """n threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as error:  # the test asserts on it
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_citizen_message_retried_with_the_same_key_is_stored_once(api: Any) -> None:
    citizen = api.token_for(pnr("Sara"))
    case_id = start_case(api, citizen)[1]["caseId"]
    body = {"body": "Jag glömde säga att det kliar.", "attachmentIds": []}
    headers = {"Idempotency-Key": "msg-retry-1"}
    first = api.call("POST", f"/citizens/me/cases/{case_id}/messages", body, token=citizen, headers=headers)
    before = _partition(f"CASE#{case_id}")
    second = api.call("POST", f"/citizens/me/cases/{case_id}/messages", body, token=citizen, headers=headers)
    assert first[0] == second[0] == 201 and first[1] == second[1]
    assert len(_messages(case_id)) == 2  # the first message of the case and this one, once
    assert _partition(f"CASE#{case_id}") == before  # the retry wrote nothing at all (history, case version)
    thread = api.call("GET", f"/citizens/me/inbox/{case_id}", token=citizen)[1]
    assert [m["body"] for m in thread["case"]["messages"]].count(body["body"]) == 1


def test_staff_answer_retried_with_the_same_key_is_stored_and_notified_once(api: Any) -> None:
    citizen = api.token_for(pnr("Sara"))
    citizen_id = _citizen_id(api, citizen)
    case_id = start_case(api, citizen)[1]["caseId"]
    handler = staff_token(HANDLER)
    answer = {"kind": "answer", "body": "Smörj med mjukgörande kräm.", "attachmentIds": []}
    headers = {"Idempotency-Key": "answer-retry-1"}
    first = api.call("POST", f"/staff/cases/{case_id}/messages", answer, token=handler, headers=headers)
    arrival = _inbox_arrivals(citizen_id, case_id)
    before = _partition(f"CASE#{case_id}")
    second = api.call("POST", f"/staff/cases/{case_id}/messages", answer, token=handler, headers=headers)
    assert first[0] == second[0] == 201 and first[1] == second[1]
    assert [m["kind"] for m in _messages(case_id)].count("answer") == 1
    assert _partition(f"CASE#{case_id}") == before
    assert _inbox_arrivals(citizen_id, case_id) == arrival  # no second arrival: no second SMS


def test_simultaneous_retries_with_one_key_store_one_message(api: Any) -> None:
    from chalicelib.cases import staff_service as service
    from chalicelib.core.clock import system_clock
    from chalicelib.staff.identity import authenticate_staff

    citizen = api.token_for(pnr("Sara"))
    case_id = start_case(api, citizen)[1]["caseId"]
    staff = authenticate_staff(staff_token(HANDLER))
    results = _all_at_once(
        6,
        lambda _: service.staff_message(
            staff,
            case_id,
            kind="partial-answer",
            body="Vi återkommer i eftermiddag.",
            attachment_ids=[],
            idempotency_key="same-key",
            clock=system_clock,
        ),
    )
    assert all(isinstance(r, service.Created) for r in results), results
    assert len({r.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert [m["kind"] for m in _messages(case_id)].count("partial-answer") == 1


def test_a_key_reused_for_another_request_is_refused_and_writes_nothing(api: Any) -> None:
    citizen = api.token_for(pnr("Sara"))
    case_id = start_case(api, citizen)[1]["caseId"]
    headers = {"Idempotency-Key": "reused"}
    path = f"/citizens/me/cases/{case_id}/messages"
    assert api.call("POST", path, {"body": "Först"}, token=citizen, headers=headers)[0] == 201
    before = _partition(f"CASE#{case_id}")
    status, problem, _ = api.call("POST", path, {"body": "Något annat"}, token=citizen, headers=headers)
    assert status == 422 and problem["code"] == "idempotency-key-reused"
    assert _partition(f"CASE#{case_id}") == before


def test_a_retry_after_the_case_closed_still_gets_the_first_result(api: Any) -> None:
    citizen = api.token_for(pnr("Sara"))
    case_id = start_case(api, citizen)[1]["caseId"]
    headers = {"Idempotency-Key": "slow-network"}
    path = f"/citizens/me/cases/{case_id}/messages"
    first = api.call("POST", path, {"body": "Tack!"}, token=citizen, headers=headers)
    assert api.call("POST", f"/staff/cases/{case_id}/close", token=staff_token(RECEIVER))[0] == 200
    again = api.call("POST", path, {"body": "Tack!"}, token=citizen, headers=headers)
    assert again[0] == 201 and again[1] == first[1]


def test_cases_complaints_conversations_and_uploads_are_created_once_per_key(api: Any) -> None:
    from chalicelib.cases import repository

    citizen = api.token_for(pnr("Sara"))
    first, second = (start_case(api, citizen, key="case-1") for _ in range(2))
    assert first == second and first[0] == 201
    complaint = {"clinicId": CLINIC, "eventDate": "2026-11-20", "body": "Jag fick vänta länge."}
    headers = {"Idempotency-Key": "complaint-1"}
    a = api.call("POST", "/citizens/me/complaints", complaint, token=citizen, headers=headers)
    b = api.call("POST", "/citizens/me/complaints", complaint, token=citizen, headers=headers)
    assert a[0] == b[0] == 201 and a[1] == b[1]
    api.token_for(pnr("Johan"))  # care writes only to an activated account
    conversation = {"personnummer": pnr("Johan"), "subject": "Provsvar", "body": "Dina prover är bra."}
    handler = staff_token(HANDLER)
    headers = {"Idempotency-Key": "conversation-1"}
    c = api.call("POST", f"/staff/clinics/{CLINIC}/messages", conversation, token=handler, headers=headers)
    d = api.call("POST", f"/staff/clinics/{CLINIC}/messages", conversation, token=handler, headers=headers)
    assert c[0] == d[0] == 201 and c[1] == d[1]
    assigned = repository.clinic_cases(CLINIC, "assigned", 100, None)[0]
    assert [x["caseId"] for x in assigned].count(c[1]["caseId"]) == 1
    upload = {"fileName": "intyg.pdf", "contentType": "application/pdf", "size": 1000}
    headers = {"Idempotency-Key": "upload-1"}
    e = api.call("POST", "/citizens/me/attachments", upload, token=citizen, headers=headers)
    f = api.call("POST", "/citizens/me/attachments", upload, token=citizen, headers=headers)
    assert e[0] == f[0] == 201 and e[1]["attachmentId"] == f[1]["attachmentId"]
    assert "url" in f[1]["upload"]  # a fresh upload form for the same attachment


def test_settings_change_retried_with_the_same_key_writes_one_audit_entry(api: Any) -> None:
    from chalicelib.audit import service as audit

    citizen = api.token_for(pnr("Sara"))
    citizen_id = _citizen_id(api, citizen)

    def changes() -> int:
        return sum(e["action"] == "settings.change" for e in audit.entries_for(f"CITIZEN#{citizen_id}"))

    headers = {"Idempotency-Key": "settings-1"}
    change = {"mobile": "0701740605", "notifyBySms": True}
    first = api.call("PATCH", "/citizens/me/settings", change, token=citizen, headers=headers)
    # Meanwhile the citizen turns SMS off; the late retry of the first change must not turn it on again.
    assert api.call("PATCH", "/citizens/me/settings", {"notifyBySms": False}, token=citizen)[0] == 200
    again = api.call("PATCH", "/citizens/me/settings", change, token=citizen, headers=headers)
    assert first[0] == again[0] == 200
    assert again[1]["notifyBySms"] is False
    assert changes() == 2


def test_the_same_support_desk_event_twice_is_carried_out_once(api: Any) -> None:
    from chalicelib.audit import service as audit

    api.token_for(pnr("Sara"))  # an account exists
    citizen_id = lock(pnr("Sara"))["citizenId"]
    first = decide(pnr("Sara"), "no")
    assert first["ok"] is True
    assert decide(pnr("Sara"), "no") == first  # a second click on "Test" in the console
    told = [i for i in _partition(f"CITIZEN#{citizen_id}") if i["sk"].startswith("INBOX#")]
    assert [i["subject"] for i in told].count("Beslut om din låsta inloggning") == 1  # told once
    actions = [e["action"] for e in audit.entries_for(f"CITIZEN#{citizen_id}")]
    assert actions.count("account.unlock-decision") == 1
    # A new decision (another reference) is a new request and is recorded.
    assert decide(pnr("Sara"), "yes", decisionRef="BESLUT-10")["ok"] is True
    actions = [e["action"] for e in audit.entries_for(f"CITIZEN#{citizen_id}")]
    assert actions.count("account.unlock-decision") == 2
    # A second lock or unlock is refused (already-locked / not-locked): nothing doubled either.
    assert lock(pnr("Sara"))["code"] == "already-locked"
    sealed = admin("admin_seal_record", pnr("Sara"), sealed=True, formRef="F-9")
    assert admin("admin_seal_record", pnr("Sara"), sealed=True, formRef="F-9") == sealed
    actions = [e["action"] for e in audit.entries_for(f"CITIZEN#{citizen_id}")]
    assert actions.count("record.seal") == 1


def test_concurrent_messages_on_one_case_all_succeed_once_each(api: Any) -> None:
    from chalicelib.cases import staff_service as service
    from chalicelib.core.clock import system_clock
    from chalicelib.staff.identity import authenticate_staff

    citizen = api.token_for(pnr("Sara"))
    case_id = start_case(api, citizen)[1]["caseId"]
    staff = authenticate_staff(staff_token(HANDLER))
    n = 8
    results = _all_at_once(
        n,
        lambda i: service.staff_message(
            staff,
            case_id,
            kind="partial-answer",
            body=f"Delsvar {i}",
            attachment_ids=[],
            idempotency_key=None,
            clock=system_clock,
        ),
    )
    assert all(isinstance(r, service.Created) and r.created for r in results), results
    bodies = sorted(m["body"] for m in _messages(case_id) if m["kind"] == "partial-answer")
    assert bodies == sorted(f"Delsvar {i}" for i in range(n))
    assert len([h for h in _history(case_id) if h["event"] == "message"]) == n


def test_admin_functions_still_refuse_and_audit_each_refused_attempt(api: Any) -> None:
    api.token_for(pnr("Sara"))
    refused = admin("admin_unlock_account", pnr("Sara"), requestedBy="care", formRef="F-1")
    again = admin("admin_unlock_account", pnr("Sara"), requestedBy="care", formRef="F-1")
    assert refused["ok"] is False and again["ok"] is False and refused["code"] == again["code"] == "not-locked"


def test_a_keyed_message_costs_no_extra_request(api: Any) -> None:
    """The guard is read together with the case (one BatchGetItem): session, case + guard, transaction."""
    from chalicelib.core import dynamo

    citizen = api.token_for(pnr("Sara"))
    case_id = start_case(api, citizen)[1]["caseId"]
    calls: list[str] = []
    client = dynamo.client()

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client.meta.events.register("before-call.dynamodb", count)
    try:
        status, _, _ = api.call(
            "POST",
            f"/citizens/me/cases/{case_id}/messages",
            {"body": "En fråga till"},
            token=citizen,
            headers={"Idempotency-Key": "counted-1"},
        )
    finally:
        client.meta.events.unregister("before-call.dynamodb", count)
    assert status == 201
    assert calls == ["BatchGetItem", "BatchGetItem", "TransactWriteItems"]
