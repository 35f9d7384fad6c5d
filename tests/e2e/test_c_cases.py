"""Issue 3's must-show over HTTP on the local stack: a case with a PDF, assign, partial answer and
answer, the citizen's inbox and attachment, and the access log."""

from __future__ import annotations

import time

import requests

from tests.integration.case_helpers import CLINIC, HANDLER, RECEIVER, staff_token
from tests.support import pnr

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _upload(http, token: str, content: bytes, name: str = "remiss.pdf", content_type: str = "application/pdf") -> str:
    created = http.call(
        "POST",
        "/citizens/me/attachments",
        {"fileName": name, "contentType": content_type, "size": len(content)},
        token=token,
    )
    assert created.status_code == 201, created.text
    upload = created.json()["upload"]
    posted = requests.post(
        upload["url"], data=upload["fields"], files={"file": (name, content, content_type)}, timeout=30
    )
    assert posted.status_code in (200, 201, 204), posted.text
    return str(created.json()["attachmentId"])


def _wait_checked(http, token: str, attachment_id: str) -> requests.Response:
    for _ in range(100):  # the pump hands the new object to attachment_uploaded
        link = http.call("GET", f"/citizens/me/attachments/{attachment_id}", token=token)
        if link.status_code == 200:
            return link
        time.sleep(0.1)
    raise AssertionError("the attachment was never checked")


def test_case_with_pdf_assign_partial_answer_answer_inbox_attachment_and_access_log(http):
    citizen = http.token_for(pnr("Erik"))
    attachment_id = _upload(http, citizen, PDF)
    _wait_checked(http, citizen, attachment_id)
    created = http.call(
        "POST",
        "/citizens/me/cases",
        {
            "clinicId": CLINIC,
            "caseTypeId": "fraga-sjukskoterskan",
            "subject": "Remiss",
            "body": "Se bifogad remiss.",
            "attachmentIds": [attachment_id],
        },
        token=citizen,
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["caseId"]

    receiver, handler = staff_token(RECEIVER), staff_token(HANDLER)
    listed = http.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=receiver).json()
    assert case_id in [c["caseId"] for c in listed["items"]]
    assert http.call("GET", f"/staff/cases/{case_id}", token=receiver).status_code == 200
    assert http.call("POST", f"/staff/cases/{case_id}/assign", {"handlerHsaId": HANDLER}, token=receiver).ok
    for kind in ("partial-answer", "answer"):
        sent = http.call(
            "POST", f"/staff/cases/{case_id}/messages", {"kind": kind, "body": f"{kind} text"}, token=handler
        )
        assert sent.status_code == 201, sent.text

    inbox = http.call("GET", "/citizens/me/inbox", token=citizen).json()
    assert inbox["items"][0]["id"] == case_id and inbox["items"][0]["unread"]
    item = http.call("GET", f"/citizens/me/inbox/{case_id}", token=citizen).json()
    kinds = [m["kind"] for m in item["case"]["messages"]]
    assert kinds == ["citizen-message", "partial-answer", "answer"]
    assert [a["fileName"] for a in item["attachments"]] == ["remiss.pdf"]
    link = http.call("GET", f"/citizens/me/attachments/{attachment_id}", token=citizen).json()
    assert requests.get(link["url"], timeout=30).content == PDF

    log = http.call("GET", "/citizens/me/access-log", token=citizen).json()["items"]
    assert {(e["staffHsaId"], e["what"]) for e in log} == {(RECEIVER, "case")}


def test_executable_named_pdf_is_refused(http):
    citizen = http.token_for(pnr("Karin"))
    attachment_id = _upload(http, citizen, b"MZ\x90\x00" + b"\x00" * 200, name="faktura.pdf")
    time.sleep(2)
    link = http.call("GET", f"/citizens/me/attachments/{attachment_id}", token=citizen)
    assert link.status_code == 404
    refused = http.call(
        "POST",
        "/citizens/me/cases",
        {
            "clinicId": CLINIC,
            "caseTypeId": "fraga-sjukskoterskan",
            "subject": "x",
            "body": "y",
            "attachmentIds": [attachment_id],
        },
        token=citizen,
    )
    assert refused.status_code == 422 and refused.json()["code"] == "attachment-rejected"
