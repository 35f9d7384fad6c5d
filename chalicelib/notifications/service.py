"""Notifications (R-11, R-12): something arrived in the inbox → an SMS and/or e-mail without content.

The rules; the batch work of the queue consumer is in `sender.py`, the reconciler in `sweeper.py`.

- `arrival(record)`: which main-table stream records are a new arrival for the citizen (an inbox item
  inserted with an `arrivalId`, or modified to a new one; what the citizen wrote gets no arrival id).
- who is notified: `refusal` (the account), `guardian_may_act`, and the settings' targets; one
  notification per (recipient, channel) with a deterministic id (`models.notification_id`).
- `deliver`: the provider call; `provider_error` tells transient errors (retry through the queue) from
  permanent input errors (a technical failure, recorded on the settings).
- `feedback`: delivery reports (SES events, SMS delivery status logs) move the notification on and are
  recorded on the citizen's settings (R-12: surface failed deliveries).

Locked or inactivated accounts get no notification: a locked citizen cannot log in to read the message
("kan därmed inte ta emot digitala meddelanden"), so the notification would only point at a locked door;
an inactivated account (the citizen died, or was inactivated) has nobody to notify.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.arrivals import due
from chalicelib.core.clock import Clock, epoch_seconds, iso
from chalicelib.core.config import settings
from chalicelib.core.observability import logger
from chalicelib.notifications import repository, text
from chalicelib.notifications.models import Notification, notification_id

if TYPE_CHECKING:
    from types import ModuleType

    from chalicelib.accounts.models import Account

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


GUARDIAN = "guardian:"
# A claimed notification belongs to its sender this long: longer than send_notifications' timeout
# (30 s), so no second sender takes it up while the first may still be calling the provider, and
# shorter than the queue's visibility timeout (60 s), so the redelivery after a crash may.
LEASE = timedelta(seconds=45)
_SENDING_ONLY = frozenset({"leaseUntil", "gsi4pk", "gsi4sk", "sweeps"})
# Delivery feedback for a provider message id we do not know yet: within this age, the feedback may
# have overtaken the write of the provider id (or the index is behind), so the function fails and
# Lambda's asynchronous retries (after ~1 and ~3 minutes) bring it back; older, it is not ours.
FEEDBACK_GRACE = timedelta(minutes=10)


class TransientProviderError(Exception):
    """The provider asked us to come back later: the queue redelivers the message."""


class FeedbackTooEarly(Exception):
    """Delivery feedback for a message id not stored yet: fail, so that Lambda delivers it again."""


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


def refusal(account: Account | None) -> str | None:
    """Why the account gets no notification, or None."""
    if account is None:
        return "no-account"
    if account.locked:
        return "account-locked"
    if not account.active:
        return "account-inactive"
    return None


def guardian_may_act(child: Account, guardian: Account | None, clock: Clock) -> bool:
    """A guardian target is notified only while the guardian may still act for the child: `guardians`
    decides (R-31, R-32, R-33)."""
    from chalicelib.guardians import service as guardians
    from chalicelib.population.port import population_register

    return guardians.may_act_for(guardian, child, register=population_register(), clock=clock)


def guardian_id(recipient: str) -> str | None:
    return recipient.removeprefix(GUARDIAN) if recipient.startswith(GUARDIAN) else None


def new_notification(
    citizen_id: str, item_id: str, arrival_id: str, target: tuple[str, str], *, now: datetime
) -> dict[str, Any]:
    """A notification claimed for sending: `sending`, leased to its sender, due for the sweeper."""
    recipient, channel = target
    nid = notification_id(item_id, arrival_id, recipient, channel)
    return {
        "notificationId": nid,
        "citizenId": citizen_id,
        "recipient": recipient,
        "channel": channel,
        "status": "sending",
        "itemId": item_id,
        "arrivalId": arrival_id,
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "expiresAt": epoch_seconds(now) + NOTIFICATION_TTL_S,
        "leaseUntil": iso(now + LEASE),
        **due.marker(nid, now + due.BOUND),
    }


def final(item: dict[str, Any], status: str, now: datetime, **values: Any) -> dict[str, Any]:
    """The whole item once its sender is done with it: no lease, no due marker."""
    kept = {k: v for k, v in item.items() if k not in _SENDING_ONLY}
    return {**kept, "status": status, "updatedAt": iso(now), **{k: v for k, v in values.items() if v is not None}}


def sent_values(provider_message_id: str, now: datetime) -> dict[str, str]:
    return {
        "providerMessageId": provider_message_id,
        "sentAt": iso(now),
        "gsi1pk": f"PROVIDERMSG#{provider_message_id}",
        "gsi1sk": repository.SORT_KEY,
    }


# ---------------------------------------------------------------- the provider call


def deliver(channel: str, contact: str) -> str:
    """Hands the message to the provider; returns the provider's message id."""
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
    config = settings()
    request: dict[str, Any] = {
        "Source": config.notification_from_email or text.DEFAULT_FROM_EMAIL,
        "Destination": {"ToAddresses": [contact]},
        "Message": {
            "Subject": {"Data": text.EMAIL_SUBJECT, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text.EMAIL_BODY, "Charset": "UTF-8"}},
        },
    }
    if config.ses_configuration_set:
        request["ConfigurationSetName"] = config.ses_configuration_set
    return str(repository.ses().send_email(**request)["MessageId"])


def provider_error(error: Exception) -> tuple[str, str] | None:
    """("transient" | "permanent", code) for a provider error we know how to handle, else None."""
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return None
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code in TRANSIENT_ERRORS:
        return "transient", code
    if code in PERMANENT_ERRORS:
        return "permanent", code
    return None


def record(item: dict[str, Any], status: str, at: datetime) -> None:
    """The delivery outcome on the citizen's settings (R-12)."""
    settings_port().record_delivery(
        item["citizenId"],
        item["recipient"],
        item["channel"],
        status=status,
        at=at,
        notification_id=item["notificationId"],
    )


# ---------------------------------------------------------------- delivery feedback

_RANK = {"sending": 0, "delivered": 1, "temporary-failure": 2, "permanent-failure": 3}


class Outcome(NamedTuple):
    """What a delivery report says: the provider's message id, our status, why, and when the provider
    took the message (None if the report does not say)."""

    provider_message_id: str
    status: str
    reason: str | None
    sent_at: datetime | None = None


def feedback(outcome: Outcome, *, clock: Clock) -> bool:
    """Moves the notification the provider's message id belongs to; False if it is not ours. Raises
    FeedbackTooEarly for a recent message id not (yet) known: the report overtook our write."""
    raw = repository.by_provider_message(outcome.provider_message_id)
    now = clock()
    if raw is None:
        if outcome.sent_at is not None and now - outcome.sent_at < FEEDBACK_GRACE:
            raise FeedbackTooEarly(outcome.provider_message_id)
        return False
    notification = Notification.from_item(raw)
    if _RANK.get(notification.status, 0) > _RANK[outcome.status]:
        return True  # e.g. a late "delivered" after a permanent bounce: the bounce stands
    repository.set_status(notification.notification_id, outcome.status, iso(now), reason=outcome.reason)
    record(raw, outcome.status, now)
    logger.info("delivery reported", extra={"notificationId": notification.notification_id, "status": outcome.status})
    return True


def _instant(raw: Any) -> datetime | None:
    """A report's timestamp (SES: ISO 8601 with Z; SMS logs: "YYYY-MM-DD HH:MM:SS.mmm", UTC)."""
    from datetime import UTC

    if not isinstance(raw, str) or not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def ses_outcome(event: dict[str, Any]) -> Outcome | None:
    """The outcome in an SES event (configuration set event destination or identity notification, both
    delivered through SNS)."""
    kind = event.get("eventType") or event.get("notificationType")
    mail = event.get("mail", {})
    message_id = mail.get("messageId")
    if not message_id:
        return None
    sent_at = _instant(mail.get("timestamp"))
    if kind == "Delivery":
        return Outcome(message_id, "delivered", None, sent_at)
    if kind == "Bounce":
        bounce_type = event.get("bounce", {}).get("bounceType")
        status = "permanent-failure" if bounce_type == "Permanent" else "temporary-failure"
        return Outcome(message_id, status, f"bounce-{str(bounce_type).lower()}", sent_at)
    if kind == "Complaint":
        return Outcome(message_id, "permanent-failure", "complaint", sent_at)
    if kind in {"Reject", "Rendering Failure"}:
        return Outcome(message_id, "permanent-failure", kind.lower().replace(" ", "-"), sent_at)
    return None


def sms_outcome(log_message: dict[str, Any]) -> Outcome | None:
    """The outcome in an SNS SMS delivery status log line."""
    notification = log_message.get("notification", {})
    message_id = notification.get("messageId")
    status = log_message.get("status")
    if not message_id or status not in {"SUCCESS", "FAILURE"}:
        return None
    sent_at = _instant(notification.get("timestamp"))
    if status == "SUCCESS":
        return Outcome(message_id, "delivered", None, sent_at)
    response = str(log_message.get("delivery", {}).get("providerResponse", "")).lower()
    permanent = any(marker in response for marker in PERMANENT_SMS_RESPONSES)
    return Outcome(message_id, "permanent-failure" if permanent else "temporary-failure", "sms-failure", sent_at)
