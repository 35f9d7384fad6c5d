"""Booking events and releases for the notice tests (issue 9)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tests.integration.case_helpers import CLINIC
from tests.support import at, pnr

WINTER_DAY = "2027-01-12"  # a Tuesday; Stockholm is UTC+1, so 18:00 there is 17:00 UTC
VISIT = "2027-01-20T08:00:00Z"


def event(booking_id: str = "B-1", person: str = "Sara", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "system": "PASiS",
        "bookingId": booking_id,
        "personnummer": pnr(person),
        "clinicId": CLINIC,
        "startsAt": VISIT,
        "bookedAt": f"{WINTER_DAY}T13:00:00Z",
        "status": "booked",
        "notice": {
            "subject": "Kallelse till mottagningsbesök",
            "body": "Välkommen till ditt besök. Ta med legitimation.",
            "place": "Vårdcentralen Centrum, plan 2",
        },
    }
    body.update(overrides)
    return body


def receive(body: dict[str, Any], now: str, stores: Any = None) -> dict[str, Any]:
    """The intake as the route and the queue consumer call it, on a fixed clock."""
    from chalicelib.core.clock import fixed_clock
    from chalicelib.core.http import validate
    from chalicelib.notices import schemas, service

    booking = validate(schemas.BookingEvent, body).to_booking()
    if stores is None:
        return service.receive(booking, clock=fixed_clock(at(now)))
    return service.receive(booking, clock=fixed_clock(at(now)), stores=stores)


def release_all(due_by: str, **kwargs: Any) -> dict[str, int]:
    """Every shard's due notices, as the release workers would."""
    from chalicelib.core.clock import fixed_clock
    from chalicelib.notices import release

    totals = {"released": 0, "skipped": 0, "read": 0}
    for shard in range(release.SHARDS):
        run = release.release_due(shard, at(due_by), clock=fixed_clock(at(due_by)), **kwargs)
        totals["released"] += run.released
        totals["skipped"] += run.skipped
        totals["read"] += run.read
    return totals


def citizen_id(person: str) -> str:
    from chalicelib.accounts import service as accounts

    account = accounts.find_by_personnummer(pnr(person))
    assert account is not None
    return account.citizen_id


def notices_in_inbox(person: str) -> list[dict[str, Any]]:
    from chalicelib.arrivals import service as arrivals
    from chalicelib.inbox import service as inbox

    found = [i for i in inbox.items(citizen_id(person)) if i["kind"] == "notice"]
    return [arrivals.get_item(citizen_id(person), i["id"]) or {} for i in found]


@dataclass
class RecordingBus:
    """The bookings bus, recorded (the published details)."""

    published: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: dict[str, str]) -> None:
        self.published.append((detail_type, detail))


def stores_with(**changes: Any) -> Any:
    from chalicelib.notices.ports import STORES

    return replace(STORES, **changes)
