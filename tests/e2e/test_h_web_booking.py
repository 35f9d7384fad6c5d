"""Web booking on the local stack (issue 11, "Must show"), over HTTP against the running API and the
booking-system simulator (PASiS and PMO; its control endpoints under /sim/ set the scene and show what
the booking system holds). The simulator and the API both follow the dev CLI's clock.

Persons: Lars for the PASiS/PMO flow (his inbox gets items dated 2027; no later test uses him), Erik for
the lost answer, and adults added with `python -m local population add-synthetic` for the 20
concurrent bookers and the invitations (testdata has too few adults). Each test starts from an empty
simulator without faults, on real time, and puts the clock back in `finally`."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.e2e.test_d_notifications import SMS_TEXT
from tests.support import at, pnr, until

PASIS = "SE2321000016-2002"
PMO = "SE2321000016-1001"
MOBILE = "+46701740695"  # PTS's range for fiction, used by this test only
# Tuesday 9 February 2027, 10:00 in Stockholm (UTC+1): the PASiS/PMO flow's fixed clock
DAY_START = "2027-02-09T10:00:00+01:00"


# ------------------------------------------------------------------ helpers


def fresh(http: Any) -> None:
    """An empty simulator without faults, on real time."""
    http.cli("clock", "reset")
    assert sim(http, "POST", "/sim/reset") == {"ok": True}
    sim(http, "DELETE", "/sim/faults")


def sim(http: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A control call to the booking-system simulator (personnummer in bodies only, never URLs)."""
    answer = requests.request(method, http.env["BOOKING_SIMULATOR_URL"] + path, json=body or {}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def free_in_pasis(http: Any, slot_ids: list[str]) -> list[str]:
    """Of `slot_ids`, those PASiS offers as free to anyone (the contract call, as the adapter makes it)."""
    answer = requests.post(
        http.env["BOOKING_SIMULATOR_URL"] + "/pasis/GetAvailableTimeslots",
        json={"healthcareFacility": PASIS, "timeslotIds": slot_ids},
        headers={"Authorization": "Bearer local-pasis-key"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["resultCode"] == "OK", answer.text
    return sorted(s["timeslotId"] for s in answer.json()["timeslots"])


def held(http: Any, **search: str) -> list[dict[str, Any]]:
    """The simulator's bookings that are booked (not cancelled), by subjectOfCare / timeslotId."""
    return [b for b in sim(http, "POST", "/sim/bookings/search", search)["bookings"] if b["status"] == "booked"]


def care_booking(http: Any, personnummer: str, clinic: str, system: str, starts: datetime, **kw: Any) -> str:
    answer = sim(
        http,
        "POST",
        "/sim/bookings",
        {
            "system": system,
            "healthcareFacility": clinic,
            "subjectOfCare": personnummer,
            "startTime": starts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **kw,
        },
    )
    return str(answer["bookingId"])


def post(http: Any, path: str, body: Any, token: str, key: str | None = None) -> requests.Response:
    """A POST with an Idempotency-Key (the Http helper's `call` sends none)."""
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return http.session.post(http.base + path, json=body, headers=headers, timeout=30)


def code(response: requests.Response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("code")


def bookings(http: Any, token: str) -> list[dict[str, Any]]:
    listed = http.call("GET", "/citizens/me/bookings", token=token)
    assert listed.status_code == 200, listed.text
    assert listed.json()["unavailableSystems"] == []
    return list(listed.json()["items"])


def inbox(http: Any, token: str, kind: str) -> list[dict[str, Any]]:
    page = http.call("GET", "/citizens/me/inbox", token=token)
    assert page.status_code == 200, page.text
    return [i for i in page.json()["items"] if i["kind"] == kind]


def pasis_slots(http: Any, token: str) -> list[dict[str, Any]]:
    found = http.call("GET", f"/clinics/{PASIS}/slots?caseTypeId=boka-tid-direkt", token=token)
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


def synthetic_adults(http: Any, count: int) -> list[str]:
    numbers = http.cli("population", "add-synthetic", str(count)).split()
    assert len(numbers) == len(set(numbers)) == count
    return list(numbers)


def stack_now(http: Any) -> datetime:
    return datetime.fromisoformat(json.loads(http.cli("clock", "show"))["now"])


def zulu(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ R-45, R-45a: list, book, cancel, rebook, hidden


def test_a_pasis_and_pmo_list_book_cancel_rebook_and_hide(http: Any) -> None:
    fresh(http)
    lars = pnr("Lars")

    def my_sms() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in http.cli("outbox").splitlines() if line.strip()]
        return [m for m in lines if m["channel"] == "sms" and m["to"] == MOBILE]

    try:
        # Tuesday 10:00: PASiS books from tomorrow, PMO today; a new login, as sessions follow the clock
        http.cli("clock", "set", DAY_START)
        start = at("2027-02-09T09:00:00Z")
        token = http.token_for(lars)
        settings = {"mobile": MOBILE, "notifyBySms": True}
        changed = http.call("PATCH", "/citizens/me/settings", settings, token=token)
        assert changed.status_code == 200, changed.text

        # Lists PASiS times: from tomorrow on, the first two of each day not bookable online
        offered = pasis_slots(http, token)
        assert offered and all(at(s["startsAt"]) >= at("2027-02-09T23:00:00Z") for s in offered)
        assert offered[0]["startsAt"] == "2027-02-10T08:00:00.000Z"  # 09:00; 08:00 and 08:30 are not online
        slot = offered[0]["slotId"]

        # Books one: in PASiS, a message in the inbox, one SMS in R-11's words
        booked = post(
            http,
            "/citizens/me/bookings",
            {"clinicId": PASIS, "caseTypeId": "boka-tid-direkt", "slotId": slot},
            token,
            "h-a-book",
        )
        assert booked.status_code == 201, booked.text
        booking_id = booked.json()["bookingId"]
        assert [(b["bookingId"], b["timeslot"]["timeslotId"]) for b in held(http, subjectOfCare=lars)] == [
            (booking_id, slot)
        ]
        assert slot not in [s["slotId"] for s in pasis_slots(http, token)]
        messages = inbox(http, token, "booking")
        assert len(messages) == 1 and messages[0]["subject"].startswith("Bokad tid: ") and messages[0]["unread"]
        sms = until(my_sms)
        assert [m["body"] for m in sms] == [SMS_TEXT], sms

        # Cancels a time 25 h ahead (ok) and one 23 h ahead (too late: PASiS, 24 h)
        in_25h = care_booking(http, lars, PASIS, "PASiS", start + timedelta(hours=25))
        in_23h = care_booking(http, lars, PASIS, "PASiS", start + timedelta(hours=23))
        listed = {b["bookingId"]: b for b in bookings(http, token)}
        assert listed[in_25h]["canCancel"] and not listed[in_23h]["canCancel"]
        assert listed[in_25h]["bookedBy"] == "care" and listed[booking_id]["bookedBy"] == "citizen"
        cancelled = post(http, f"/citizens/me/bookings/{in_25h}/cancel", None, token, "h-a-cancel-25")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json() == {"bookingId": in_25h, "status": "cancelled"}
        late = post(http, f"/citizens/me/bookings/{in_23h}/cancel", None, token, "h-a-cancel-23")
        assert code(late) == (422, "too-late-to-cancel"), late.text
        assert sorted(b["bookingId"] for b in held(http, subjectOfCare=lars)) == sorted([booking_id, in_23h])

        # Rebooks to later today: PASiS refuses, PMO moves it
        in_3_days = start + timedelta(days=3)
        pasis = care_booking(http, lars, PASIS, "PASiS", in_3_days)
        pmo = care_booking(http, lars, PMO, "PMO", in_3_days)
        later_today = {
            system: sim(
                http,
                "POST",
                "/sim/timeslots",
                {"system": system, "healthcareFacility": clinic, "startTime": "2027-02-09T13:00:00Z", "bookable": True},
            )["timeslotId"]
            for system, clinic in (("PASiS", PASIS), ("PMO", PMO))
        }
        refused = post(
            http, f"/citizens/me/bookings/{pasis}/rebook", {"slotId": later_today["PASiS"]}, token, "h-a-rebook-pasis"
        )
        assert code(refused) == (422, "too-late-to-rebook"), refused.text
        moved = post(
            http, f"/citizens/me/bookings/{pmo}/rebook", {"slotId": later_today["PMO"]}, token, "h-a-rebook-pmo"
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["bookingId"] == pmo
        now_at = {b["bookingId"]: b["startsAt"] for b in bookings(http, token)}
        assert now_at[pmo] == "2027-02-09T13:00:00.000Z" and now_at[pasis] == "2027-02-12T09:00:00.000Z"

        # A booking the clinic hid is not listed, and cannot be cancelled
        shown = care_booking(http, lars, PASIS, "PASiS", start + timedelta(days=2))
        hidden = care_booking(http, lars, PASIS, "PASiS", start + timedelta(days=4), hidden=True)
        ids = [b["bookingId"] for b in bookings(http, token)]
        assert shown in ids and hidden not in ids
        gone = post(http, f"/citizens/me/bookings/{hidden}/cancel", None, token, "h-a-cancel-hidden")
        assert code(gone) == (404, "booking-not-found"), gone.text

        # One message per change made (booked, cancelled, rebooked), each with one SMS
        subjects = sorted(m["subject"].split(":")[0] for m in inbox(http, token, "booking"))
        assert subjects == ["Avbokad tid", "Bokad tid", "Ombokad tid"], subjects
        sms = until(lambda: len(found := my_sms()) >= 3 and found)
        assert sms and [m["body"] for m in sms] == [SMS_TEXT] * 3, sms
    finally:
        http.cli("clock", "reset")


# ------------------------------------------------------------------ 20 citizens, one slot


def test_b_twenty_citizens_booking_one_slot_get_one_booking(http: Any) -> None:
    fresh(http)
    tokens = [http.token_for(n) for n in synthetic_adults(http, 20)]
    slot = pasis_slots(http, tokens[0])[0]["slotId"]
    body = {"clinicId": PASIS, "caseTypeId": "boka-tid-direkt", "slotId": slot}
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()
    ready = threading.Barrier(len(tokens))

    def attempt(token: str) -> None:
        with requests.Session() as own:  # each citizen their own connection
            ready.wait(timeout=30)
            answer = own.post(
                http.base + "/citizens/me/bookings",
                json=body,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
                timeout=60,
            )
        with lock:
            answers.append((answer.status_code, answer.json()))

    threads = [threading.Thread(target=attempt, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert len(answers) == 20, answers
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 19, answers
    assert {a.get("code") for s, a in answers if s == 409} == {"slot-taken"}
    winner = next(a["bookingId"] for s, a in answers if s == 201)
    found = sim(http, "POST", "/sim/bookings/search", {"timeslotId": slot})["bookings"]
    assert [(b["bookingId"], b["status"]) for b in found] == [(winner, "booked")]


# ------------------------------------------------------------------ the answer lost after the booking was made


def test_c_a_lost_answer_and_a_retry_book_once_and_everything_agrees(http: Any) -> None:
    fresh(http)
    erik = pnr("Erik")
    token = http.token_for(erik)
    assert held(http, subjectOfCare=erik) == [] and inbox(http, token, "booking") == []
    slot = pasis_slots(http, token)[0]["slotId"]
    # PASiS makes the booking and the answer is lost; asking by the reference fails, and so does the retry
    for operation, mode in (
        ("MakeBooking", "fail-after-commit"),
        ("GetBookingDetails", "error"),
        ("MakeBooking", "error"),
    ):
        sim(http, "POST", "/sim/faults", {"system": "pasis", "operation": operation, "mode": mode})
    body = {"clinicId": PASIS, "caseTypeId": "boka-tid-direkt", "slotId": slot}
    key = f"h-c-{uuid.uuid4().hex}"
    first = post(http, "/citizens/me/bookings", body, token, key)
    assert code(first) == (503, "booking-system-unavailable"), first.text
    assert len(held(http, subjectOfCare=erik)) == 1  # booked in PASiS, not yet confirmed here
    assert inbox(http, token, "booking") == []

    again = post(http, "/citizens/me/bookings", body, token, key)  # the citizen retries: the same key
    assert again.status_code == 201, again.text
    booking_id = again.json()["bookingId"]
    assert [b["bookingId"] for b in held(http, subjectOfCare=erik)] == [booking_id]
    assert len(sim(http, "POST", "/sim/bookings/search", {"timeslotId": slot})["bookings"]) == 1
    assert [b["bookingId"] for b in bookings(http, token)] == [booking_id]
    assert len(inbox(http, token, "booking")) == 1
    replay = post(http, "/citizens/me/bookings", body, token, key)  # and once more: the same answer
    assert replay.status_code == 201 and replay.json() == again.json(), replay.text
    assert len(held(http, subjectOfCare=erik)) == 1 and len(inbox(http, token, "booking")) == 1


# ------------------------------------------------------------------ open invitations


def test_d_an_open_invitation_books_one_slot_releases_the_others_and_expires(http: Any) -> None:
    fresh(http)
    (person,) = synthetic_adults(http, 1)
    token = http.token_for(person)
    machine = http.cli("machine-token", "--client", "pasis-e2e", "--scope", "bookings:write").strip()

    def invite(expires: datetime) -> tuple[dict[str, Any], str]:
        offer = sim(
            http,
            "POST",
            "/sim/invitations",
            {
                "system": "PASiS",
                "healthcareFacility": PASIS,
                "subjectOfCare": person,
                "slotCount": 3,
                "expiresAt": zulu(expires),
            },
        )
        delivered = http.call(
            "POST",
            "/integrations/invitations",
            {
                "system": "PASiS",
                "invitationId": offer["invitationId"],
                "personnummer": person,
                "clinicId": PASIS,
                "slots": offer["slots"],
                "expiresAt": offer["expiresAt"],
                "notice": {"subject": "Öppen kallelse: årskontroll", "body": "Välj en av tiderna."},
            },
            token=machine,
        )
        assert delivered.status_code == 202, delivered.text
        answer = delivered.json()
        assert answer["digital"] is True and answer["paperNotice"] is False and answer["invitationId"]
        return offer, str(answer["invitationId"])

    now = stack_now(http)
    offer, ours = invite(now + timedelta(days=7))
    assert [i["id"] for i in inbox(http, token, "invitation")] == [ours]
    first, *others = [s["slotId"] for s in offer["slots"]]
    assert len(others) == 2 and free_in_pasis(http, [first, *others]) == []  # held for the invitation

    booked = post(http, f"/citizens/me/invitations/{ours}/book", {"slotId": first}, token, "h-d-1")
    assert booked.status_code == 201, booked.text
    assert [b["timeslot"]["timeslotId"] for b in held(http, subjectOfCare=person)] == [first]
    assert free_in_pasis(http, [first, *others]) == sorted(others)  # released for anyone
    second = post(http, f"/citizens/me/invitations/{ours}/book", {"slotId": others[0]}, token, "h-d-2")
    assert code(second) == (409, "invitation-used"), second.text
    assert len(held(http, subjectOfCare=person)) == 1
    listed = [b for b in bookings(http, token) if b["bookingId"] == booked.json()["bookingId"]]
    assert len(listed) == 1 and listed[0]["invitation"] is True

    # Another invitation, and the clock past its expiresAt: refused, nothing booked
    try:
        expiring, later = invite(now + timedelta(hours=1))
        http.cli("clock", "set", (now + timedelta(hours=1, minutes=1)).isoformat())
        token = http.token_for(person)  # sessions follow the clock too
        expired = post(
            http, f"/citizens/me/invitations/{later}/book", {"slotId": expiring["slots"][0]["slotId"]}, token, "h-d-3"
        )
        assert code(expired) == (410, "invitation-expired"), expired.text
        assert len(held(http, subjectOfCare=person)) == 1
    finally:
        http.cli("clock", "reset")
