"""Local e-services built from components (R-50, R-22) and forms care sends (R-51), in-process over the
routes against DynamoDB Local: the clinic admin's definition and its versions, the form call, a citizen's
case validated against the form (422 naming the question), the structured answers staff and the citizen
see, and a sent form answered once, coming back as a case at the clinic."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.attachments.models import Uploader
from chalicelib.core import process
from tests.integration.case_helpers import ADMIN, CLINIC, HANDLER, OTHER_STAFF, RECEIVER, staff_token
from tests.integration.test_attachments import checked
from tests.support import pnr

TYPE = "hudbesvar"
PATH = f"/staff/clinics/{CLINIC}/case-types/{TYPE}"
DURATION = {
    "id": "duration",
    "kind": "single-choice",
    "label": "Hur länge har du haft besvären?",
    "required": True,
    "options": [{"id": "days", "label": "Några dagar"}, {"id": "weeks", "label": "Några veckor"}],
}
DESCRIBE = {"id": "describe", "kind": "free-text", "label": "Beskriv besvären", "required": False, "maxLength": 500}
PHOTOS = {"id": "photos", "kind": "attachments", "label": "Bifoga bilder", "required": False}
COMPONENTS = [DURATION, DESCRIBE, PHOTOS]


@pytest.fixture(autouse=True)
def fresh_clients(stack: Any) -> None:
    process.reset()  # this stack's S3 endpoint, whatever an earlier test used


def cid_of(token: str) -> str:
    return token.split(".", maxsplit=1)[0]


def build(api: Any, components: list[dict[str, Any]] | None = None, **fields: Any) -> tuple[int, Any]:
    body = {"name": "Hudbesvär", "components": COMPONENTS if components is None else components, **fields}
    status, saved, _ = api.call("PUT", PATH, body, token=staff_token(ADMIN))
    return status, saved


def start(api: Any, token: str, answers: dict[str, Any] | None, *, files: list[str] | None = None, **more: Any) -> Any:
    body: dict[str, Any] = {"clinicId": CLINIC, "caseTypeId": TYPE, "attachmentIds": files or [], **more}
    if answers is not None:
        body["answers"] = answers
    status, created, _ = api.call("POST", "/citizens/me/cases", body, token=token)
    return status, created


def open_cases() -> list[dict[str, Any]]:
    from chalicelib.cases import repository

    return list(repository.clinic_cases(CLINIC, "open", 100, None)[0])


# ---------------------------------------------------------------- the clinic admin builds a local e-service


def test_a_local_eservice_refuses_a_missing_required_answer_and_reaches_the_clinic_structured(api):
    status, saved = build(api)
    assert status == 200, saved
    assert saved["formVersion"] == 1 and saved["attachmentsAllowed"] is True  # the attachments component
    assert [c["id"] for c in saved["components"]] == ["duration", "describe", "photos"]
    assert TYPE in [t["id"] for t in api.call("GET", f"/clinics/{CLINIC}")[1]["caseTypes"]]

    status, form, _ = api.call("GET", f"/clinics/{CLINIC}/case-types/{TYPE}/form")
    assert status == 200 and form["version"] == 1 and form["attachmentsAllowed"] is True
    assert form["components"][0] == DURATION and form["components"][1]["maxLength"] == 500

    citizen = api.token_for(pnr("Sara"))
    status, problem = start(api, citizen, {"describe": "Det kliar"})
    assert status == 422 and problem["code"] == "answer-required"
    assert "Hur länge har du haft besvären?" in problem["detail"] and problem["componentId"] == "duration"
    assert open_cases() == []  # refused: nothing written

    photo = checked(boto3.client("s3"), Uploader("citizen", cid_of(citizen))).attachment_id
    status, created = start(api, citizen, {"duration": "weeks", "describe": "Det kliar"}, files=[photo])
    assert status == 201, created
    case_id = created["caseId"]

    receiver = staff_token(RECEIVER)
    listed = api.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=receiver)[1]["items"]
    assert [(c["caseId"], c["subject"]) for c in listed] == [(case_id, "Hudbesvär")]  # subject: the type's name
    view = api.call("GET", f"/staff/cases/{case_id}", token=receiver)[1]
    assert view["form"]["version"] == 1
    assert view["form"]["answers"] == [
        {
            "componentId": "duration",
            "label": "Hur länge har du haft besvären?",
            "kind": "single-choice",
            "value": "weeks",
            "optionLabels": ["Några veckor"],
        },
        {"componentId": "describe", "label": "Beskriv besvären", "kind": "free-text", "value": "Det kliar"},
        {"componentId": "photos", "label": "Bifoga bilder", "kind": "attachments", "value": [photo]},
    ]
    assert view["messages"][0]["attachmentIds"] == [photo]

    item = api.call("GET", f"/citizens/me/inbox/{case_id}", token=citizen)[1]
    assert item["case"]["form"]["answers"][0]["value"] == "weeks"  # the citizen sees what they sent
    assert [a["attachmentId"] for a in item["attachments"]] == [photo]


def test_a_changed_case_type_takes_a_new_version_and_sent_cases_keep_theirs(api):
    build(api)
    citizen = api.token_for(pnr("Sara"))
    first = start(api, citizen, {"duration": "days"})[1]["caseId"]

    assert build(api)[1]["formVersion"] == 1  # saved again unchanged: the same version
    renamed = {**DURATION, "label": "Hur länge?", "options": [{"id": "long", "label": "Länge"}]}
    status, saved = build(api, [renamed, DESCRIBE])
    assert status == 200 and saved["formVersion"] == 2
    assert saved["attachmentsAllowed"] is False  # no attachments component any more
    assert api.call("GET", f"/clinics/{CLINIC}/case-types/{TYPE}/form")[1]["version"] == 2

    status, problem = start(api, citizen, {"duration": "days"})  # checked against the current version
    assert status == 422 and problem["code"] == "answer-invalid" and "Hur länge?" in problem["detail"]
    second = start(api, citizen, {"duration": "long"})[1]["caseId"]

    handler = staff_token(HANDLER)
    old = api.call("GET", f"/staff/cases/{first}", token=handler)[1]["form"]
    new = api.call("GET", f"/staff/cases/{second}", token=handler)[1]["form"]
    assert (old["version"], old["answers"][0]["label"], old["answers"][0]["optionLabels"]) == (
        1,
        "Hur länge har du haft besvären?",
        ["Några dagar"],
    )
    assert (new["version"], new["answers"][0]["label"]) == (2, "Hur länge?")

    # a PUT without components keeps the form; [] removes it, and its number is not reused
    status, kept, _ = api.call("PUT", PATH, {"name": "Hudbesvär nytt namn"}, token=staff_token(ADMIN))
    assert status == 200 and kept["formVersion"] == 2 and kept["name"] == "Hudbesvär nytt namn"
    status, problem = build(api, [])
    assert status == 422 and problem["code"] == "attachments-allowed-required"
    status, removed = build(api, [], attachmentsAllowed=False)
    assert status == 200 and "formVersion" not in removed
    assert api.call("GET", f"/clinics/{CLINIC}/case-types/{TYPE}/form")[0] == 404
    assert build(api)[1]["formVersion"] == 4


@pytest.mark.parametrize(
    ("components", "fields", "code"),
    [
        (COMPONENTS, {"attachmentsAllowed": False}, "attachments-allowed-mismatch"),
        ([DURATION], {"attachmentsAllowed": True}, "attachments-allowed-mismatch"),
        ([{**DURATION, "options": []}], {}, "options-required"),
        ([{**DESCRIBE, "options": [{"id": "a", "label": "A"}]}], {}, "options-not-allowed"),
        ([DURATION, {**DESCRIBE, "id": "duration"}], {}, "duplicate-component-id"),
        ([{**DURATION, "maxLength": 10}], {}, "invalid-max-length"),
        ([{"id": "t", "kind": "terms", "label": "Villkor", "required": True}], {}, "terms-text-required"),
        ([{**DURATION, "kind": "slider"}], {}, "invalid-input"),  # not a component kind
        (
            [DURATION],
            {"webBooking": {"system": "PASiS", "kind": "book-direct"}, "termsText": "Villkor"},
            "components-with-web-booking",
        ),
    ],
)
def test_definitions_that_cannot_be_answered_are_refused_and_nothing_changes(api, components, fields, code):
    status, problem = build(api, components, **fields)
    assert status == 422 and problem["code"] == code, problem
    assert api.call("GET", f"/clinics/{CLINIC}/case-types/{TYPE}/form")[0] == 404


def test_only_the_clinic_admin_builds_forms(api):
    body = {"name": "Hudbesvär", "components": COMPONENTS}
    status, problem, _ = api.call("PUT", PATH, body, token=staff_token(HANDLER))
    assert status == 403 and problem["code"] == "role-required"
    assert api.call("PUT", PATH, body, token=staff_token(OTHER_STAFF))[0] == 404


def test_two_admins_saving_from_the_same_version_cannot_both_win(api):
    from chalicelib.clinics import repository
    from chalicelib.core.errors import Conflict
    from chalicelib.core.unit_of_work import UnitOfWork

    build(api)  # version 1 stored
    stale = {"id": TYPE, "name": "Hudbesvär", "components": [DESCRIBE], "formVersion": 1}
    uow = UnitOfWork()
    repository.put_case_type_with_index(uow, CLINIC, stale, None, read_form_version=0, changed=lambda: Conflict("x"))
    with pytest.raises(Conflict):
        uow.commit()
    assert api.call("GET", f"/clinics/{CLINIC}/case-types/{TYPE}/form")[1]["components"] == COMPONENTS


def test_the_form_call_is_404_for_unknown_inactive_and_form_less_case_types(api):
    build(api)
    assert api.call("GET", f"/clinics/{CLINIC}/case-types/fraga-sjukskoterskan/form")[0] == 404  # no form
    assert api.call("GET", f"/clinics/{CLINIC}/case-types/finns-inte/form")[0] == 404
    assert api.call("GET", f"/clinics/SE0000000000-0000/case-types/{TYPE}/form")[0] == 404
    assert api.call("GET", f"/clinics/{CLINIC}/case-types/{'x' * 300}/form")[0] == 404
    api.call("PUT", PATH, {"name": "Hudbesvär", "active": False}, token=staff_token(ADMIN))
    assert api.call("GET", f"/clinics/{CLINIC}/case-types/{TYPE}/form")[1]["code"] == "form-not-found"


def test_answers_only_on_a_form_and_a_body_only_without_one(api):
    citizen = api.token_for(pnr("Sara"))
    body = {"clinicId": CLINIC, "caseTypeId": "fraga-sjukskoterskan", "subject": "Utslag"}
    status, problem, _ = api.call(
        "POST", "/citizens/me/cases", {**body, "body": "Hej", "answers": {"a": "b"}}, token=citizen
    )
    assert status == 422 and problem["code"] == "answers-not-expected"
    status, problem, _ = api.call("POST", "/citizens/me/cases", body, token=citizen)
    assert status == 422 and problem["code"] == "body-required"
    assert open_cases() == []


def test_the_idempotency_key_covers_the_answers(api):
    build(api)
    citizen = api.token_for(pnr("Sara"))
    request = {"clinicId": CLINIC, "caseTypeId": TYPE, "answers": {"duration": "days"}}
    headers = {"Idempotency-Key": "form-case-1"}
    first = api.call("POST", "/citizens/me/cases", request, token=citizen, headers=headers)
    again = api.call("POST", "/citizens/me/cases", request, token=citizen, headers=headers)
    assert first[0] == again[0] == 201 and first[1] == again[1] and len(open_cases()) == 1
    other = {**request, "answers": {"duration": "weeks"}}
    status, problem, _ = api.call("POST", "/citizens/me/cases", other, token=citizen, headers=headers)
    assert status == 422 and problem["code"] == "idempotency-key-reused"


# ---------------------------------------------------------------- care sends a form


def send(api: Any, personnummer: str, *, token: str | None = None, key: str | None = None, **more: Any) -> Any:
    body = {"personnummer": personnummer, "caseTypeId": TYPE, "message": "Fyll i inför besöket.", **more}
    headers = {"Idempotency-Key": key} if key else None
    status, answer, _ = api.call(
        "POST", f"/staff/clinics/{CLINIC}/forms", body, token=token or staff_token(HANDLER), headers=headers
    )
    return status, answer


def answer_form(api: Any, token: str, form_id: str, answers: dict[str, Any], *, cid: str = "me", key: str = "") -> Any:
    headers = {"Idempotency-Key": key} if key else None
    status, body, _ = api.call(
        "POST", f"/citizens/{cid}/forms/{form_id}/answers", {"answers": answers}, token=token, headers=headers
    )
    return status, body


def test_care_sends_a_form_the_citizen_answers_once_and_it_comes_back_as_a_case(api):
    from chalicelib.arrivals import service as arrivals

    build(api)
    citizen = api.token_for(pnr("Sara"))
    status, sent = send(api, pnr("Sara"), key="send-1")
    assert status == 201, sent
    form_id = sent["formId"]
    assert send(api, pnr("Sara"), key="send-1") == (201, sent)  # a retry: the same form, nothing new

    page = api.call("GET", "/citizens/me/inbox", token=citizen)[1]["items"]
    assert [(i["id"], i["kind"], i["unread"], i["from"]) for i in page] == [
        (form_id, "form", True, "Vårdcentralen Storgatan")
    ]
    stored = arrivals.get_item(cid_of(citizen), form_id)
    assert stored is not None and stored["arrivalId"]  # an arrival: the citizen is notified once

    status, item, _ = api.call("GET", f"/citizens/me/inbox/{form_id}", token=citizen)
    assert status == 200 and item["body"] == "Fyll i inför besöket."
    assert item["form"]["state"] == "sent" and item["form"]["version"] == 1
    assert [c["id"] for c in item["form"]["components"]] == ["duration", "describe", "photos"]

    # the case type changes after the form was sent: the form is answered as it was sent
    build(api, [{**DURATION, "options": [{"id": "long", "label": "Länge"}]}])

    status, problem = answer_form(api, citizen, form_id, {"describe": "x"})
    assert status == 422 and problem["code"] == "answer-required" and problem["componentId"] == "duration"
    assert "Hur länge har du haft besvären?" in problem["detail"]
    status, created = answer_form(api, citizen, form_id, {"duration": "days"}, key="answer-1")
    assert status == 201, created
    case_id = created["caseId"]
    assert answer_form(api, citizen, form_id, {"duration": "days"}, key="answer-1") == (201, created)
    status, problem = answer_form(api, citizen, form_id, {"duration": "weeks"})
    assert status == 409 and problem["code"] == "form-already-answered"
    status, problem = answer_form(api, citizen, form_id, {"duration": "weeks"}, key="answer-2")
    assert status == 409 and problem["code"] == "form-already-answered"

    cases = open_cases()
    assert [(c["caseId"], c["kind"]) for c in cases] == [(case_id, "form")]  # in the clinic's inbox
    view = api.call("GET", f"/staff/cases/{case_id}", token=staff_token(RECEIVER))[1]
    assert view["kind"] == "form" and view["form"]["formId"] == form_id and view["form"]["version"] == 1
    assert view["form"]["sentBy"]["hsaId"] == HANDLER
    assert view["form"]["answers"][0]["optionLabels"] == ["Några dagar"]

    item = api.call("GET", f"/citizens/me/inbox/{form_id}", token=citizen)[1]
    assert item["form"]["state"] == "answered" and item["form"]["caseId"] == case_id
    thread = api.call("GET", f"/citizens/me/inbox/{case_id}", token=citizen)[1]["case"]
    assert thread["form"]["sentBy"] == {"name": "Personal S002"}  # the citizen side shows no HSA-id


def test_sending_needs_a_form_a_case_role_and_an_activated_unlocked_citizen(api):
    from tests.integration.admin_helpers import lock

    build(api)
    api.token_for(pnr("Sara"))
    status, problem = send(api, pnr("Sara"), caseTypeId="fraga-sjukskoterskan")
    assert status == 422 and problem["code"] == "form-not-available"
    status, problem = send(api, pnr("Johan"))  # never logged in: like care starting a conversation
    assert status == 409 and problem["code"] == "citizen-not-activated"
    status, problem = send(api, pnr("Sara"), token=staff_token(ADMIN))
    assert status == 403 and problem["code"] == "role-required"
    assert send(api, pnr("Sara"), token=staff_token(OTHER_STAFF))[0] == 404
    assert lock(pnr("Sara"), requested_by="citizen")["ok"]
    status, problem = send(api, pnr("Sara"))
    assert status == 403 and problem["code"] == "citizen-locked"


def test_only_the_citizen_it_was_sent_to_or_their_guardian_answers_it(api):
    build(api)
    anna, johan = api.token_for(pnr("Anna")), api.token_for(pnr("Johan"))
    elsa = {c["name"].split()[0]: c["citizenId"] for c in api.call("GET", "/me", token=anna)[1]["actingFor"]}["Elsa"]
    status, sent = send(api, pnr("Elsa"))
    assert status == 201, sent
    form_id = sent["formId"]
    assert answer_form(api, johan, form_id, {"duration": "days"})[0] == 404
    assert api.call("GET", f"/citizens/me/inbox/{form_id}", token=johan)[0] == 404
    assert answer_form(api, anna, "x" * 200, {"duration": "days"}, cid=elsa)[0] == 404

    status, created = answer_form(api, anna, form_id, {"duration": "weeks"}, cid=elsa)
    assert status == 201, created
    view = api.call("GET", f"/staff/cases/{created['caseId']}", token=staff_token(RECEIVER))[1]
    assert view["startedBy"]["kind"] == "guardian" and view["citizen"]["name"] == "Elsa Andersson"
