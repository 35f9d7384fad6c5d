"""Issue 13's R-50/R-51 must-show over HTTP on the local stack: a clinic admin builds a local e-service with
a required single-choice question, a free-text question and the attachment component; a citizen's case
missing the required answer is refused naming it; a valid one reaches the clinic with structured answers
and an attachment. Then care sends that form to the citizen: it arrives in the inbox and is notified
(the dev CLI's outbox), and the answers come back as a case at the clinic, once."""

from __future__ import annotations

import json
import time

import requests

from tests.integration.case_helpers import ADMIN, CLINIC, HANDLER, RECEIVER, staff_token
from tests.support import pnr

TYPE = "e2e-hudbesvar"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
MOBILE = "+46701740690"  # PTS's range for fiction, used by this test only
COMPONENTS = [
    {
        "id": "varaktighet",
        "kind": "single-choice",
        "label": "Hur länge har du haft besvären?",
        "required": True,
        "options": [{"id": "dagar", "label": "Några dagar"}, {"id": "veckor", "label": "Några veckor"}],
    },
    {"id": "beskrivning", "kind": "free-text", "label": "Beskriv besvären", "required": False, "maxLength": 1000},
    {"id": "bilder", "kind": "attachments", "label": "Bifoga bilder", "required": False},
]


def _upload(http, token: str) -> str:
    created = http.call(
        "POST",
        "/citizens/me/attachments",
        {"fileName": "utslag.pdf", "contentType": "application/pdf", "size": len(PDF)},
        token=token,
    )
    assert created.status_code == 201, created.text
    upload = created.json()["upload"]
    posted = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("utslag.pdf", PDF, "application/pdf")}, timeout=30
    )
    assert posted.status_code in (200, 201, 204), posted.text
    attachment_id = str(created.json()["attachmentId"])
    for _ in range(100):  # the pump hands the new object to attachment_uploaded
        if http.call("GET", f"/citizens/me/attachments/{attachment_id}", token=token).status_code == 200:
            return attachment_id
        time.sleep(0.1)
    raise AssertionError("the attachment was never checked")


def _sms_to(http, mobile: str) -> list[dict]:
    lines = http.cli("outbox").splitlines()
    return [m for m in (json.loads(line) for line in lines if line.strip()) if m["to"] == mobile]


def test_a_local_eservice_and_a_form_care_sends_come_back_as_structured_cases(http):
    saved = http.call(
        "PUT",
        f"/staff/clinics/{CLINIC}/case-types/{TYPE}",
        {"name": "Hudbesvär", "components": COMPONENTS},
        token=staff_token(ADMIN),
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["formVersion"] == 1 and saved.json()["attachmentsAllowed"] is True
    form = http.call("GET", f"/clinics/{CLINIC}/case-types/{TYPE}/form")
    assert form.status_code == 200 and form.json()["components"][0] == COMPONENTS[0]

    citizen = http.token_for(pnr("Karin"))
    missing = http.call(
        "POST",
        "/citizens/me/cases",
        {"clinicId": CLINIC, "caseTypeId": TYPE, "answers": {"beskrivning": "Det kliar."}},
        token=citizen,
    )
    assert missing.status_code == 422 and missing.json()["code"] == "answer-required"
    assert "Hur länge har du haft besvären?" in missing.json()["detail"]
    assert missing.json()["componentId"] == "varaktighet"

    attachment_id = _upload(http, citizen)
    created = http.call(
        "POST",
        "/citizens/me/cases",
        {
            "clinicId": CLINIC,
            "caseTypeId": TYPE,
            "answers": {"varaktighet": "veckor", "beskrivning": "Det kliar."},
            "attachmentIds": [attachment_id],
        },
        token=citizen,
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["caseId"]
    receiver = staff_token(RECEIVER)
    listed = http.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=receiver).json()["items"]
    assert case_id in [c["caseId"] for c in listed]
    view = http.call("GET", f"/staff/cases/{case_id}", token=receiver).json()
    assert [(a["componentId"], a["value"]) for a in view["form"]["answers"]] == [
        ("varaktighet", "veckor"),
        ("beskrivning", "Det kliar."),
        ("bilder", [attachment_id]),
    ]
    assert view["form"]["answers"][0]["optionLabels"] == ["Några veckor"]
    assert view["messages"][0]["attachmentIds"] == [attachment_id]
    link = http.call("GET", f"/staff/attachments/{attachment_id}", token=receiver)
    assert link.status_code == 200 and requests.get(link.json()["url"], timeout=30).content == PDF

    # care sends the form; it arrives in the inbox, notified once
    settings = http.call("PATCH", "/citizens/me/settings", {"mobile": MOBILE, "notifyBySms": True}, token=citizen)
    assert settings.status_code == 200, settings.text
    before = len(_sms_to(http, MOBILE))
    sent = http.call(
        "POST",
        f"/staff/clinics/{CLINIC}/forms",
        {"personnummer": pnr("Karin"), "caseTypeId": TYPE, "message": "Fyll i inför ditt besök."},
        token=staff_token(HANDLER),
    )
    assert sent.status_code == 201, sent.text
    form_id = sent.json()["formId"]
    inbox = http.call("GET", "/citizens/me/inbox", token=citizen).json()["items"]
    assert (inbox[0]["id"], inbox[0]["kind"], inbox[0]["unread"]) == (form_id, "form", True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_sms_to(http, MOBILE)) <= before:
        time.sleep(0.5)
    assert len(_sms_to(http, MOBILE)) == before + 1

    item = http.call("GET", f"/citizens/me/inbox/{form_id}", token=citizen).json()
    assert item["form"]["state"] == "sent" and item["body"] == "Fyll i inför ditt besök."
    answered = http.call(
        "POST", f"/citizens/me/forms/{form_id}/answers", {"answers": {"varaktighet": "dagar"}}, token=citizen
    )
    assert answered.status_code == 201, answered.text
    form_case = answered.json()["caseId"]
    again = http.call(
        "POST", f"/citizens/me/forms/{form_id}/answers", {"answers": {"varaktighet": "dagar"}}, token=citizen
    )
    assert again.status_code == 409 and again.json()["code"] == "form-already-answered"

    view = http.call("GET", f"/staff/cases/{form_case}", token=receiver).json()
    assert view["kind"] == "form" and view["form"]["formId"] == form_id
    assert view["form"]["answers"][0]["optionLabels"] == ["Några dagar"]
    item = http.call("GET", f"/citizens/me/inbox/{form_id}", token=citizen).json()
    assert item["form"]["state"] == "answered" and item["form"]["caseId"] == form_case
