"""Notifications (R-11, R-12): something arrived in the inbox → an SMS and/or e-mail without content.

- `arrival(record)`: which main-table stream records are a new arrival for the citizen (an inbox item
  inserted with an `arrivalId`, or modified to a new one; what the citizen wrote gets no arrival id).
- `notify_arrival`: one notification per (recipient, channel) the citizen's settings ask for, with a
  deterministic id, so a redelivered stream record creates nothing new; each is queued by id only.
- `send`: the queue consumer's work for one notification. The contact detail is read at send time
  (never stored on the notification or the message); the provider's message id is stored as soon as
  the provider accepted the message, so a retry after a crash sees it and sends nothing again.
- `feedback`: delivery reports (SES events, SMS delivery status logs) move the notification on and are
  recorded on the citizen's settings (R-12: surface failed deliveries).

Locked or inactivated accounts get no notification: a locked citizen cannot log in to read the message
("kan därmed inte ta emot digitala meddelanden"), so the notification would only point at a locked door;
an inactivated account (the citizen died, or was inactivated) has nobody to notify.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.core.clock import Clock, epoch_seconds, iso
from chalicelib.core.observability import logger
from chalicelib.notifications import repository, text
from chalicelib.notifications.models import FINAL, Notification, notification_id

if TYPE_CHECKING:
    from types import ModuleType

# Provider error codes. Transient ones are retried through the queue (then the DLQ); permanent input
# errors end the notification as a technical failure: sending again would fail the same way.
TRANSIENT_ERRORS = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
    }
)
PERMANENT_ERRORS = frozenset({"InvalidParameter", "InvalidParameterValue", "MessageRejected"})
NOTIFICATION_TTL_S = 400 * 24 * 3600  # kept a little over a year for support questions, then gone
# SMS delivery status (SNS delivery logs, `delivery.providerResponse`) that will not get better by retrying.
PERMANENT_SMS_RESPONSES = (
    "invalid",
    "unreachable",
    "unknown",
    "blocked",
    "opted out",
    "not supported",
    "deactivated",
)


class TransientProviderError(Exception):
    """The provider asked us to come back later: the queue redelivers the message."""


def settings_port() -> ModuleType:
    """The citizen's notification settings (chalicelib/settings); tests replace this."""
    from chalicelib.settings import service

    return service


# ---------------------------------------------------------------- arrivals (stream)


def arrival(record: dict[str, Any]) -> tuple[str, str, str] | None:
    """(citizen id, item id, arrival id) if the stream record is a new arrival in an inbox."""
    name = record.get("eventName")
    if name not in {"INSERT", "MODIFY"}:
        return None
    change = record.get("dynamodb", {})
    keys = change.get("Keys", {})
    pk = keys.get("pk", {}).get("S", "")
    sk = keys.get("sk", {}).get("S", "")
    if not pk.startswith("CITIZEN#") or not sk.startswith("INBOX#"):
        return None
    new_arrival = change.get("NewImage", {}).get("arrivalId", {}).get("S")
    if not new_arrival:
        return None
    if name == "MODIFY" and change.get("OldImage", {}).get("arrivalId", {}).get("S") == new_arrival:
        return None  # read, moved, closed: nothing new arrived
    return pk.removeprefix("CITIZEN#"), sk.removeprefix("INBOX#"), new_arrival


def _account_refusal(citizen_id: str) -> str | None:
    from chalicelib.accounts import service as accounts

    account = accounts.get(citizen_id)
    if account is None:
        return "no-account"
    if account.locked:
        return "account-locked"
    if not account.active:
        return "account-inactive"
    return None


def _guardian_may_act(child_id: str, recipient: str, clock: Clock) -> bool:
    """A guardian target is notified only while the guardian may still act for the child (R-31, R-32,
    R-33): the register decides (custody, age under 13, no protected identity), and the guardian's own
    account must be open."""
    from chalicelib.accounts import service as accounts
    from chalicelib.guardians.service import proxy_eligible
    from chalicelib.population.port import population_register

    guardian_id = recipient.removeprefix("guardian:")
    child, guardian = accounts.get(child_id), accounts.get(guardian_id)
    if child is None or guardian is None or guardian.locked or not guardian.active:
        return False
    register = population_register()
    child_person, guardian_person = register.find(child.personnummer), register.find(guardian.personnummer)
    if child_person is None or guardian_person is None:
        return False
    return proxy_eligible(guardian_person, child_person, clock)


def notify_arrival(citizen_id: str, item_id: str, arrival_id: str, *, clock: Clock) -> list[str]:
    """Creates and queues the arrival's notifications; returns the ids queued."""
    refusal = _account_refusal(citizen_id)
    if refusal:
        logger.info("no notification", extra={"reason": refusal, "itemId": item_id})
        return []
    now = clock()
    queued = []
    for recipient, channel in settings_port().notification_targets(citizen_id):
        if recipient != "self" and not _guardian_may_act(citizen_id, recipient, clock):
            logger.info("no notification", extra={"reason": "guardian-may-not-act", "itemId": item_id})
            continue
        nid = notification_id(item_id, arrival_id, recipient, channel)
        created = repository.create(
            {
                "notificationId": nid,
                "citizenId": citizen_id,
                "recipient": recipient,
                "channel": channel,
                "status": "created",
                "itemId": item_id,
                "arrivalId": arrival_id,
                "createdAt": iso(now),
                "updatedAt": iso(now),
                "expiresAt": epoch_seconds(now) + NOTIFICATION_TTL_S,
            }
        )
        if not created:
            existing = repository.get(nid)
            if existing is None or existing["status"] != "created":
                continue  # already on its way or done: a redelivered record sends nothing new
            # Created but perhaps never queued (the queue call failed last time): queue it again;
            # the sender is idempotent per notification.
        queued.append(nid)
    if queued:
        repository.enqueue(queued)
    logger.info("notifications queued", extra={"itemId": item_id, "count": len(queued)})
    return queued


# ---------------------------------------------------------------- sending (queue)


def _deliver(channel: str, contact: str) -> str:
    """Hands the message to the provider; returns the provider's message id."""
    import os

    if channel == "sms":
        response = repository.sns().publish(
            PhoneNumber=contact,
            Message=text.SMS_TEXT,
            MessageAttributes={
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": text.SMS_SENDER_ID},
            },
        )
        return str(response["MessageId"])
    request: dict[str, Any] = {
        "Source": os.environ.get("NOTIFICATION_FROM_EMAIL") or text.DEFAULT_FROM_EMAIL,
        "Destination": {"ToAddresses": [contact]},
        "Message": {
            "Subject": {"Data": text.EMAIL_SUBJECT, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text.EMAIL_BODY, "Charset": "UTF-8"}},
        },
    }
    if os.environ.get("SES_CONFIGURATION_SET"):
        request["ConfigurationSetName"] = os.environ["SES_CONFIGURATION_SET"]
    return str(repository.ses().send_email(**request)["MessageId"])


def _record(notification: Notification, status: str, at: datetime) -> None:
    settings_port().record_delivery(
        notification.citizen_id,
        notification.recipient,
        notification.channel,
        status=status,
        at=at,
        notification_id=notification.notification_id,
    )


def send(nid: str, *, clock: Clock) -> str:
    """Sends one notification at most once; returns what happened (ids and outcomes only)."""
    from botocore.exceptions import ClientError

    raw = repository.get(nid)
    if raw is None:
        return "unknown"
    notification = Notification.from_item(raw)
    if notification.status in FINAL or notification.provider_message_id:
        return f"already-{notification.status}"
    now = clock()
    at = iso(now)
    refusal = _account_refusal(notification.citizen_id)
    contact = (
        None
        if refusal
        else settings_port().contact_for(notification.citizen_id, notification.recipient, notification.channel)
    )
    if refusal or not contact:
        repository.set_status(nid, "cancelled", at, reason=refusal or "no-contact")
        return "cancelled"
    if not repository.claim(nid, at):
        return "claimed"
    try:
        message_id = _deliver(notification.channel, contact)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in TRANSIENT_ERRORS:
            logger.warning("provider asked to retry", extra={"notificationId": nid, "code": code})
            raise TransientProviderError(code) from None
        if code in PERMANENT_ERRORS:
            logger.warning("provider refused", extra={"notificationId": nid, "code": code})
            repository.set_status(nid, "technical-failure", at, reason=code)
            _record(notification, "technical-failure", now)
            return "technical-failure"
        raise
    repository.sent(nid, message_id, at)  # first thing after the provider accepted it
    return "sent"


# ---------------------------------------------------------------- delivery feedback

_RANK = {"sending": 0, "delivered": 1, "temporary-failure": 2, "permanent-failure": 3}


def feedback(provider_message_id: str, status: str, *, clock: Clock, reason: str | None = None) -> bool:
    """Moves the notification the provider's message id belongs to; False if it is not ours."""
    raw = repository.by_provider_message(provider_message_id)
    if raw is None:
        return False
    notification = Notification.from_item(raw)
    if _RANK.get(notification.status, 0) > _RANK[status]:
        return True  # e.g. a late "delivered" after a permanent bounce: the bounce stands
    now = clock()
    repository.set_status(notification.notification_id, status, iso(now), reason=reason)
    _record(notification, status, now)
    logger.info("delivery reported", extra={"notificationId": notification.notification_id, "status": status})
    return True


def ses_outcome(event: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(provider message id, status, reason) from an SES event (configuration set event destination or
    identity notification, both delivered through SNS)."""
    kind = event.get("eventType") or event.get("notificationType")
    message_id = event.get("mail", {}).get("messageId")
    if not message_id:
        return None
    if kind == "Delivery":
        return message_id, "delivered", None
    if kind == "Bounce":
        bounce_type = event.get("bounce", {}).get("bounceType")
        status = "permanent-failure" if bounce_type == "Permanent" else "temporary-failure"
        return message_id, status, f"bounce-{str(bounce_type).lower()}"
    if kind == "Complaint":
        return message_id, "permanent-failure", "complaint"
    if kind in {"Reject", "Rendering Failure"}:
        return message_id, "permanent-failure", kind.lower().replace(" ", "-")
    return None


def sms_outcome(log_message: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(provider message id, status, reason) from an SNS SMS delivery status log line."""
    message_id = log_message.get("notification", {}).get("messageId")
    status = log_message.get("status")
    if not message_id or status not in {"SUCCESS", "FAILURE"}:
        return None
    if status == "SUCCESS":
        return message_id, "delivered", None
    response = str(log_message.get("delivery", {}).get("providerResponse", "")).lower()
    permanent = any(marker in response for marker in PERMANENT_SMS_RESPONSES)
    return message_id, "permanent-failure" if permanent else "temporary-failure", "sms-failure"
