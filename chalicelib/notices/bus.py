"""The bookings bus (EventBridge): what the booking systems hear back from us. Details carry ids only."""

from __future__ import annotations

import json

from chalicelib.core.clients import provider
from chalicelib.core.config import settings

SOURCE = "e-services.notices"


class NotPublished(Exception):
    """EventBridge refused the entry: the caller keeps the work due and tries again later."""


def publish(detail_type: str, detail: dict[str, str]) -> None:
    answer = provider("events").put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": settings().bookings_bus,
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        raise NotPublished(answer["Entries"][0].get("ErrorCode", "unknown"))
