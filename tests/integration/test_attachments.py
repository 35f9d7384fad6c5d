"""Attachments (R-23..R-26) against DynamoDB Local and the moto server: real presigned POST uploads,
the `attachment_uploaded` function with S3's event shape, binding to messages, download links."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from chalicelib.attachments import repository, service, storage
from chalicelib.attachments.events import attachment_uploaded
from chalicelib.attachments.models import Attachment, Uploader
from chalicelib.core import dynamo, process
from chalicelib.core.clock import epoch_seconds, fixed_clock, system_clock
from chalicelib.core.config import settings
from chalicelib.core.errors import Conflict, InvalidInput, NotFound
from local import pump

MB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56 + b"payload"

SARA = Uploader("citizen", "citizen-sara")
ERIK = Uploader("citizen", "citizen-erik")
NURSE = Uploader("staff", "SE2321000016-NURSE", clinic_id="SE2321000016-CLIN1")
DOCTOR = Uploader("staff", "SE2321000016-DOCTOR", clinic_id="SE2321000016-CLIN1")


@pytest.fixture(autouse=True)
def s3_for_this_stack(stack: Any) -> Iterator[None]:
    process.reset()  # the stack's endpoint, whatever an earlier test used
    yield
    process.reset()


@pytest.fixture
def s3(stack: Any) -> Any:
    return boto3.client("s3")


def bucket() -> str:
    return os.environ["ATTACHMENTS_BUCKET"]


def keys(s3: Any, prefix: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket(), Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def stored_item(attachment_id: str) -> dict[str, Any] | None:
    item = (
        dynamo.client()
        .get_item(TableName=settings().main_table, Key=repository.item_key(attachment_id), ConsistentRead=True)
        .get("Item")
    )
    return dynamo.from_item(item) if item else None


def attachment_items() -> list[dict[str, Any]]:
    """Every attachment item (tests only: a Scan)."""
    pages = dynamo.client().get_paginator("scan").paginate(TableName=settings().main_table)
    items = [dynamo.from_item(i) for page in pages for i in page.get("Items", [])]
    return [i for i in items if str(i["pk"]).startswith("ATTACHMENT#")]


def upload(post: dict[str, Any], data: bytes, file_name: str = "fil.pdf") -> requests.Response:
    """What the app does: a multipart POST of the returned fields, the file last."""
    return requests.post(
        post["url"],
        data=post["fields"],
        files={"file": (file_name, data, post["fields"]["Content-Type"])},
        timeout=10,
    )


def deliver(s3: Any, attachment_id: str) -> dict[str, int]:
    """Invoke the function as S3 does after a POST upload (the pump's event builder: S3's exact shape)."""
    key = storage.pending_key(attachment_id)
    head = s3.head_object(Bucket=bucket(), Key=key)
    event = pump.s3_object_created_event(
        bucket(),
        key,
        size=head["ContentLength"],
        etag=head["ETag"],
        at=head["LastModified"],
        sequencer="0055AED6DCD90281E5",
        configuration_id="attachment_uploaded",
    )
    return attachment_uploaded(event, pump.FakeContext("attachment_uploaded"))


def checked(s3: Any, uploader: Uploader, data: bytes = PDF, content_type: str = "application/pdf") -> Attachment:
    attachment, post = service.create_upload(uploader, "intyg.pdf", content_type, len(data), clock=system_clock)
    assert upload(post, data).status_code == 204
    assert deliver(s3, attachment.attachment_id)["checked"] == 1
    found = service.get(attachment.attachment_id, clock=system_clock)
    assert found is not None and found.status == "checked"
    return found


def policy_conditions(post: dict[str, Any]) -> list[Any]:
    return list(json.loads(base64.b64decode(post["fields"]["policy"]))["conditions"])


def commit_message(actions: list[dict[str, Any]], case_id: str, message_id: str) -> None:
    """The caller's transaction: its message and the attachment actions, all or nothing."""
    message = {
        "Put": {
            "TableName": settings().main_table,
            "Item": dynamo.to_item({"pk": f"CASE#{case_id}", "sk": f"MESSAGE#{message_id}", "body": "Hej"}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    dynamo.transact_write([message, *actions])


# --- upload --------------------------------------------------------------------------------


def test_presigned_post_upload_of_a_real_pdf_is_checked_and_moved_to_files(s3: Any) -> None:
    attachment, post = service.create_upload(
        SARA, "Läkarintyg 2026.pdf", "application/pdf", len(PDF), clock=system_clock
    )
    key = f"pending/{attachment.attachment_id}"
    assert post["fields"]["key"] == key
    assert post["url"].startswith(os.environ["AWS_ENDPOINT_URL"])
    conditions = policy_conditions(post)
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, len(PDF)] in conditions
    assert {"key": key} in conditions and {"bucket": bucket()} in conditions
    assert "Läkarintyg" not in json.dumps(post, ensure_ascii=False)  # no file name in the key or the form
    item = stored_item(attachment.attachment_id)
    assert item is not None
    assert (item["status"], item["uploaderKind"], item["uploaderId"], item["fileName"]) == (
        "pending",
        "citizen",
        "citizen-sara",
        "Läkarintyg 2026.pdf",
    )
    assert item["expiresAt"] == epoch_seconds(datetime.fromisoformat(item["createdAt"])) + 24 * 3600

    response = upload(post, PDF, "Läkarintyg 2026.pdf")
    assert response.status_code == 204, response.text
    assert deliver(s3, attachment.attachment_id) == {"checked": 1, "rejected": 0, "skipped": 0}

    item = stored_item(attachment.attachment_id)
    assert item is not None
    assert (item["status"], item["objectKey"], item["size"], item["contentType"]) == (
        "checked",
        f"files/{attachment.attachment_id}",
        len(PDF),
        "application/pdf",
    )
    assert key not in keys(s3, "pending/")
    stored = s3.get_object(Bucket=bucket(), Key=f"files/{attachment.attachment_id}")
    assert stored["Body"].read() == PDF
    assert stored["ContentType"] == "application/pdf"


def test_a_redelivered_event_changes_nothing(s3: Any) -> None:
    attachment, post = service.create_upload(SARA, "a.pdf", "application/pdf", len(PDF), clock=system_clock)
    upload(post, PDF)
    key = storage.pending_key(attachment.attachment_id)
    head = s3.head_object(Bucket=bucket(), Key=key)
    event = pump.s3_object_created_event(
        bucket(), key, size=len(PDF), etag=head["ETag"], at=head["LastModified"], sequencer="01", configuration_id="c"
    )
    assert attachment_uploaded(event, None)["checked"] == 1
    before = stored_item(attachment.attachment_id)
    assert attachment_uploaded(event, None) == {"checked": 0, "rejected": 0, "skipped": 1}
    assert stored_item(attachment.attachment_id) == before
    # The same form used again after the check: the new upload is removed, the checked file stays.
    upload(post, PNG)
    assert deliver(s3, attachment.attachment_id)["skipped"] == 1
    assert key not in keys(s3, "pending/")
    assert s3.get_object(Bucket=bucket(), Key=f"files/{attachment.attachment_id}")["Body"].read() == PDF


def test_declared_size_over_20_mb_is_refused_and_nothing_is_written(s3: Any) -> None:
    pending_before = keys(s3, "pending/")
    with pytest.raises(InvalidInput) as refused:
        service.create_upload(SARA, "röntgen.pdf", "application/pdf", 20 * MB + 1, clock=system_clock)
    assert (refused.value.status, refused.value.code) == (422, "attachment-too-large")
    assert refused.value.detail == "Filen är för stor. Största tillåtna storlek är 20 MB."
    assert attachment_items() == []
    assert keys(s3, "pending/") == pending_before
    # 20 MB exactly is allowed.
    attachment, post = service.create_upload(SARA, "röntgen.pdf", "application/pdf", 20 * MB, clock=system_clock)
    assert ["content-length-range", 1, 20 * MB] in policy_conditions(post)
    assert [i["attachmentId"] for i in attachment_items()] == [attachment.attachment_id]


def test_an_upload_larger_than_declared_is_refused(s3: Any) -> None:
    """S3 refuses a POST outside the policy's content-length-range (EntityTooLarge). The moto server
    does not evaluate POST policies, so there the content check is what refuses it: either way the
    file never becomes usable."""
    attachment, post = service.create_upload(SARA, "liten.pdf", "application/pdf", 100, clock=system_clock)
    assert ["content-length-range", 1, 100] in policy_conditions(post)
    oversize = PDF + b"%" * (101 - len(PDF))
    assert len(oversize) == 101
    response = upload(post, oversize)
    key = storage.pending_key(attachment.attachment_id)
    if response.status_code >= 400:  # real S3 (and stand-ins that enforce the policy)
        assert response.status_code in (400, 403)
        assert key not in keys(s3, "pending/")
    else:  # moto: accepted, so the check must reject it
        assert deliver(s3, attachment.attachment_id) == {"checked": 0, "rejected": 1, "skipped": 0}
        item = stored_item(attachment.attachment_id)
        assert item is not None
        assert (item["status"], item["rejectReason"]) == ("rejected", "larger-than-declared")
        assert key not in keys(s3, "pending/")
    assert f"files/{attachment.attachment_id}" not in keys(s3, "files/")


def test_an_executable_named_pdf_is_rejected_and_deleted(s3: Any) -> None:
    attachment, post = service.create_upload(SARA, "intyg.pdf", "application/pdf", len(ELF), clock=system_clock)
    assert upload(post, ELF, "intyg.pdf").status_code == 204
    assert deliver(s3, attachment.attachment_id) == {"checked": 0, "rejected": 1, "skipped": 0}
    item = stored_item(attachment.attachment_id)
    assert item is not None
    assert (item["status"], item["rejectReason"]) == ("rejected", "unknown-type")
    assert "objectKey" not in item
    assert storage.pending_key(attachment.attachment_id) not in keys(s3, "pending/")
    assert storage.files_key(attachment.attachment_id) not in keys(s3, "files/")
    with pytest.raises(InvalidInput) as refused:
        service.attach_actions([attachment.attachment_id], SARA, case_id="case-1", message_id="m-1")
    assert refused.value.code == "attachment-rejected"


def test_a_png_declared_as_pdf_is_rejected(s3: Any) -> None:
    attachment, post = service.create_upload(SARA, "bild.pdf", "application/pdf", len(PNG), clock=system_clock)
    upload(post, PNG)
    assert deliver(s3, attachment.attachment_id)["rejected"] == 1
    item = stored_item(attachment.attachment_id)
    assert item is not None and item["rejectReason"] == "type-mismatch"


def test_events_for_other_keys_or_buckets_are_ignored(s3: Any) -> None:
    base = pump.s3_object_created_event(
        bucket(), "files/x", size=1, etag="e", at=datetime.now(UTC), sequencer="01", configuration_id="c"
    )
    other_bucket = json.loads(json.dumps(base))
    other_bucket["Records"][0]["s3"]["bucket"]["name"] = "someone-elses-bucket"
    other_bucket["Records"][0]["s3"]["object"]["key"] = f"pending/{'0' * 8}-0000-0000-0000-{'0' * 12}"
    for event in (base, other_bucket, {"Records": [{"eventSource": "aws:sqs"}]}, {}):
        assert attachment_uploaded(event, None)["checked"] == 0


def test_an_upload_nobody_asked_for_is_deleted(s3: Any) -> None:
    stray = "pending/00000000-0000-4000-8000-000000000000"
    s3.put_object(Bucket=bucket(), Key=stray, Body=PDF)
    assert deliver(s3, stray.removeprefix("pending/")) == {"checked": 0, "rejected": 0, "skipped": 1}
    assert stray not in keys(s3, "pending/")


# --- binding to a message ------------------------------------------------------------------


def test_a_citizen_may_attach_five_not_six_and_a_refusal_writes_nothing(s3: Any) -> None:
    six = [checked(s3, SARA).attachment_id for _ in range(6)]
    before = {i["attachmentId"]: i for i in attachment_items()}
    with pytest.raises(InvalidInput) as refused:
        service.attach_actions(six, SARA, case_id="case-1", message_id="m-1")
    assert (refused.value.status, refused.value.code) == (422, "too-many-attachments")
    assert refused.value.detail == "Du kan bifoga högst 5 filer per meddelande."
    assert {i["attachmentId"]: i for i in attachment_items()} == before
    actions = service.attach_actions(six[:5], SARA, case_id="case-1", message_id="m-1")
    assert len(actions) == 5


def test_staff_may_attach_ten_not_eleven(s3: Any) -> None:
    eleven = [checked(s3, NURSE).attachment_id for _ in range(11)]
    with pytest.raises(InvalidInput) as refused:
        service.attach_actions(eleven, NURSE, case_id="case-1", message_id="m-1")
    assert refused.value.code == "too-many-attachments"
    assert len(service.attach_actions(eleven[:10], NURSE, case_id="case-1", message_id="m-1")) == 10


def test_duplicates_are_refused(s3: Any) -> None:
    one = checked(s3, SARA).attachment_id
    with pytest.raises(InvalidInput) as refused:
        service.attach_actions([one, one], SARA, case_id="case-1", message_id="m-1")
    assert refused.value.code == "duplicate-attachment"


def test_a_pending_attachment_cannot_be_attached_yet(s3: Any) -> None:
    attachment, post = service.create_upload(SARA, "a.pdf", "application/pdf", len(PDF), clock=system_clock)
    upload(post, PDF)  # uploaded, not yet checked
    with pytest.raises(Conflict) as refused:
        service.attach_actions([attachment.attachment_id], SARA, case_id="case-1", message_id="m-1")
    assert (refused.value.status, refused.value.code) == (409, "attachment-not-checked")


def test_someone_elses_unknown_or_expired_attachment_is_not_found(s3: Any) -> None:
    saras = checked(s3, SARA).attachment_id
    nurses = checked(s3, NURSE).attachment_id
    cases = [
        ([saras], ERIK),  # another citizen
        ([nurses], DOCTOR),  # another staff member at the same clinic
        ([saras], Uploader("staff", SARA.id)),  # same id, other kind
        (["00000000-0000-4000-8000-000000000000"], SARA),  # unknown
        (["not-an-id"], SARA),
        ([saras, nurses], SARA),  # one of them someone else's
    ]
    for ids, uploader in cases:
        with pytest.raises(NotFound) as refused:
            service.attach_actions(ids, uploader, case_id="case-1", message_id="m-1")
        assert (refused.value.status, refused.value.code) == (404, "attachment-not-found"), (ids, uploader)
    tomorrow = fixed_clock(datetime.now(UTC) + timedelta(hours=24, minutes=1))
    with pytest.raises(NotFound):
        service.attach_actions([saras], SARA, case_id="case-1", message_id="m-1", clock=tomorrow)
    assert service.get(saras, clock=tomorrow) is None


def test_committed_attachments_are_bound_kept_and_cannot_be_used_again(s3: Any) -> None:
    first, second = checked(s3, SARA), checked(s3, SARA)
    ids = [first.attachment_id, second.attachment_id]
    actions = service.attach_actions(ids, SARA, case_id="case-1", message_id="m-1")
    # Built for another message before the first one commits: the race the conditions catch.
    racing = service.attach_actions([first.attachment_id], SARA, case_id="case-1", message_id="m-2")
    commit_message(actions, "case-1", "m-1")
    for attachment_id in ids:
        item = stored_item(attachment_id)
        assert item is not None
        assert (item["caseId"], item["messageId"], item["status"]) == ("case-1", "m-1", "checked")
        assert "expiresAt" not in item  # kept as long as the case, not 24 hours
        assert "attachedAt" in item
    far_future = fixed_clock(datetime.now(UTC) + timedelta(days=30))
    assert service.get(first.attachment_id, clock=far_future) is not None

    with pytest.raises(Conflict) as refused:
        service.attach_actions([first.attachment_id], SARA, case_id="case-1", message_id="m-3")
    assert (refused.value.status, refused.value.code) == (409, "attachment-already-used")
    with pytest.raises(dynamo.TransactionConflict) as conflict:
        commit_message(racing, "case-1", "m-2")
    assert conflict.value.failed(1)
    assert stored_item(first.attachment_id)["messageId"] == "m-1"  # type: ignore[index]


def test_attachments_can_expire_with_their_case(s3: Any) -> None:
    attachment = checked(s3, SARA)
    case_expires = epoch_seconds(datetime.now(UTC) + timedelta(days=730))
    actions = service.attach_actions(
        [attachment.attachment_id], SARA, case_id="case-1", message_id="m-1", case_expires_at=case_expires
    )
    commit_message(actions, "case-1", "m-1")
    assert stored_item(attachment.attachment_id)["expiresAt"] == case_expires  # type: ignore[index]
    after_case = fixed_clock(datetime.now(UTC) + timedelta(days=731))
    assert service.get(attachment.attachment_id, clock=after_case) is None


# --- download and retention ----------------------------------------------------------------


def test_download_url_serves_the_checked_file_for_60_seconds(s3: Any) -> None:
    attachment, post = service.create_upload(SARA, "Läkarintyg.exe", "application/pdf", len(PDF), clock=system_clock)
    upload(post, PDF)
    deliver(s3, attachment.attachment_id)
    found = service.get(attachment.attachment_id, clock=system_clock)
    assert found is not None
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    link = service.download_url(found, disposition="attachment", clock=fixed_clock(now))
    assert link["expiresAt"] == "2026-11-22T10:01:00.000Z"
    assert "X-Amz-Expires=60" in link["url"]
    response = requests.get(link["url"], timeout=10)
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Lakarintyg.exe.pdf\"; filename*=UTF-8''L%C3%A4karintyg.exe.pdf"
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    preview = service.download_url(found, disposition="inline", clock=system_clock)
    assert requests.get(preview["url"], timeout=10).headers["Content-Disposition"].startswith("inline;")


def test_no_download_link_before_the_check_or_after_a_rejection(s3: Any) -> None:
    attachment, post = service.create_upload(SARA, "a.pdf", "application/pdf", len(ELF), clock=system_clock)
    with pytest.raises(Conflict):
        service.download_url(attachment, disposition="inline", clock=system_clock)
    upload(post, ELF)
    deliver(s3, attachment.attachment_id)
    rejected = service.get(attachment.attachment_id, clock=system_clock)
    assert rejected is not None and rejected.status == "rejected"
    with pytest.raises(InvalidInput):
        service.download_url(rejected, disposition="inline", clock=system_clock)


def test_delete_for_case_removes_files_and_records_of_that_case_only(s3: Any) -> None:
    ours, theirs = checked(s3, SARA), checked(s3, ERIK)
    commit_message(
        service.attach_actions([ours.attachment_id], SARA, case_id="case-1", message_id="m-1"), "case-1", "m-1"
    )
    commit_message(
        service.attach_actions([theirs.attachment_id], ERIK, case_id="case-2", message_id="m-2"), "case-2", "m-2"
    )
    service.delete_for_case("case-1", [ours.attachment_id, theirs.attachment_id])
    assert stored_item(ours.attachment_id) is None
    assert storage.files_key(ours.attachment_id) not in keys(s3, "files/")
    assert stored_item(theirs.attachment_id) is not None
    assert storage.files_key(theirs.attachment_id) in keys(s3, "files/")
    service.delete_for_case("case-1", [ours.attachment_id])  # again: nothing left, no error


def test_files_of_attachments_never_attached_are_purged_once_their_record_expired(s3: Any) -> None:
    unattached, attached = checked(s3, SARA), checked(s3, SARA)
    commit_message(
        service.attach_actions([attached.attachment_id], SARA, case_id="case-1", message_id="m-1"), "case-1", "m-1"
    )
    ids = [unattached.attachment_id, attached.attachment_id]
    assert service.purge_files(ids, clock=system_clock) == 0  # both live
    later = fixed_clock(datetime.now(UTC) + timedelta(hours=25))
    assert service.purge_files(ids, clock=later) == 1
    assert storage.files_key(unattached.attachment_id) not in keys(s3, "files/")
    assert storage.files_key(attached.attachment_id) in keys(s3, "files/")


# --- photos lose their metadata (issue 13) ---------------------------------------------------


def _png_with_text() -> bytes:
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Sara Berg")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def test_a_jpeg_with_gps_is_stored_and_served_without_its_metadata(s3: Any) -> None:
    from tests.unit.photo_samples import GPS_IFD, exif_of, jpeg_with_gps

    photo = jpeg_with_gps(comment=b"hemma")
    assert GPS_IFD in exif_of(photo)
    attachment, post = service.create_upload(SARA, "utslag.jpg", "image/jpeg", len(photo), clock=system_clock)
    assert upload(post, photo, "utslag.jpg").status_code == 204
    assert deliver(s3, attachment.attachment_id) == {"checked": 1, "rejected": 0, "skipped": 0}

    stored = s3.get_object(Bucket=bucket(), Key=storage.files_key(attachment.attachment_id))
    data = stored["Body"].read()
    assert exif_of(data) == {} and b"hemma" not in data  # no EXIF, no GPS, no comment in the stored file
    assert stored["ContentType"] == "image/jpeg"
    assert storage.pending_key(attachment.attachment_id) not in keys(s3, "pending/")  # the original is gone
    item = stored_item(attachment.attachment_id)
    assert item is not None
    assert (item["status"], item["metadataRemoved"], item["size"]) == ("checked", ["gps", "exif", "comment"], len(data))

    found = service.get(attachment.attachment_id, clock=system_clock)
    assert found is not None and found.metadata_removed == ("gps", "exif", "comment")
    link = service.download_url(found, disposition="inline", clock=system_clock)
    assert link["metadataRemoved"] == ["gps", "exif", "comment"]
    assert link["notice"] == (
        "Vi tog bort dold information från bilden innan den sparades: platsuppgifter (GPS), kamerainformation "
        "(EXIF) och kommentarer. Själva bilden är densamma."
    )
    served = requests.get(link["url"], timeout=10)
    assert served.status_code == 200 and served.content == data and exif_of(served.content) == {}


def test_a_png_loses_its_text_and_a_pdf_is_copied_untouched(s3: Any) -> None:
    png = checked(s3, SARA, _png_with_text(), "image/png")
    assert png.metadata_removed == ("text",)
    assert b"Sara Berg" not in s3.get_object(Bucket=bucket(), Key=png.object_key)["Body"].read()
    pdf = checked(s3, SARA)
    assert pdf.metadata_removed == ()
    assert s3.get_object(Bucket=bucket(), Key=pdf.object_key)["Body"].read() == PDF
    link = service.download_url(pdf, disposition="inline", clock=system_clock)
    assert "notice" not in link and "metadataRemoved" not in link


def test_staff_photos_are_cleaned_too(s3: Any) -> None:
    from tests.unit.photo_samples import exif_of, jpeg_with_gps

    photo = checked(s3, NURSE, jpeg_with_gps(), "image/jpeg")
    assert photo.metadata_removed == ("gps", "exif")
    assert exif_of(s3.get_object(Bucket=bucket(), Key=photo.object_key)["Body"].read()) == {}


def test_an_unreadable_photo_or_a_decompression_bomb_is_rejected_with_its_reason(s3: Any) -> None:
    from tests.unit.photo_samples import png_claiming

    for data, content_type, reason, detail in [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 400, "image/jpeg", "unreadable-image", "Bilden kunde inte läsas."),
        (png_claiming(8000, 8000), "image/png", "image-too-large", "Bilden har för många bildpunkter."),
    ]:
        attachment, post = service.create_upload(SARA, "bild", content_type, len(data), clock=system_clock)
        upload(post, data)
        assert deliver(s3, attachment.attachment_id) == {"checked": 0, "rejected": 1, "skipped": 0}
        item = stored_item(attachment.attachment_id)
        assert item is not None and (item["status"], item["rejectReason"]) == ("rejected", reason)
        assert storage.files_key(attachment.attachment_id) not in keys(s3, "files/")
        assert storage.pending_key(attachment.attachment_id) not in keys(s3, "pending/")
        with pytest.raises(InvalidInput) as refused:
            service.attach_actions([attachment.attachment_id], SARA, case_id="case-1", message_id="m-1")
        assert refused.value.code == "attachment-rejected" and refused.value.detail.startswith(detail)
        assert refused.value.body()["reason"] == reason


def test_a_photo_replaced_while_it_is_read_is_left_for_its_own_event(s3: Any) -> None:
    from tests.unit.photo_samples import jpeg_with_gps

    photo = jpeg_with_gps()
    attachment, post = service.create_upload(SARA, "a.jpg", "image/jpeg", len(photo), clock=system_clock)
    upload(post, photo)
    key = storage.pending_key(attachment.attachment_id)
    assert storage.read_all(key, '"not-the-etag"') is None
    assert storage.read_all(key, s3.head_object(Bucket=bucket(), Key=key)["ETag"]) == photo
