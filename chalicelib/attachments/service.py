"""Attachments (R-22..R-26): a presigned upload, a content check, binding to a message, download links.

Flow: `create_upload` writes a pending attachment (24 h TTL) and returns a presigned POST bound to
the declared type and size → the app uploads to `pending/<id>` → S3 invokes `attachment_uploaded`,
which judges the content (`content.judge`), moves what passes to `files/<id>` (a JPEG or PNG saved
again without its metadata, `content.strip_metadata`) and marks it checked, or deletes the upload and
marks it rejected → the caller binds them with `attach` in its message's unit of work
(the pending TTL goes; the file lives as long as the case, R-24) → `download_url` gives a 60 s link.
Whether a caller may see an attachment, and whether a case type allows attachments (R-22), is the
caller's decision.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import quote

from chalicelib.attachments import content, repository, storage
from chalicelib.attachments.models import Attachment, Disposition, Uploader
from chalicelib.core import idempotency
from chalicelib.core.clock import Clock, epoch_seconds, iso, system_clock
from chalicelib.core.errors import Conflict, Gone, InvalidInput, NotFound
from chalicelib.core.ids import new_id
from chalicelib.core.unit_of_work import UnitOfWork

MAX_BYTES = content.MAX_BYTES
ALLOWED_TYPES = {"application/pdf", "image/gif", "image/jpeg", "image/png"}
MAX_PER_MESSAGE = {"citizen": 5, "staff": 10}  # to care at most 5, from staff at most 10
PENDING_TTL_SECONDS = 24 * 3600
UPLOAD_URL_SECONDS = 15 * 60
DOWNLOAD_URL_SECONDS = 60
MAX_FILE_NAME = 255
MAX_ID_LENGTH = 64  # a path parameter longer than an id is not one (checked before any read)
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/gif": (".gif",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
}
# Control, format (e.g. right-to-left override: "faktura\u202efdp.exe"), surrogate and line/paragraph
# separator characters have no place in a file name.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


class AttachmentNotFound(NotFound):
    code, title = "attachment-not-found", "Bilagan finns inte"


def _not_found() -> AttachmentNotFound:
    return AttachmentNotFound("Bilagan finns inte eller har gått ut. Ladda upp filen igen.")


def _not_checked() -> Conflict:
    return Conflict(
        "Filen kontrolleras fortfarande. Vänta en stund och försök igen.",
        code="attachment-not-checked",
        title="Filen är inte kontrollerad än",
    )


_REJECTED = "Filen kunde inte godkännas. Bara PDF, GIF, JPEG och PNG på högst 20 MB kan bifogas."
# Why a photo was refused, in words the citizen can act on (the other reasons share _REJECTED).
_REJECTED_PHOTO = {
    content.UNREADABLE_IMAGE: "Bilden kunde inte läsas. Kontrollera att det är en hel JPEG- eller PNG-bild och "
    "ladda upp den igen.",
    content.IMAGE_TOO_LARGE: "Bilden har för många bildpunkter. Förminska den och ladda upp den igen.",
}


def _rejected(reason: str | None = None) -> InvalidInput:
    return InvalidInput(
        _REJECTED_PHOTO.get(reason or "", _REJECTED),
        code="attachment-rejected",
        title="Filen godkändes inte",
        extra={"reason": reason} if reason else None,
    )


# What the citizen is told a photo lost (content.METADATA_KINDS), in that order.
METADATA_LABELS = {
    "gps": "platsuppgifter (GPS)",
    "exif": "kamerainformation (EXIF)",
    "xmp": "XMP-metadata",
    "iptc": "IPTC-uppgifter",
    "comment": "kommentarer",
    "text": "textfält",
}


def metadata_notice(removed: tuple[str, ...] | list[str]) -> str | None:
    """The Swedish notice for a photo whose metadata the content check removed; None when nothing was."""
    labels = [METADATA_LABELS[kind] for kind in content.METADATA_KINDS if kind in removed]
    if not labels:
        return None
    listed = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " och " + labels[-1]
    return f"Vi tog bort dold information från bilden innan den sparades: {listed}. Själva bilden är densamma."


# ------------------------------------------------------------------ upload


def _check_file_name(file_name: object) -> str:
    if (
        not isinstance(file_name, str)
        or not 1 <= len(file_name) <= MAX_FILE_NAME
        or not file_name.strip()
        or file_name.strip(" .") == ""
        or any(ch in "/\\" or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in file_name)
    ):
        raise InvalidInput(
            "Filnamnet kan inte användas. Det får vara högst 255 tecken och får inte innehålla / eller \\.",
            code="invalid-file-name",
        )
    return file_name


def create_upload(
    uploader: Uploader,
    file_name: str,
    content_type: str,
    size: int,
    *,
    clock: Clock,
    idempotency_key: str | None = None,
) -> tuple[Attachment, dict[str, Any]]:
    """Validate, store a pending attachment (TTL 24 h) and return it with a presigned POST
    `{"url", "fields"}` valid 15 minutes, bound to key `pending/<id>`, exactly `content_type` and
    1..`size` bytes. Nothing is written when the input is refused. A retry with the same Idempotency-Key
    gets the same attachment (and a fresh upload form for it) and writes nothing."""
    guard = idempotency.guard(
        f"attachment:{uploader.kind}:{uploader.id}:{uploader.clinic_id}",
        idempotency_key,
        {"fileName": file_name, "contentType": content_type, "size": size},
    )
    first = idempotency.replayed(guard, epoch_seconds(clock()))
    if first is not None:
        return _replayed_upload(str(first["id"]), clock)
    declared_type = content_type.strip().lower() if isinstance(content_type, str) else ""
    if declared_type not in ALLOWED_TYPES:
        raise InvalidInput("Bara PDF, GIF, JPEG och PNG kan bifogas.", code="attachment-type-not-allowed")
    if isinstance(size, bool) or not isinstance(size, int) or size > MAX_BYTES:
        raise InvalidInput("Filen är för stor. Största tillåtna storlek är 20 MB.", code="attachment-too-large")
    if size < 1:
        raise InvalidInput("Filen är tom. Välj en fil med innehåll.", code="attachment-too-large")
    _check_file_name(file_name)
    now = clock()
    attachment = Attachment(
        attachment_id=new_id(),
        uploader=uploader,
        file_name=file_name,
        content_type=declared_type,
        size=size,
        status="pending",
        case_id=None,
        message_id=None,
        created_at=iso(now),
        expires_at=epoch_seconds(now) + PENDING_TTL_SECONDS,
    )
    if guard is None:
        repository.put_new(attachment)
    else:
        now_epoch = epoch_seconds(now)
        uow = UnitOfWork()
        repository.add_new(uow, attachment)
        idempotency.add_guard(uow, guard, {"id": attachment.attachment_id}, now_epoch)
        try:
            uow.commit()
        except idempotency.LostRace as lost:
            return _replayed_upload(str(idempotency.winner(lost, now_epoch)["id"]), clock)
    upload = storage.presigned_post(
        storage.pending_key(attachment.attachment_id), declared_type, size, UPLOAD_URL_SECONDS
    )
    return attachment, upload


def _replayed_upload(attachment_id: str, clock: Clock) -> tuple[Attachment, dict[str, Any]]:
    """The first attempt's attachment with a fresh upload form (the first form may never have arrived)."""
    attachment = get(attachment_id, clock=clock)
    if attachment is None:
        raise Gone("Uppladdningen har gått ut. Börja om med en ny.", code="upload-expired")
    upload = storage.presigned_post(
        storage.pending_key(attachment_id), attachment.content_type, attachment.size, UPLOAD_URL_SECONDS
    )
    return attachment, upload


# ------------------------------------------------------------------ reads


def _live(attachment: Attachment, now_epoch: int) -> bool:
    # DynamoDB deletes expired items only eventually (DynamoDB Local never).
    return attachment.expires_at is None or attachment.expires_at > now_epoch


def get(attachment_id: str, *, clock: Clock) -> Attachment | None:
    """The attachment, or None when it does not exist or has expired."""
    if not repository.is_attachment_id(attachment_id):
        return None
    attachment = repository.get(attachment_id)
    if attachment is None or not _live(attachment, epoch_seconds(clock())):
        return None
    return attachment


def get_many(attachment_ids: list[str], *, clock: Clock) -> list[Attachment]:
    """The live ones of `attachment_ids`, in that order (one BatchGetItem per 100)."""
    wanted = [i for i in dict.fromkeys(attachment_ids) if repository.is_attachment_id(i)]
    found = repository.get_many(wanted) if wanted else {}
    now_epoch = epoch_seconds(clock())
    return [found[i] for i in wanted if i in found and _live(found[i], now_epoch)]


# ------------------------------------------------------------------ binding to a message


def _owned_by(attachment: Attachment, uploader: Uploader) -> bool:
    # Staff: the same person (HSA-id), whichever clinic they uploaded for.
    return attachment.uploader.kind == uploader.kind and attachment.uploader.id == uploader.id


def attach(
    uow: UnitOfWork,
    attachment_ids: list[str],
    uploader: Uploader,
    *,
    case_id: str,
    message_id: str,
    case_expires_at: int | None = None,
    clock: Clock = system_clock,
) -> None:
    """Binds the attachments to a message in the caller's unit of work, committed with the message.
    Refuses (writing nothing) duplicates, more than R-23 allows, unknown/expired/someone else's
    attachments, unchecked, rejected and already used ones. Each write re-checks all of that
    (checked, unattached, same uploader, unexpired), so a race makes the caller's transaction fail.
    `case_expires_at` (epoch seconds) lets the attachment expire with the case; without it the
    pending TTL is removed and the file stays until deleted (`delete_for_case`)."""
    ids = list(attachment_ids)
    if not ids:
        return
    if len(set(ids)) != len(ids):
        raise InvalidInput("Samma fil är bifogad flera gånger.", code="duplicate-attachment")
    limit = MAX_PER_MESSAGE[uploader.kind]
    if len(ids) > limit:
        raise InvalidInput(f"Du kan bifoga högst {limit} filer per meddelande.", code="too-many-attachments")
    if not all(repository.is_attachment_id(i) for i in ids):
        raise _not_found()
    now = clock()
    now_epoch = epoch_seconds(now)
    found = repository.get_many(ids)
    for attachment_id in ids:
        attachment = found.get(attachment_id)
        if attachment is None or not _live(attachment, now_epoch) or not _owned_by(attachment, uploader):
            raise _not_found()
        if attachment.message_id is not None:
            raise Conflict(
                "Filen är redan bifogad i ett meddelande. Ladda upp den igen för att bifoga den på nytt.",
                code="attachment-already-used",
                title="Filen är redan bifogad",
            )
        if attachment.status == "pending":
            raise _not_checked()
        if attachment.status == "rejected":
            raise _rejected(attachment.reject_reason)
    for attachment_id in ids:
        repository.attach(
            uow,
            attachment_id,
            uploader,
            case_id=case_id,
            message_id=message_id,
            now_iso=iso(now),
            now_epoch=now_epoch,
            case_expires_at=case_expires_at,
        )


def attach_actions(
    attachment_ids: list[str],
    uploader: Uploader,
    *,
    case_id: str,
    message_id: str,
    case_expires_at: int | None = None,
    clock: Clock = system_clock,
) -> list[dict[str, Any]]:
    """`attach` as TransactWriteItems actions, for a caller that commits them itself."""
    uow = UnitOfWork()
    attach(
        uow,
        attachment_ids,
        uploader,
        case_id=case_id,
        message_id=message_id,
        case_expires_at=case_expires_at,
        clock=clock,
    )
    return [dict(action) for action in uow.actions]


# ------------------------------------------------------------------ download


def file_not_found() -> NotFound:
    """What anyone who may not see a file is told (as if it did not exist)."""
    return NotFound("Filen finns inte.", code="attachment-not-found")


def checked(attachment_id: str, *, clock: Clock) -> Attachment:
    """A live, checked attachment (404 otherwise); the caller decides who may see it."""
    found = get(attachment_id, clock=clock) if len(attachment_id) <= MAX_ID_LENGTH else None
    if found is None or found.status != "checked":
        raise file_not_found()
    return found


def disposition(wanted: str | None) -> Disposition:
    """`attachment` to download; anything else shows the file inline (R-26: preview first)."""
    return "attachment" if wanted == "attachment" else "inline"


def download_name(file_name: str, content_type: str) -> str:
    """The name offered when saving: the original, with an extension that matches the checked type
    (a PDF uploaded as "intyg.exe" is saved as "intyg.exe.pdf")."""
    name = unicodedata.normalize("NFC", file_name).strip()
    extensions = EXTENSIONS[content_type]
    if not name.lower().endswith(extensions):
        name += extensions[0]
    return name


def content_disposition(disposition: Disposition, file_name: str, content_type: str) -> str:
    """RFC 6266: an ASCII fallback (å → a, anything unsafe → _) and the exact UTF-8 name (RFC 8187)."""
    name = download_name(file_name, content_type)
    decomposed = unicodedata.normalize("NFKD", name)
    fallback = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%;' else "_"
        for ch in decomposed
        if unicodedata.category(ch) != "Mn"
    )
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def download_url(
    attachment: Attachment, *, disposition: Literal["inline", "attachment"], clock: Clock
) -> dict[str, Any]:
    """A presigned GET valid 60 s for a checked file: `inline` to preview (R-25, R-26), `attachment`
    to download. The response carries the checked type and a safe file name, and is not cached. For a
    photo that lost metadata in the content check: what (`metadataRemoved`) and a Swedish `notice`."""
    if attachment.status == "pending":
        raise _not_checked()
    if attachment.status != "checked" or not attachment.object_key:
        raise _rejected(attachment.reject_reason)
    url = storage.presigned_get(
        attachment.object_key,
        content_type=attachment.content_type,
        content_disposition=content_disposition(disposition, attachment.file_name, attachment.content_type),
        expires_s=DOWNLOAD_URL_SECONDS,
    )
    link: dict[str, Any] = {"url": url, "expiresAt": iso(clock() + timedelta(seconds=DOWNLOAD_URL_SECONDS))}
    return {**link, **metadata_info(attachment)}


def metadata_info(attachment: Attachment) -> dict[str, Any]:
    """`{metadataRemoved, notice}` for a photo whose metadata the content check removed, else `{}`:
    for wherever an attachment is shown to the citizen."""
    notice = metadata_notice(attachment.metadata_removed)
    return {"metadataRemoved": list(attachment.metadata_removed), "notice": notice} if notice else {}


# ------------------------------------------------------------------ the content check


@dataclass(frozen=True)
class UploadCheck:
    outcome: Literal["checked", "rejected", "skipped"]
    reason: str | None = None  # content.REASONS when rejected; why it was skipped otherwise


def check_upload(attachment_id: str, *, clock: Clock) -> UploadCheck:
    """Judge the object at `pending/<id>` by its content (R-23) and apply the verdict once.

    Safe to repeat: an attachment that is no longer pending is skipped (and any later upload to its
    key deleted). What passes is copied to `files/<id>` *before* it is marked checked, so a checked
    attachment always has its file; the upload is deleted last. A JPEG or PNG is decoded and saved
    again without its metadata (`content.strip_metadata`), and what was removed is recorded on the
    attachment; one that cannot be decoded, or has too many pixels, is rejected. Uploads by staff go
    through the same check.
    """
    pending = storage.pending_key(attachment_id)
    attachment = repository.get(attachment_id)
    if attachment is None:
        storage.delete_object(pending)  # nobody asked for this upload (or it expired long ago)
        return UploadCheck("skipped", "no-attachment")
    if attachment.status != "pending":
        storage.delete_object(pending)  # a redelivery, or the same form used again: not wanted
        return UploadCheck("skipped", f"already-{attachment.status}")
    stored = storage.head(pending)
    if stored is None:
        return UploadCheck("skipped", "no-object")
    read = _read_upload(pending, stored, attachment.content_type)
    if read is None:
        return UploadCheck("skipped", "object-replaced")
    head, whole = read
    verdict = content.judge(
        head, size=stored.size, declared_type=attachment.content_type, declared_size=attachment.size
    )
    photo = None
    if verdict.accepted and verdict.content_type in content.PHOTO_TYPES and whole is not None:
        photo = content.strip_metadata(whole, verdict.content_type)
        if photo.reason:
            verdict = content.Verdict(False, verdict.content_type, photo.reason)
    now = iso(clock())
    if not verdict.accepted:
        reason = verdict.reason or content.UNKNOWN_TYPE
        decided = repository.mark_rejected(attachment_id, reason=reason, now_iso=now)
        storage.delete_object(pending)
        return UploadCheck("rejected", reason) if decided else UploadCheck("skipped", "decided-meanwhile")
    target = storage.files_key(attachment_id)
    checked_type = verdict.content_type or attachment.content_type
    if photo is not None:
        # Only the cleaned photo is stored; the upload with its metadata is deleted below.
        storage.put(target, photo.data, content_type=checked_type)
    elif not storage.copy(pending, target, etag=stored.etag, content_type=checked_type):
        return UploadCheck("skipped", "object-replaced")
    if repository.mark_checked(
        attachment_id,
        size=len(photo.data) if photo is not None else stored.size,
        content_type=checked_type,
        object_key=target,
        now_iso=now,
        metadata_removed=photo.removed if photo is not None else (),
    ):
        storage.delete_object(pending)
        return UploadCheck("checked")
    # Another delivery decided first. If it rejected, our copy must not outlive the decision.
    current = repository.get(attachment_id)
    if current is None or current.status != "checked":
        storage.delete_object(target)
    storage.delete_object(pending)
    return UploadCheck("skipped", "decided-meanwhile")


def _read_upload(pending: str, stored: storage.StoredObject, declared_type: str) -> tuple[bytes, bytes | None] | None:
    """(first bytes, whole file or None) of the upload; None when it was replaced meanwhile. A declared
    photo is read whole in one GET (judged by its first bytes, then cleaned); anything else only its
    first bytes. Nothing is read of an empty or oversized upload (the verdict needs only its size)."""
    if not 0 < stored.size <= MAX_BYTES:
        return b"", None
    if declared_type in content.PHOTO_TYPES:
        whole = storage.read_all(pending, stored.etag)
        return (whole[: content.SNIFF_BYTES], whole) if whole is not None else None
    head = storage.read_start(pending, stored.etag, content.SNIFF_BYTES)
    return (head, None) if head is not None else None


# ------------------------------------------------------------------ retention


def delete_for_case(case_id: str, attachment_ids: list[str]) -> None:
    """Delete the files and records of a case's attachments (R-24, retention). An id whose record
    belongs to another case, or to no case, is left alone; one whose record is already gone (expired)
    still has its files deleted. Safe to repeat."""
    ids = [i for i in dict.fromkeys(attachment_ids) if repository.is_attachment_id(i)]
    if not ids:
        return
    found = repository.get_many(ids)
    ours = [i for i in ids if i not in found or found[i].case_id == case_id]
    storage.delete_objects([storage.files_key(i) for i in ours] + [storage.pending_key(i) for i in ours])
    for attachment_id in ours:
        if attachment_id in found:
            repository.delete_item_of_case(attachment_id, case_id)


def purge_files(attachment_ids: list[str], *, clock: Clock) -> int:
    """Delete the files of attachments whose record is gone or expired (for the main table's stream
    consumer on TTL removals of ATTACHMENT# items: a checked file that was never attached must not
    outlive its record). Live records are left alone. Returns how many ids were purged."""
    ids = [i for i in dict.fromkeys(attachment_ids) if repository.is_attachment_id(i)]
    if not ids:
        return 0
    now_epoch = epoch_seconds(clock())
    found = repository.get_many(ids)
    gone = [i for i in ids if i not in found or not _live(found[i], now_epoch)]
    if gone:
        storage.delete_objects([storage.files_key(i) for i in gone] + [storage.pending_key(i) for i in gone])
    return len(gone)
