"""Attachments through the HTTP routes: refusals are 4xx problems that write nothing, and links go to
exactly the people who may see the case (R-21, R-23, R-25, R-26)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.attachments.models import Uploader
from chalicelib.core import process
from tests.integration.case_helpers import CLINIC, HANDLER, OTHER_STAFF, RECEIVER, staff_token, start_case
from tests.integration.test_attachments import checked
from tests.support import pnr


@pytest.fixture(autouse=True)
def s3_client_for_this_stack(stack: Any) -> None:
    process.reset()


def _cases() -> int:
    from chalicelib.cases import repository as cases

    return len(cases.clinic_cases(CLINIC, "open", 100, None)[0])


def test_upload_refusals_are_problems(api):
    citizen = api.token_for(pnr("Sara"))
    for body, code in [
        ({"fileName": "a.pdf", "contentType": "application/pdf", "size": 20 * 1024 * 1024 + 1}, "attachment-too-large"),
        ({"fileName": "a.exe", "contentType": "application/x-msdownload", "size": 10}, "attachment-type-not-allowed"),
        ({"fileName": "../../etc/passwd", "contentType": "application/pdf", "size": 10}, "invalid-file-name"),
    ]:
        status, problem, headers = api.call("POST", "/citizens/me/attachments", body, token=citizen)
        assert (status, problem["code"]) == (422, code)
        assert headers["content-type"] == "application/problem+json"
    status, created, _ = api.call(
        "POST",
        "/citizens/me/attachments",
        {"fileName": "a.pdf", "contentType": "application/pdf", "size": 20 * 1024 * 1024},
        token=citizen,
    )
    assert status == 201 and created["upload"]["url"] and created["upload"]["fields"]


def test_sixth_file_on_a_citizen_message_is_refused_and_nothing_written(api):
    citizen = api.token_for(pnr("Sara"))
    citizen_id = citizen.split(".")[0]
    s3 = boto3.client("s3")
    ids = [checked(s3, Uploader("citizen", citizen_id)).attachment_id for _ in range(6)]
    status, problem = start_case(api, citizen, attachment_ids=ids)
    assert status == 422 and problem["code"] == "too-many-attachments"
    assert _cases() == 0
    status, _ = start_case(api, citizen, attachment_ids=ids[:5])
    assert status == 201


def test_eleventh_file_on_a_staff_message_is_refused(api):
    case_id = start_case(api, api.token_for(pnr("Sara")))[1]["caseId"]
    s3 = boto3.client("s3")
    ids = [checked(s3, Uploader("staff", HANDLER)).attachment_id for _ in range(11)]
    handler = staff_token(HANDLER)
    status, problem, _ = api.call(
        "POST",
        f"/staff/cases/{case_id}/messages",
        {"kind": "answer", "body": "Se bilagor", "attachmentIds": ids},
        token=handler,
    )
    assert status == 422 and problem["code"] == "too-many-attachments"
    status, _, _ = api.call(
        "POST",
        f"/staff/cases/{case_id}/messages",
        {"kind": "answer", "body": "Se bilagor", "attachmentIds": ids[:10]},
        token=handler,
    )
    assert status == 201


def test_links_only_for_those_who_may_see_the_case(api):
    sara, johan = api.token_for(pnr("Sara")), api.token_for(pnr("Johan"))
    s3 = boto3.client("s3")
    attachment_id = checked(s3, Uploader("citizen", sara.split(".")[0])).attachment_id
    case_id = start_case(api, sara, attachment_ids=[attachment_id])[1]["caseId"]
    assert api.call("GET", f"/citizens/me/attachments/{attachment_id}", token=sara)[0] == 200
    assert api.call("GET", f"/citizens/me/attachments/{attachment_id}", token=johan)[0] == 404
    assert api.call("GET", f"/staff/attachments/{attachment_id}", token=staff_token(OTHER_STAFF))[0] == 404
    status, link, _ = api.call(
        "GET", f"/staff/attachments/{attachment_id}?disposition=attachment", token=staff_token(RECEIVER)
    )
    assert status == 200 and link["url"]
    log = api.call("GET", "/citizens/me/access-log", token=sara)[1]["items"]
    assert [(e["what"], e["staffHsaId"]) for e in log] == [("attachment", RECEIVER)]  # the staff read is audited
    assert case_id


def test_staff_preview_their_own_upload_before_sending(api):
    s3 = boto3.client("s3")
    own = checked(s3, Uploader("staff", HANDLER)).attachment_id
    assert api.call("GET", f"/staff/attachments/{own}", token=staff_token(HANDLER))[0] == 200
    assert api.call("GET", f"/staff/attachments/{own}", token=staff_token(RECEIVER))[0] == 404


def test_the_citizen_is_told_what_a_photo_lost(api):
    """Issue 13: the link to a cleaned photo says what was removed, in Swedish; a PDF's says nothing."""
    from tests.unit.photo_samples import jpeg_with_gps

    sara = api.token_for(pnr("Sara"))
    s3 = boto3.client("s3")
    photo = checked(s3, Uploader("citizen", sara.split(".")[0]), jpeg_with_gps(), "image/jpeg").attachment_id
    pdf = checked(s3, Uploader("citizen", sara.split(".")[0])).attachment_id
    status, link, _ = api.call("GET", f"/citizens/me/attachments/{photo}", token=sara)
    assert status == 200 and link["metadataRemoved"] == ["gps", "exif"]
    assert (
        link["notice"].startswith("Vi tog bort dold information från bilden")
        and "platsuppgifter (GPS)" in link["notice"]
    )
    status, link, _ = api.call("GET", f"/citizens/me/attachments/{pdf}", token=sara)
    assert status == 200 and "notice" not in link
    # Once it is sent, the clinic's link says the same.
    case_id = start_case(api, sara, attachment_ids=[photo])[1]["caseId"]
    status, staff_link, _ = api.call("GET", f"/staff/attachments/{photo}", token=staff_token(RECEIVER))
    assert status == 200 and staff_link["metadataRemoved"] == ["gps", "exif"] and case_id
