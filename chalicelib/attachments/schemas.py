"""Attachment request/response models on the wire (pydantic; the domain dataclasses are in models.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.core.schemas import ApiModel


class UploadRequest(ApiModel):
    file_name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=100)
    size: int = Field(ge=0, le=10**12)


class PresignedPost(ApiModel):
    url: str
    fields: dict[str, str]


class UploadOut(ApiModel):
    attachment_id: str
    upload: PresignedPost


class LinkOut(ApiModel):
    url: str
    expires_at: str
    metadata_removed: list[Literal["gps", "exif", "xmp", "iptc", "comment", "text"]] | None = Field(
        default=None,
        description="A photo (JPEG/PNG) whose metadata the content check removed before storing it: what it had",
    )
    notice: str | None = Field(default=None, description="What was removed from the photo, in Swedish, for the citizen")
