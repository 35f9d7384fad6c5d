"""R-23: an attachment's type is judged by its first bytes, never by its name or declared type."""

from __future__ import annotations

import pytest

from chalicelib.attachments import content
from chalicelib.attachments.service import ALLOWED_TYPES, content_disposition, download_name

MB = 1024 * 1024

# Minimal real headers: what the first bytes of such files look like.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
GIF87 = b"GIF87a\x01\x00\x01\x00\x80\x00\x00"
GIF89 = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04"
JPEG_JFIF = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
JPEG_EXIF = b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00II*\x00\x08\x00\x00\x00"
ELF = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00"
MZ = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00"


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (GIF87, "image/gif"),
        (GIF89, "image/gif"),
        (JPEG_JFIF, "image/jpeg"),
        (JPEG_EXIF, "image/jpeg"),
    ],
)
def test_real_headers_are_recognised_and_accepted(head: bytes, content_type: str) -> None:
    assert content.sniff(head) == content_type
    verdict = content.judge(head[: content.SNIFF_BYTES], size=1000, declared_type=content_type, declared_size=1000)
    assert verdict == content.Verdict(True, content_type)


@pytest.mark.parametrize("executable", [ELF, MZ], ids=["elf", "mz"])
def test_an_executable_declared_as_pdf_is_rejected(executable: bytes) -> None:
    # The file may be called "intyg.pdf" and declared application/pdf: the bytes decide.
    assert content.sniff(executable) is None
    verdict = content.judge(executable, size=4096, declared_type="application/pdf", declared_size=4096)
    assert not verdict.accepted and verdict.reason == content.UNKNOWN_TYPE


@pytest.mark.parametrize(
    ("head", "declared"),
    [(PNG, "application/pdf"), (PDF, "image/png"), (GIF89, "image/jpeg"), (JPEG_JFIF, "image/png")],
)
def test_a_real_file_of_another_type_than_declared_is_rejected(head: bytes, declared: str) -> None:
    verdict = content.judge(head, size=100, declared_type=declared, declared_size=100)
    assert not verdict.accepted and verdict.reason == content.TYPE_MISMATCH
    assert verdict.content_type == content.sniff(head)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"%PDF",  # truncated signature
        b" %PDF-1.7",  # not at offset 0
        b"GIF88a",
        b"\x89PNG\r\n\x1a",  # 7 of 8 bytes
        b"\xff\xd8",
        b"<html><script>",
        b"PK\x03\x04",  # zip / docx
    ],
)
def test_near_misses_are_not_recognised(head: bytes) -> None:
    assert content.sniff(head) is None


def test_size_limits() -> None:
    ok = content.judge(PDF, size=20 * MB, declared_type="application/pdf", declared_size=20 * MB)
    assert ok.accepted
    too_large = content.judge(PDF, size=20 * MB + 1, declared_type="application/pdf", declared_size=20 * MB + 1)
    assert (too_large.accepted, too_large.reason) == (False, content.TOO_LARGE)
    larger = content.judge(PDF, size=1001, declared_type="application/pdf", declared_size=1000)
    assert (larger.accepted, larger.reason) == (False, content.LARGER_THAN_DECLARED)
    empty = content.judge(b"", size=0, declared_type="application/pdf", declared_size=1000)
    assert (empty.accepted, empty.reason) == (False, content.EMPTY)


def test_every_allowed_type_has_a_signature() -> None:
    assert {content_type for _, content_type in content.SIGNATURES} == ALLOWED_TYPES
    assert content.SNIFF_BYTES == 8


def test_download_names_get_the_extension_of_the_checked_type() -> None:
    assert download_name("intyg.pdf", "application/pdf") == "intyg.pdf"
    assert download_name("Foto.JPEG", "image/jpeg") == "Foto.JPEG"
    assert download_name("intyg.exe", "application/pdf") == "intyg.exe.pdf"
    assert download_name("bild", "image/png") == "bild.png"


def test_content_disposition_is_safe_and_keeps_the_swedish_name() -> None:
    header = content_disposition("attachment", 'Läkarintyg "åäö"; 50%.pdf', "application/pdf")
    assert header == (
        'attachment; filename="Lakarintyg _aao__ 50_.pdf"; '
        "filename*=UTF-8''L%C3%A4karintyg%20%22%C3%A5%C3%A4%C3%B6%22%3B%2050%25.pdf"
    )
    assert header.isascii()
    assert content_disposition("inline", "bild.png", "image/png").startswith('inline; filename="bild.png"')


# --- what create_upload refuses before anything is written --------------------------------------


@pytest.fixture
def no_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.attachments import repository, storage

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing may be written for refused input")

    monkeypatch.setattr(repository, "put_new", refuse)
    monkeypatch.setattr(storage, "presigned_post", refuse)


@pytest.mark.parametrize(
    ("file_name", "content_type", "size", "code"),
    [
        ("intyg.pdf", "application/x-msdownload", 10, "attachment-type-not-allowed"),
        (
            "intyg.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            10,
            "attachment-type-not-allowed",
        ),
        ("bild.jpg", "image/jpg", 10, "attachment-type-not-allowed"),
        ("intyg.pdf", "application/pdf", 20 * MB + 1, "attachment-too-large"),
        ("intyg.pdf", "application/pdf", 0, "attachment-too-large"),
        ("intyg.pdf", "application/pdf", -1, "attachment-too-large"),
        ("", "application/pdf", 10, "invalid-file-name"),
        ("   ", "application/pdf", 10, "invalid-file-name"),
        ("..", "application/pdf", 10, "invalid-file-name"),
        ("a" * 252 + ".pdf", "application/pdf", 10, "invalid-file-name"),
        ("../../etc/passwd.pdf", "application/pdf", 10, "invalid-file-name"),
        ("C:\\Users\\sara\\intyg.pdf", "application/pdf", 10, "invalid-file-name"),
        ("intyg\n.pdf", "application/pdf", 10, "invalid-file-name"),
        ("intyg\x00.pdf", "application/pdf", 10, "invalid-file-name"),
        ("faktura\u202efdp.exe", "application/pdf", 10, "invalid-file-name"),  # right-to-left override
        ("intyg\ud800.pdf", "application/pdf", 10, "invalid-file-name"),  # lone surrogate
    ],
)
def test_create_upload_refuses_bad_input_and_writes_nothing(
    no_writes: None, file_name: str, content_type: str, size: int, code: str
) -> None:
    from chalicelib.attachments.models import Uploader
    from chalicelib.attachments.service import create_upload
    from chalicelib.core.clock import system_clock
    from chalicelib.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        create_upload(Uploader("citizen", "c-1"), file_name, content_type, size, clock=system_clock)
    assert refused.value.code == code and refused.value.status == 422


def test_create_upload_messages_are_swedish(no_writes: None) -> None:
    from chalicelib.attachments.models import Uploader
    from chalicelib.attachments.service import create_upload
    from chalicelib.core.clock import system_clock
    from chalicelib.core.errors import InvalidInput

    uploader = Uploader("citizen", "c-1")
    with pytest.raises(InvalidInput) as too_large:
        create_upload(uploader, "a.pdf", "application/pdf", 20 * MB + 1, clock=system_clock)
    assert too_large.value.detail == "Filen är för stor. Största tillåtna storlek är 20 MB."
    with pytest.raises(InvalidInput) as wrong_type:
        create_upload(uploader, "a.exe", "application/octet-stream", 10, clock=system_clock)
    assert wrong_type.value.detail == "Bara PDF, GIF, JPEG och PNG kan bifogas."
