"""Keys and DynamoDB calls for attachments (the bucket is `storage.py`).

Main table:
  ATTACHMENT#<id> / ATTACHMENT → the attachment; `expiresAt` (TTL) while it is not bound to a message;
                                `metadataRemoved` once checked (what the content check took out of a photo)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from chalicelib.attachments.models import ID_PATTERN, Attachment, Uploader
from chalicelib.core import dynamo
from chalicelib.core.config import settings

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork

ITEM_SK = "ATTACHMENT"


def is_attachment_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


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
        metadata_removed=tuple(str(kind) for kind in item.get("metadataRemoved") or ()),
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


def add_new(uow: UnitOfWork, attachment: Attachment) -> None:
    """The pending attachment in a unit of work (with its Idempotency-Key guard)."""
    uow.add(put_new_action(attachment))


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
    """id → attachment for those stored: consistent BatchGetItems (`core.dynamo.batch_get`: none dropped)."""
    table = settings().main_table
    found = dynamo.batch_get((table, item_key(i)) for i in dict.fromkeys(attachment_ids))
    attachments = (attachment_from_item(item) for item in found.values())
    return {a.attachment_id: a for a in attachments}


def attach(
    uow: UnitOfWork,
    attachment_id: str,
    uploader: Uploader,
    *,
    case_id: str,
    message_id: str,
    now_iso: str,
    now_epoch: int,
    case_expires_at: int | None,
) -> None:
    """Binds the attachment to a message in the caller's unit of work (see `attach_action`)."""
    uow.add(
        attach_action(
            attachment_id,
            uploader,
            case_id=case_id,
            message_id=message_id,
            now_iso=now_iso,
            now_epoch=now_epoch,
            case_expires_at=case_expires_at,
        )
    )


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


def mark_checked(
    attachment_id: str,
    *,
    size: int,
    content_type: str,
    object_key: str,
    now_iso: str,
    metadata_removed: tuple[str, ...] = (),
) -> bool:
    return _update_if_pending(
        attachment_id,
        "SET #status = :checked, #size = :size, contentType = :type, objectKey = :key, checkedAt = :now, "
        "metadataRemoved = :removed",
        {"#size": "size"},
        checked="checked",
        size=size,
        type=content_type,
        key=object_key,
        now=now_iso,
        removed=list(metadata_removed),
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
