"""Keys, DynamoDB and S3 calls for attachments. The only module of the capability that talks to AWS.

Main table:
  ATTACHMENT#<id> / ATTACHMENT → the attachment; `expiresAt` (TTL) while it is not bound to a message
Attachments bucket (env ATTACHMENTS_BUCKET; keys carry only the random id, never a name or a person):
  pending/<id>  the upload, until the content check (a lifecycle rule deletes leftovers after a day)
  files/<id>    a file that passed the check
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.attachments.models import Attachment, Uploader
from chalicelib.core import dynamo
from chalicelib.core.config import settings
from chalicelib.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET_ENV = "ATTACHMENTS_BUCKET"
ITEM_SK = "ATTACHMENT"
PENDING_PREFIX = "pending/"
FILES_PREFIX = "files/"
_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ID_PATTERN = re.compile(_ID)
PENDING_KEY_PATTERN = re.compile(rf"{PENDING_PREFIX}({_ID})")
# S3 answers these for a key that does not exist (403 instead when the caller may not ListBucket).
_MISSING = {"404", "NoSuchKey", "NotFound"}
_CHANGED = {"412", "PreconditionFailed"}

_s3: S3Client | None = None


def s3() -> S3Client:
    """One S3 client per process, created on first use. SigV4 everywhere: presigned POST policies and
    URLs for SSE-KMS objects need it. The endpoint comes from AWS_ENDPOINT_URL locally (moto)."""
    global _s3  # noqa: PLW0603 - a process-wide lazy singleton, like core.dynamo.client()
    if _s3 is None:
        import boto3
        from botocore.config import Config

        _s3 = boto3.client(
            "s3",
            config=Config(
                signature_version="s3v4",
                retries={"mode": "standard", "max_attempts": 4},
                connect_timeout=2,
                read_timeout=10,
                tcp_keepalive=True,
            ),
        )
    return _s3


def reset_client() -> None:
    """Forget the client (tests that switch endpoints)."""
    global _s3  # noqa: PLW0603
    _s3 = None


def bucket() -> str:
    name = os.environ.get(BUCKET_ENV)
    if not name:
        raise ConfigurationError(f"environment variable {BUCKET_ENV} is not set")
    return name


def is_attachment_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def pending_key(attachment_id: str) -> str:
    return f"{PENDING_PREFIX}{attachment_id}"


def files_key(attachment_id: str) -> str:
    return f"{FILES_PREFIX}{attachment_id}"


def attachment_id_of_pending_key(object_key: str) -> str | None:
    match = PENDING_KEY_PATTERN.fullmatch(object_key)
    return match.group(1) if match else None


# ------------------------------------------------------------------ DynamoDB


def item_key(attachment_id: str) -> dict[str, Any]:
    return dynamo.key(f"ATTACHMENT#{attachment_id}", ITEM_SK)


def attachment_from_item(item: dict[str, Any]) -> Attachment:
    return Attachment(
        attachment_id=item["attachmentId"],
        uploader=Uploader(kind=item["uploaderKind"], id=item["uploaderId"], clinic_id=item.get("clinicId")),
        file_name=item["fileName"],
        content_type=item["contentType"],
        size=int(item["size"]),
        status=item["status"],
        case_id=item.get("caseId"),
        message_id=item.get("messageId"),
        created_at=item["createdAt"],
        expires_at=int(item["expiresAt"]) if item.get("expiresAt") is not None else None,
        reject_reason=item.get("rejectReason"),
        object_key=item.get("objectKey"),
        checked_at=item.get("checkedAt"),
        attached_at=item.get("attachedAt"),
    )


def _new_item(attachment: Attachment) -> dict[str, Any]:
    return {
        "pk": f"ATTACHMENT#{attachment.attachment_id}",
        "sk": ITEM_SK,
        "type": "attachment",
        "attachmentId": attachment.attachment_id,
        "uploaderKind": attachment.uploader.kind,
        "uploaderId": attachment.uploader.id,
        "clinicId": attachment.uploader.clinic_id,
        "fileName": attachment.file_name,
        "contentType": attachment.content_type,
        "size": attachment.size,
        "declaredSize": attachment.size,
        "status": attachment.status,
        "createdAt": attachment.created_at,
        "expiresAt": attachment.expires_at,
    }


def put_new(attachment: Attachment) -> None:
    """The pending attachment; its id is new, so it must not exist yet."""
    put = put_new_action(attachment)["Put"]
    dynamo.client().put_item(
        TableName=put["TableName"], Item=put["Item"], ConditionExpression=put["ConditionExpression"]
    )


def put_new_action(attachment: Attachment) -> dict[str, Any]:
    """The pending attachment as a transaction action; its id is new, so it must not exist yet."""
    return {
        "Put": {
            "TableName": settings().main_table,
            "Item": dynamo.to_item(_new_item(attachment)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def get(attachment_id: str) -> Attachment | None:
    """The stored attachment, expired or not (the service decides)."""
    response = dynamo.client().get_item(
        TableName=settings().main_table, Key=item_key(attachment_id), ConsistentRead=True
    )
    item = response.get("Item")
    return attachment_from_item(dynamo.from_item(item)) if item else None


def get_many(attachment_ids: Iterable[str]) -> dict[str, Attachment]:
    """id → attachment for those stored: one consistent BatchGetItem per 100 ids (retrying unprocessed keys)."""
    ids = list(dict.fromkeys(attachment_ids))
    table = settings().main_table
    found: dict[str, Attachment] = {}
    for start in range(0, len(ids), 100):
        pending: dict[str, Any] = {
            table: {"Keys": [item_key(i) for i in ids[start : start + 100]], "ConsistentRead": True}
        }
        for _ in range(5):
            response = dynamo.client().batch_get_item(RequestItems=pending)
            for raw in response.get("Responses", {}).get(table, []):
                attachment = attachment_from_item(dynamo.from_item(raw))
                found[attachment.attachment_id] = attachment
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        if pending:
            raise RuntimeError("BatchGetItem left keys unprocessed after retries")
    return found


def attach_action(
    attachment_id: str,
    uploader: Uploader,
    *,
    case_id: str,
    message_id: str,
    now_iso: str,
    now_epoch: int,
    case_expires_at: int | None,
) -> dict[str, Any]:
    """Bind a checked, unattached, unexpired attachment of this uploader to a message. Its pending
    TTL goes: from now on it lives as long as the case (its expiry, when given, else until deleted)."""
    names = {"#status": "status"}
    vals: dict[str, Any] = {
        "case": case_id,
        "message": message_id,
        "now": now_iso,
        "nowEpoch": now_epoch,
        "checked": "checked",
        "kind": uploader.kind,
        "uploader": uploader.id,
    }
    expression = "SET caseId = :case, messageId = :message, attachedAt = :now"
    if case_expires_at is None:
        expression += " REMOVE expiresAt"
    else:
        expression += ", expiresAt = :caseExpiresAt"
        vals["caseExpiresAt"] = case_expires_at
    return {
        "Update": {
            "TableName": settings().main_table,
            "Key": item_key(attachment_id),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk) AND #status = :checked AND attribute_not_exists(messageId) "
            "AND uploaderKind = :kind AND uploaderId = :uploader "
            "AND (attribute_not_exists(expiresAt) OR expiresAt > :nowEpoch)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": dynamo.values(**vals),
        }
    }


def _update_if_pending(attachment_id: str, expression: str, names: dict[str, str], **vals: Any) -> bool:
    """Apply a verdict only while the attachment is still pending; False when someone decided first."""
    try:
        dynamo.client().update_item(
            TableName=settings().main_table,
            Key=item_key(attachment_id),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk) AND #status = :pending",
            ExpressionAttributeNames={"#status": "status", **names},
            ExpressionAttributeValues=dynamo.values(pending="pending", **vals),
        )
    except Exception as error:
        if dynamo.is_condition_failure(error):
            return False
        raise
    return True


def mark_checked(attachment_id: str, *, size: int, content_type: str, object_key: str, now_iso: str) -> bool:
    return _update_if_pending(
        attachment_id,
        "SET #status = :checked, #size = :size, contentType = :type, objectKey = :key, checkedAt = :now",
        {"#size": "size"},
        checked="checked",
        size=size,
        type=content_type,
        key=object_key,
        now=now_iso,
    )


def mark_rejected(attachment_id: str, *, reason: str, now_iso: str) -> bool:
    return _update_if_pending(
        attachment_id,
        "SET #status = :rejected, rejectReason = :reason, checkedAt = :now",
        {},
        rejected="rejected",
        reason=reason,
        now=now_iso,
    )


def delete_item_of_case(attachment_id: str, case_id: str) -> bool:
    """Delete the attachment only if it belongs to `case_id`; False when it does not (or is gone)."""
    try:
        dynamo.client().delete_item(
            TableName=settings().main_table,
            Key=item_key(attachment_id),
            ConditionExpression="caseId = :case",
            ExpressionAttributeValues=dynamo.values(case=case_id),
        )
    except Exception as error:
        if dynamo.is_condition_failure(error):
            return False
        raise
    return True


# ------------------------------------------------------------------ S3


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
    post = s3().generate_presigned_post(
        Bucket=bucket(),
        Key=object_key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_size]],
        ExpiresIn=expires_s,
    )
    return {"url": post["url"], "fields": dict(post["fields"])}


def presigned_get(object_key: str, *, content_type: str, content_disposition: str, expires_s: int) -> str:
    return s3().generate_presigned_url(
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
        response = s3().head_object(Bucket=bucket(), Key=object_key)
    except Exception as error:
        if _error_code(error) in _MISSING:
            return None
        raise
    return StoredObject(size=int(response["ContentLength"]), etag=response["ETag"])


def read_start(object_key: str, etag: str, length: int) -> bytes | None:
    """The first `length` bytes of exactly the object version with `etag`; None when it is gone or
    was replaced meanwhile (the newer upload gets its own event)."""
    try:
        response = s3().get_object(Bucket=bucket(), Key=object_key, Range=f"bytes=0-{length - 1}", IfMatch=etag)
    except Exception as error:
        if _error_code(error) in _MISSING | _CHANGED:
            return None
        raise
    with response["Body"] as body:
        return body.read(length)


def copy(source_key: str, target_key: str, *, etag: str, content_type: str) -> bool:
    """Server-side copy of exactly the object that was checked (`etag`), with the checked type."""
    try:
        s3().copy_object(
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
    s3().delete_object(Bucket=bucket(), Key=object_key)


def delete_objects(object_keys: Iterable[str]) -> None:
    keys = list(dict.fromkeys(object_keys))
    for start in range(0, len(keys), 1000):
        response = s3().delete_objects(
            Bucket=bucket(),
            Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True},
        )
        if response.get("Errors"):
            codes = sorted({str(e.get("Code")) for e in response["Errors"]})
            raise RuntimeError(f"S3 could not delete {len(response['Errors'])} objects: {', '.join(codes)}")
