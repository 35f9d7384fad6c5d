"""Appointment notices on the local stack (issue 9, "Must show"): a PASiS booking at 14:00 reaches the
inbox at 18:00 and not at 17:59, with one SMS in R-11's words; replays, a cancellation and a rebooking
before release, and a cancellation after it. The stack runs on the dev CLI's clock; `invoke
release_notices` fans the release out over the release queue, which the pump feeds to the workers.

Leo is the person here: items dated 2027 stay the newest in his inbox only (test_b uses him too)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from local.pump import schedule_event
from tests.e2e.test_d_notifications import SMS_TEXT
from tests.integration.case_helpers import CLINIC
from tests.support import at, pnr, until

MOBILE = "+46701740698"  # PTS's range for fiction, used by this test only
DAY = "2027-01-12"  # winter: 18:00 in Stockholm is 17:00 UTC


def test_a_booking_at_14_is_in_the_inbox_at_18_with_one_sms_and_changes_follow(http: Any) -> None:
    run = uuid.uuid4().hex[:8]
    ids = {name: f"E2E-{run}-{name}" for name in ("notice", "cancelled", "rebooked")}

    def at_local(hhmm: str) -> str:
        """Moves the stack's clock; a new login, since sessions end by the moved clock too."""
        http.cli("clock", "set", f"{DAY}T{hhmm}:00+01:00")
        return http.token_for(pnr("Leo"))

    def book(name: str, booked_utc: str, status: str = "booked", starts: str = "2027-01-20T08:00:00Z") -> Any:
        body = {
            "system": "PASiS",
            "bookingId": ids[name],
            "personnummer": pnr("Leo"),
            "clinicId": CLINIC,
            "startsAt": starts,
            "bookedAt": f"{DAY}T{booked_utc}:00Z",
            "status": status,
            "notice": {"subject": "Kallelse", "body": f"Välkommen {starts[:10]}.", "place": "Entré B"},
        }
        machine = http.cli("machine-token", "--client", "pasis-e2e", "--scope", "bookings:write").strip()
        return http.call("POST", "/integrations/bookings", body, token=machine)

    def notices(token: str) -> list[dict[str, Any]]:
        page = http.call("GET", "/citizens/me/inbox", token=token)
        assert page.status_code == 200, page.text
        return [i for i in page.json()["items"] if i["kind"] == "notice"]

    def my_sms() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in http.cli("outbox").splitlines() if line.strip()]
        return [m for m in lines if m["channel"] == "sms" and m["to"] == MOBILE]

    try:
        leo = at_local("14:00")
        settings = {"mobile": MOBILE, "notifyBySms": True, "shareContactDetails": True, "digitalOnly": True}
        changed = http.call("PATCH", "/citizens/me/settings", settings, token=leo)
        assert changed.status_code == 200, changed.text

        answers = [book("notice", "13:00") for _ in range(3)]  # the same event three times
        assert [a.status_code for a in answers] == [202] * 3, answers[0].text
        first = answers[0].json()
        assert first["paperNotice"] is False and first["paperReason"] is None
        assert first["releaseAt"] == f"{DAY}T17:00:00.000Z" and first["state"] == "pending"
        assert all(a.json() == first for a in answers)
        assert book("cancelled", "13:00").status_code == 202
        assert book("rebooked", "13:00").status_code == 202

        leo = at_local("17:00")
        assert book("rebooked", "15:00", "rebooked", starts="2027-01-27T09:30:00Z").status_code == 202  # at 16:00
        assert book("cancelled", "16:00", "cancelled").status_code == 202  # at 17:00

        leo = at_local("17:59")
        http.cli("invoke", "release_notices", event=schedule_event("release_notices", at(f"{DAY}T16:59:00Z")))
        time.sleep(3)
        assert notices(leo) == []

        leo = at_local("18:00")
        http.cli("invoke", "release_notices", event=schedule_event("release_notices", at(f"{DAY}T17:00:00Z")))
        released = until(lambda: len(found := notices(leo)) >= 2 and found)
        assert released and len(released) == 2, released
        views = {i["id"]: http.call("GET", f"/citizens/me/inbox/{i['id']}", token=leo).json() for i in released}
        starts = sorted(v["notice"]["startsAt"] for v in views.values())
        assert starts == ["2027-01-20T08:00:00.000Z", "2027-01-27T09:30:00.000Z"]  # the rebooking's final time
        assert all(v["notice"]["place"] == "Entré B" and v["from"] for v in views.values())

        machine = http.cli("machine-token", "--client", "pasis-e2e", "--scope", "bookings:write").strip()
        state = http.call("GET", f"/integrations/bookings/PASiS/{ids['notice']}", token=machine).json()
        assert state["state"] == "released" and state["read"] is True  # Leo opened it above
        cancelled = http.call("GET", f"/integrations/bookings/PASiS/{ids['cancelled']}", token=machine).json()
        assert cancelled["state"] == "cancelled"

        sms = until(lambda: len(found := my_sms()) >= 2 and found)
        assert sms and [m["body"] for m in sms] == [SMS_TEXT, SMS_TEXT]  # one per notice, R-11's words

        leo = at_local("19:00")
        assert book("notice", "18:00", "cancelled").status_code == 202  # after release
        told = until(lambda: len(found := notices(leo)) >= 3 and found)
        assert told and len(told) == 3
        message = http.call("GET", f"/citizens/me/inbox/{told[0]['id']}", token=leo).json()
        assert message["subject"].startswith("Avbokad tid") and message["notice"]["change"] == "cancelled"
        assert len(until(lambda: len(found := my_sms()) >= 3 and found)) == 3
        time.sleep(2)
        assert len(my_sms()) == 3  # nothing doubled
    finally:
        http.cli("clock", "reset")
