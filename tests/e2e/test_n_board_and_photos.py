"""Issue 13's loose ends over HTTP on the local stack: a JPEG with GPS EXIF tags uploaded by a citizen is
stored and served without them (and the citizen is told); the patient board sets a complaint's clinic
and the clinic then sees it (R-27)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.integration.case_helpers import CLINIC, RECEIVER, staff_token
from tests.support import pnr
from tests.unit.photo_samples import GPS_IFD, exif_of, jpeg_with_gps

BOARD = "SE2321000016-9000"
BOARD_STAFF = "SE2321000016-S006"


@pytest.fixture(autouse=True)
def pump_watches_the_bucket(http) -> None:
    """The pump counts what is in the bucket when it first lists it as delivered (like S3, it does not
    replay); an upload made before that first listing would never be checked. Its checkpoint file says
    the listing happened (the stack wipes the state directory when it starts)."""
    checkpoint = Path(http.env["PUMP_STATE_DIR"]) / "bucket-attachment_uploaded.json"
    for _ in range(300):
        if checkpoint.exists():
            return
        time.sleep(0.1)
    raise AssertionError("the pump never listed the attachments bucket")


def _upload_photo(http, token: str, photo: bytes) -> str:
    created = http.call(
        "POST",
        "/citizens/me/attachments",
        {"fileName": "utslag.jpg", "contentType": "image/jpeg", "size": len(photo)},
        token=token,
    )
    assert created.status_code == 201, created.text
    upload = created.json()["upload"]
    posted = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("utslag.jpg", photo, "image/jpeg")}, timeout=30
    )
    assert posted.status_code in (200, 201, 204), posted.text
    return str(created.json()["attachmentId"])


def _link_when_checked(http, token: str, attachment_id: str) -> dict:
    for _ in range(150):  # the pump hands the new object to attachment_uploaded
        link = http.call("GET", f"/citizens/me/attachments/{attachment_id}", token=token)
        if link.status_code == 200:
            return dict(link.json())
        time.sleep(0.1)
    raise AssertionError("the photo was never checked")


def test_a_jpeg_with_gps_is_stored_and_served_without_it_and_the_citizen_is_told(http):
    citizen = http.token_for(pnr("Johan"))
    photo = jpeg_with_gps(orientation=6)
    assert GPS_IFD in exif_of(photo)
    attachment_id = _upload_photo(http, citizen, photo)

    link = _link_when_checked(http, citizen, attachment_id)
    assert link["metadataRemoved"] == ["gps", "exif"]
    assert link["notice"] == (
        "Vi tog bort dold information från bilden innan den sparades: platsuppgifter (GPS) och kamerainformation "
        "(EXIF). Själva bilden är densamma."
    )
    served = requests.get(link["url"], timeout=30)
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert exif_of(served.content) == {}  # no EXIF, no GPS

    # Sent to the clinic: what the clinic opens is the cleaned photo too.
    created = http.call(
        "POST",
        "/citizens/me/cases",
        {
            "clinicId": CLINIC,
            "caseTypeId": "fraga-sjukskoterskan",
            "subject": "Utslag",
            "body": "Se bild.",
            "attachmentIds": [attachment_id],
        },
        token=citizen,
    )
    assert created.status_code == 201, created.text
    staff_link = http.call("GET", f"/staff/attachments/{attachment_id}", token=staff_token(RECEIVER))
    assert staff_link.status_code == 200 and staff_link.json()["metadataRemoved"] == ["gps", "exif"]
    assert exif_of(requests.get(staff_link.json()["url"], timeout=30).content) == {}


def test_a_broken_photo_is_refused_with_its_reason(http):
    citizen = http.token_for(pnr("Johan"))
    attachment_id = _upload_photo(http, citizen, b"\xff\xd8\xff\xe0" + b"\x00" * 500)
    refused = None
    for _ in range(150):
        refused = http.call(
            "POST",
            "/citizens/me/cases",
            {
                "clinicId": CLINIC,
                "caseTypeId": "fraga-sjukskoterskan",
                "subject": "Utslag",
                "body": "Se bild.",
                "attachmentIds": [attachment_id],
            },
            token=citizen,
        )
        if refused.json().get("code") != "attachment-not-checked":
            break
        time.sleep(0.1)
    assert refused is not None and refused.status_code == 422
    assert (refused.json()["code"], refused.json()["reason"]) == ("attachment-rejected", "unreadable-image")
    assert http.call("GET", f"/citizens/me/attachments/{attachment_id}", token=citizen).status_code == 404


def test_the_patient_board_sets_a_complaints_clinic_and_the_clinic_then_sees_it(http):
    citizen = http.token_for(pnr("Johan"))
    created = http.call(
        "POST",
        "/citizens/me/complaints",
        {
            "patientBoard": {"region": "Region Jönköpings län", "location": "Vårdcentralen vid torget"},
            "eventDate": "2026-01-10",
            "body": "Jag fick fel information om min remiss.",
        },
        token=citizen,
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["caseId"]
    board = staff_token(BOARD_STAFF, [(BOARD, "case-receiver"), (BOARD, "case-handler")])
    receiver = staff_token(RECEIVER)

    def clinic_list() -> list[str]:
        page = http.call("GET", f"/staff/clinics/{CLINIC}/cases?status=open", token=receiver).json()
        return [c["caseId"] for c in page["items"]]

    assert case_id not in clinic_list()
    moved = http.call("POST", f"/staff/cases/{case_id}/clinic", {"clinicId": CLINIC}, token=board)
    assert moved.status_code == 200, moved.text
    assert moved.json()["clinicId"] == CLINIC and moved.json()["patientBoard"]["hsaId"] == BOARD
    again = http.call("POST", f"/staff/cases/{case_id}/clinic", {"clinicId": CLINIC}, token=board)
    assert again.status_code == 200 and again.json() == moved.json()

    assert case_id in clinic_list()
    view = http.call("GET", f"/staff/cases/{case_id}", token=receiver).json()
    assert view["complaint"]["patientBoard"]["hsaId"] == BOARD
    assert [h["event"] for h in view["history"]] == ["created", "clinic-set"]
    assert http.call("GET", f"/staff/cases/{case_id}", token=board).status_code == 200  # the board follows it up
    other = http.call("POST", f"/staff/cases/{case_id}/clinic", {"clinicId": "SE2321000016-2002"}, token=board)
    assert other.status_code == 409 and other.json()["code"] == "clinic-already-set"
