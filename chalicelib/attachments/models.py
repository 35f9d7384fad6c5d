"""Attachment records. Plain dataclasses: this module is imported by the API function at cold start."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ID_PATTERN_TEXT = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # a uuid4, as `new_id` makes
ID_PATTERN = re.compile(ID_PATTERN_TEXT)

UploaderKind = Literal["citizen", "staff"]
AttachmentStatus = Literal["pending", "checked", "rejected"]
Disposition = Literal["inline", "attachment"]


@dataclass(frozen=True)
class Uploader:
    kind: UploaderKind
    id: str  # citizen id, or staff HSA-id
    clinic_id: str | None = None  # staff: the clinic they upload for (None for citizens)


@dataclass(frozen=True)
class Attachment:
    attachment_id: str
    uploader: Uploader
    file_name: str
    content_type: str  # declared at upload; after the check, the type the content was found to have
    size: int  # declared at upload; after the check, the size of the stored file
    status: AttachmentStatus
    case_id: str | None
    message_id: str | None
    created_at: str
    expires_at: int | None  # epoch seconds (TTL) while not attached; the case's expiry, or None, after
    reject_reason: str | None = None  # a content.REASONS code when status is "rejected"
    object_key: str | None = None  # files/<id> once checked
    checked_at: str | None = None
    attached_at: str | None = None
    # A photo's metadata the content check removed (content.METADATA_KINDS, e.g. ("gps", "exif"))
    metadata_removed: tuple[str, ...] = ()
