"""A notification: one message on one channel to one recipient about one inbox arrival.

Statuses (notifications-api's discipline): sending → delivered | temporary-failure | permanent-failure |
technical-failure; `cancelled` when a notification taken up again had nothing to send to any more (no
contact detail, or the account locked/inactivated since). A notification is created `sending`, by the
transaction that claims its arrival; `created` is only found on items written by earlier versions
(send_notifications takes those up like stuck ones).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

Channel = Literal["sms", "email"]
Status = Literal[
    "created", "sending", "delivered", "temporary-failure", "permanent-failure", "technical-failure", "cancelled"
]
FINAL: frozenset[str] = frozenset(
    {"delivered", "temporary-failure", "permanent-failure", "technical-failure", "cancelled"}
)
_IDS = uuid.UUID("5b0f6a4e-8f2d-4c1e-9a57-2f6c1b7d0e11")


def notification_id(item_id: str, arrival_id: str, recipient: str, channel: str) -> str:
    """Deterministic: the same arrival, recipient and channel always give the same notification."""
    return str(uuid.uuid5(_IDS, f"{item_id}|{arrival_id}|{recipient}|{channel}"))


@dataclass(frozen=True)
class Notification:
    notification_id: str
    citizen_id: str
    recipient: str  # "self" | "guardian:<cid>"
    channel: Channel
    status: str
    item_id: str
    arrival_id: str
    created_at: str
    provider_message_id: str | None = None
    sent_at: str | None = None
    reason: str | None = None

    @classmethod
    def from_item(cls, raw: dict[str, Any]) -> Notification:
        return cls(
            notification_id=raw["notificationId"],
            citizen_id=raw["citizenId"],
            recipient=raw["recipient"],
            channel=raw["channel"],
            status=raw["status"],
            item_id=raw["itemId"],
            arrival_id=raw["arrivalId"],
            created_at=raw["createdAt"],
            provider_message_id=raw.get("providerMessageId"),
            sent_at=raw.get("sentAt"),
            reason=raw.get("reason"),
        )
