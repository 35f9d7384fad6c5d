"""The attachments bucket: S3 keys and calls. Keys carry only the random id, never a name or a person:

  pending/<id>  the upload, until the content check (a lifecycle rule deletes leftovers after a day)
  files/<id>    a file that passed the check (a photo: saved again without its metadata)

The client is the process's one S3 client (`core.clients.s3`); the bucket comes from `settings()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib.attachments.models import ID_PATTERN_TEXT
from chalicelib.core import clients
from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError

BUCKET_ENV = "ATTACHMENTS_BUCKET"
PENDING_PREFIX = "pending/"
FILES_PREFIX = "files/"
PENDING_KEY_PATTERN = re.compile(rf"{PENDING_PREFIX}({ID_PATTERN_TEXT})")
# S3 answers these for a key that does not exist (403 instead when the caller may not ListBucket).
_MISSING = {"404", "NoSuchKey", "NotFound"}
_CHANGED = {"412", "PreconditionFailed"}


def bucket() -> str:
    name = settings().attachments_bucket
    if not name:
        raise ConfigurationError(f"environment variable {BUCKET_ENV} is not set")
    return name


def pending_key(attachment_id: str) -> str:
    return f"{PENDING_PREFIX}{attachment_id}"


def files_key(attachment_id: str) -> str:
    return f"{FILES_PREFIX}{attachment_id}"


def attachment_id_of_pending_key(object_key: str) -> str | None:
    match = PENDING_KEY_PATTERN.fullmatch(object_key)
    return match.group(1) if match else None


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str


def _error_code(error: Exception) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code"))
    return None


def presigned_post(object_key: str, content_type: str, max_size: int, expires_s: int) -> dict[str, Any]:
    """A browser-style POST upload bound to this key, exactly this Content-Type and 1..max_size bytes
    (boto3 adds the bucket and key conditions)."""
    post = clients.s3().generate_presigned_post(
        Bucket=bucket(),
        Key=object_key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_size]],
        ExpiresIn=expires_s,
    )
    return {"url": post["url"], "fields": dict(post["fields"])}


def presigned_get(object_key: str, *, content_type: str, content_disposition: str, expires_s: int) -> str:
    return clients.s3().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket(),
            "Key": object_key,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition,
            "ResponseCacheControl": "private, no-store",
        },
        ExpiresIn=expires_s,
    )


def head(object_key: str) -> StoredObject | None:
    try:
        response = clients.s3().head_object(Bucket=bucket(), Key=object_key)
    except Exception as error:
        if _error_code(error) in _MISSING:
            return None
        raise
    return StoredObject(size=int(response["ContentLength"]), etag=response["ETag"])


def read_start(object_key: str, etag: str, length: int) -> bytes | None:
    """The first `length` bytes of exactly the object version with `etag`; None when it is gone or
    was replaced meanwhile (the newer upload gets its own event)."""
    try:
        response = clients.s3().get_object(Bucket=bucket(), Key=object_key, Range=f"bytes=0-{length - 1}", IfMatch=etag)
    except Exception as error:
        if _error_code(error) in _MISSING | _CHANGED:
            return None
        raise
    with response["Body"] as body:
        return body.read(length)


def read_all(object_key: str, etag: str) -> bytes | None:
    """The whole object, exactly the version with `etag` (a photo to clean, at most 20 MB); None when it
    is gone or was replaced meanwhile."""
    try:
        response = clients.s3().get_object(Bucket=bucket(), Key=object_key, IfMatch=etag)
    except Exception as error:
        if _error_code(error) in _MISSING | _CHANGED:
            return None
        raise
    with response["Body"] as body:
        data: bytes = body.read()
        return data


def put(object_key: str, data: bytes, *, content_type: str) -> None:
    """Stores `data` (a cleaned photo) under `object_key` with the checked type."""
    clients.s3().put_object(Bucket=bucket(), Key=object_key, Body=data, ContentType=content_type)


def copy(source_key: str, target_key: str, *, etag: str, content_type: str) -> bool:
    """Server-side copy of exactly the object that was checked (`etag`), with the checked type."""
    try:
        clients.s3().copy_object(
            Bucket=bucket(),
            Key=target_key,
            CopySource={"Bucket": bucket(), "Key": source_key},
            CopySourceIfMatch=etag,
            MetadataDirective="REPLACE",
            ContentType=content_type,
        )
    except Exception as error:
        if _error_code(error) in _MISSING | _CHANGED:
            return False
        raise
    return True


def delete_object(object_key: str) -> None:
    """Idempotent: deleting a missing key succeeds."""
    clients.s3().delete_object(Bucket=bucket(), Key=object_key)


def delete_objects(object_keys: Iterable[str]) -> None:
    keys = list(dict.fromkeys(object_keys))
    for start in range(0, len(keys), 1000):
        response = clients.s3().delete_objects(
            Bucket=bucket(),
            Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True},
        )
        if response.get("Errors"):
            codes = sorted({str(e.get("Code")) for e in response["Errors"]})
            raise RuntimeError(f"S3 could not delete {len(response['Errors'])} objects: {', '.join(codes)}")
