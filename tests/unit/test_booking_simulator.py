"""The booking-system simulator (local/booking_simulator.py): the PASiS/PMO wire contract, its control
endpoints, in process and over HTTP on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from local.booking_simulator import Simulator, serve
from tests.support import pnr

PASIS, PMO = "SE2321000016-2002", "SE2321000016-1001"
KEYS = {"pasis": "local-pasis-key", "pmo": "local-pmo-key"}
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Stockholm
THURSDAY = "2026-12-03"
FREE_PASIS = "T-2002-202612030900"  # Thursday 09:00, bookable online
OTHER_PASIS = "T-2002-202612031000"


class Sim:
    """A simulator on a clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW
        self.simulator = Simulator(clock=lambda: self.now)

    def call(self, system: str, operation: str, **body: Any) -> dict[str, Any]:
        status, answer = self.simulator.call(system, operation, body, KEYS[system])
        assert status == 200 and answer is not None, (status, answer)
        return answer

    def control(self, path: str, method: str = "POST", **body: Any) -> dict[str, Any]:
        status, answer = self.simulator.control(method, path, body)
        assert status == 200 and answer is not None, (status, answer)
        return answer

    def free_ids(self, system: str = "pasis", facility: str = PASIS, day: str = THURSDAY) -> list[str]:
        answer = self.call(system, "GetAvailableTimeslots", healthcareFacility=facility, startDate=day, endDate=day)
        return [t["timeslotId"] for t in answer["timeslots"]]

    def book(self, slot: str = FREE_PASIS, who: str = "Sara", ref: str = "ref-1", **extra: Any) -> dict[str, Any]:
        return self.call(
            "pasis",
            "MakeBooking",
            timeslotId=slot,
            subjectOfCare=pnr(who),
            healthcareFacility=PASIS,
            externalRef=ref,
            **extra,
        )


@pytest.fixture
def sim() -> Sim:
    return Sim()


@pytest.fixture
def http() -> Iterator[tuple[str, Simulator]]:
    simulator = Simulator(clock=lambda: NOW)
    server, thread = serve(0, simulator)
    yield f"http://127.0.0.1:{server.server_address[1]}", simulator
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def post(base: str, path: str, body: Any, key: str | None = "local-pasis-key") -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(base + path, data=data, headers=headers, timeout=10)


# ------------------------------------------------------------------ schedules


def test_schedules_are_deterministic_weekdays_only(sim):
    other = Sim()
    week = {"healthcareFacility": PASIS, "startDate": "2026-12-07", "endDate": "2026-12-13"}
    first = sim.call("pasis", "GetAvailableTimeslots", **week)["timeslots"]
    assert first == other.call("pasis", "GetAvailableTimeslots", **week)["timeslots"]
    assert len(first) == 5 * 16  # Monday to Friday, 08:00-16:00 every 30 minutes; no weekend times
    assert first[0]["timeslotId"] == "T-2002-202612070800"
    assert first[0]["startTimeInclusive"] == "2026-12-07T07:00:00Z"  # 08:00 in Stockholm (CET)
    assert first[15]["endTimeExclusive"] == "2026-12-07T15:00:00Z"
    assert {t["timeTypeName"] for t in first} == {"Läkarbesök", "Sjuksköterskebesök"}
    # A slot id of a day never asked for yet is known all the same.
    later = sim.call("pasis", "GetAvailableTimeslots", healthcareFacility=PASIS, timeslotIds=["T-2002-202701140930"])
    assert [t["startTimeInclusive"] for t in later["timeslots"]] == ["2027-01-14T08:30:00Z"]


def test_bookable_online_marker_differs_by_system(sim):
    pasis = sim.call("pasis", "GetAvailableTimeslots", healthcareFacility=PASIS, startDate=THURSDAY, endDate=THURSDAY)
    pmo = sim.call("pmo", "GetAvailableTimeslots", healthcareFacility=PMO, startDate=THURSDAY, endDate=THURSDAY)
    assert [t["webLevel"] for t in pasis["timeslots"]][:3] == [2, 2, 4]
    assert [t["visibleInEServices"] for t in pmo["timeslots"]][:3] == [False, False, True]
    assert not any("visibleInEServices" in t for t in pasis["timeslots"])
    assert not any("webLevel" in t for t in pmo["timeslots"])
    wrong = sim.call("pmo", "GetAvailableTimeslots", healthcareFacility=PASIS, startDate=THURSDAY, endDate=THURSDAY)
    assert wrong["resultCode"] == "ERROR" and wrong["errorCode"] == "UNKNOWN_FACILITY"


def test_available_excludes_booked_held_and_past_times(sim):
    assert len(sim.free_ids()) == 16
    sim.book()
    invitation = sim.control("/sim/invitations", system="PASiS", healthcareFacility=PASIS, subjectOfCare=pnr("Anna"))
    held = {s["slotId"] for s in invitation["slots"]}
    free = set(sim.free_ids("pasis", PASIS, "2026-12-02")) | set(sim.free_ids())
    assert FREE_PASIS not in free and not held & free
    by_id = sim.call("pasis", "GetAvailableTimeslots", healthcareFacility=PASIS, timeslotIds=[FREE_PASIS, OTHER_PASIS])
    assert [t["timeslotId"] for t in by_id["timeslots"]] == [OTHER_PASIS]
    today = sim.free_ids("pasis", PASIS, "2026-12-01")
    assert today[0] == "T-2002-202612010930"  # 09:00 has started


# ------------------------------------------------------------------ booking


def test_make_booking_is_idempotent_on_external_ref(sim):
    made = sim.book()
    assert made["resultCode"] == "OK" and made["timeslot"]["subjectOfCare"] == pnr("Sara")
    assert made["timeslot"]["bookedBy"] == "patient" and made["timeslot"]["bookingId"] == made["bookingId"]
    again = sim.book(slot=OTHER_PASIS)  # a retry with the same ref books nothing new
    assert again["resultCode"] == "INFO" and again["bookingId"] == made["bookingId"]
    assert again["timeslot"]["timeslotId"] == FREE_PASIS
    assert OTHER_PASIS in sim.free_ids()
    assert len(sim.control("/sim/bookings/search", subjectOfCare=pnr("Sara"))["bookings"]) == 1
    status, answer = sim.simulator.call(
        "pasis",
        "MakeBooking",
        {"timeslotId": OTHER_PASIS, "subjectOfCare": pnr("Anna"), "healthcareFacility": PASIS, "externalRef": "ref-1"},
        KEYS["pasis"],
    )
    assert status == 400 and answer and answer["errorCode"] == "INVALID_REQUEST"


def test_make_booking_refusals(sim):
    assert sim.book(slot="T-2002-202612030800")["errorCode"] == "NOT_BOOKABLE"  # webLevel 2
    assert sim.book(slot="T-2002-202612050900")["errorCode"] == "UNKNOWN_TIMESLOT"  # a Saturday
    assert sim.book(slot="T-1001-202612030900")["errorCode"] == "UNKNOWN_TIMESLOT"  # another facility
    assert sim.book(slot="T-2002-202612010830")["errorCode"] == "NOT_BOOKABLE"  # has passed
    sim.book()
    assert sim.book(who="Anna", ref="ref-2")["errorCode"] == "SLOT_TAKEN"


def test_twenty_concurrent_bookers_of_one_slot_get_exactly_one_booking(http):
    base, simulator = http
    people = [f"19121212{n:04d}" for n in range(20)]
    barrier = threading.Barrier(len(people))
    results: list[dict[str, Any]] = []

    def book(person: str) -> None:
        barrier.wait()
        body = {"timeslotId": FREE_PASIS, "subjectOfCare": person, "healthcareFacility": PASIS, "externalRef": person}
        response = post(base, "/pasis/MakeBooking", body)
        assert response.status_code == 200
        results.append(response.json())

    threads = [threading.Thread(target=book, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r["resultCode"] for r in results) == ["ERROR"] * 19 + ["OK"]
    assert {r["errorCode"] for r in results if r["resultCode"] == "ERROR"} == {"SLOT_TAKEN"}
    assert len(simulator.bookings) == 1


def test_update_booking_moves_it_and_frees_the_old_slot(sim):
    made = sim.book()
    body = {"bookingId": made["bookingId"], "subjectOfCare": pnr("Sara"), "newTimeslotId": OTHER_PASIS}
    moved = sim.call("pasis", "UpdateBooking", **body, externalRef="ref-2")
    assert moved["resultCode"] == "OK" and moved["bookingId"] == made["bookingId"]
    assert moved["timeslot"]["timeslotId"] == OTHER_PASIS
    free = sim.free_ids()
    assert FREE_PASIS in free and OTHER_PASIS not in free
    assert sim.call("pasis", "UpdateBooking", **body, externalRef="ref-2")["resultCode"] == "INFO"
    other = {**body, "subjectOfCare": pnr("Anna"), "newTimeslotId": "T-2002-202612031100"}
    assert sim.call("pasis", "UpdateBooking", **other, externalRef="ref-3")["errorCode"] == "BOOKING_NOT_FOUND"


def test_cancel_booking_is_idempotent_and_frees_the_slot(sim):
    made = sim.book()
    body = {"bookingId": made["bookingId"], "subjectOfCare": pnr("Sara")}
    assert sim.call("pasis", "CancelBooking", **body, externalRef="ref-2")["resultCode"] == "OK"
    assert FREE_PASIS in sim.free_ids()
    for ref in ("ref-2", "ref-3"):  # the same call again, or another one
        again = sim.call("pasis", "CancelBooking", **body, externalRef=ref)
        assert again["resultCode"] == "INFO" and again["errorCode"] == "ALREADY_CANCELLED"
    moved = sim.call("pasis", "UpdateBooking", **body, newTimeslotId=OTHER_PASIS, externalRef="ref-4")
    assert moved["errorCode"] == "BOOKING_NOT_FOUND"


def test_booking_details_by_booking_id_or_external_ref(sim):
    made = sim.book()
    sim.call(
        "pasis",
        "UpdateBooking",
        bookingId=made["bookingId"],
        subjectOfCare=pnr("Sara"),
        newTimeslotId=OTHER_PASIS,
        externalRef="ref-2",
    )
    by_ref = sim.call("pasis", "GetBookingDetails", externalRef="ref-2")["booking"]
    assert by_ref["bookingId"] == made["bookingId"] and by_ref["status"] == "booked"
    assert by_ref["externalRefs"] == ["ref-1", "ref-2"] and by_ref["timeslot"]["timeslotId"] == OTHER_PASIS
    assert sim.call("pasis", "GetBookingDetails", bookingId=made["bookingId"])["booking"] == by_ref
    assert sim.call("pasis", "GetBookingDetails", externalRef="never")["errorCode"] == "BOOKING_NOT_FOUND"
    assert sim.call("pmo", "GetBookingDetails", bookingId=made["bookingId"])["errorCode"] == "BOOKING_NOT_FOUND"


def test_care_booking_not_to_be_cancelled_or_moved(sim):
    care = sim.control(
        "/sim/bookings",
        system="pasis",
        healthcareFacility=PASIS,
        subjectOfCare=pnr("Sara"),
        timeslotId=FREE_PASIS,
        cancelBookingAllowed=False,
        rebookingAllowed=False,
    )
    assert care["timeslot"]["bookedBy"] == "care" and care["timeslot"]["cancelBookingAllowed"] is False
    body = {"bookingId": care["bookingId"], "subjectOfCare": pnr("Sara")}
    assert sim.call("pasis", "CancelBooking", **body, externalRef="r1")["errorCode"] == "NOT_ALLOWED"
    moved = sim.call("pasis", "UpdateBooking", **body, newTimeslotId=OTHER_PASIS, externalRef="r2")
    assert moved["errorCode"] == "NOT_ALLOWED"


def test_hidden_care_booking_is_in_the_schedule_with_hidden_true(sim):
    start = (NOW + timedelta(hours=1)).isoformat()
    care = sim.control(
        "/sim/bookings", system="PMO", healthcareFacility=PMO, subjectOfCare=pnr("Sara"), startTime=start, hidden=True
    )
    sim.control(  # one that has passed: not in the schedule
        "/sim/bookings",
        system="PMO",
        healthcareFacility=PMO,
        subjectOfCare=pnr("Sara"),
        startTime=(NOW - timedelta(hours=1)).isoformat(),
    )
    schedule = sim.call("pmo", "GetSubjectOfCareSchedule", subjectOfCare=pnr("Sara"), healthcareFacilities=[PMO])
    assert [t["bookingId"] for t in schedule["timeslots"]] == [care["bookingId"]]
    slot = schedule["timeslots"][0]
    assert slot["hidden"] is True and slot["bookedBy"] == "care" and slot["subjectOfCare"] == pnr("Sara")
    assert slot["startTimeInclusive"] == "2026-12-01T09:00:00Z" and slot["visibleInEServices"] is False
    other = sim.call("pmo", "GetSubjectOfCareSchedule", subjectOfCare=pnr("Anna"), healthcareFacilities=[PMO])
    assert other["timeslots"] == []


def test_ad_hoc_timeslot_today(sim):
    made = sim.control(
        "/sim/timeslots",
        system="PMO",
        healthcareFacility=PMO,
        startTime="2026-12-01T12:00:00Z",
        bookable=True,
        timeTypeName="Akut tid",
    )
    assert made["visibleInEServices"] is True and made["timeTypeName"] == "Akut tid"
    assert made["timeslotId"] in sim.free_ids("pmo", PMO, "2026-12-01")


# ------------------------------------------------------------------ invitations


def test_invitation_holds_times_until_one_is_booked(sim):
    invitation = sim.control(
        "/sim/invitations", system="PASiS", healthcareFacility=PASIS, subjectOfCare=pnr("Sara"), slotCount=3
    )
    held = [s["slotId"] for s in invitation["slots"]]
    assert len(held) == 3 and all(s["startsAt"] >= "2026-12-01T23:00:00Z" for s in invitation["slots"])  # tomorrow
    assert sim.book(slot=held[0], who="Anna", ref="a")["errorCode"] == "SLOT_TAKEN"
    assert sim.book(slot=held[0], ref="s0")["errorCode"] == "SLOT_TAKEN"  # held: only with the invitation
    assert sim.book(slot=held[0], who="Anna", ref="a2", invitationId=invitation["invitationId"])["errorCode"] == (
        "INVITATION_MISMATCH"
    )
    booked = sim.book(slot=held[1], ref="s1", invitationId=invitation["invitationId"])
    assert booked["resultCode"] == "OK" and booked["timeslot"]["isInvitation"] is True
    free = sim.free_ids("pasis", PASIS, "2026-12-02")
    assert held[0] in free and held[2] in free and held[1] not in free  # the others released
    used = sim.book(slot=held[0], ref="s2", invitationId=invitation["invitationId"])
    assert used["errorCode"] == "INVITATION_USED"


def test_invitation_holds_lapse_at_expiry(sim):
    expires = (NOW + timedelta(hours=2)).isoformat()
    invitation = sim.control(
        "/sim/invitations", system="PASiS", healthcareFacility=PASIS, subjectOfCare=pnr("Sara"), expiresAt=expires
    )
    held = [s["slotId"] for s in invitation["slots"]]
    assert not set(held) & set(sim.free_ids("pasis", PASIS, "2026-12-02"))
    sim.now = NOW + timedelta(hours=2)
    assert set(held) <= set(sim.free_ids("pasis", PASIS, "2026-12-02"))
    late = sim.book(slot=held[0], ref="late", invitationId=invitation["invitationId"])
    assert late["errorCode"] == "INVITATION_MISMATCH"


# ------------------------------------------------------------------ faults, latency, clock


def test_fail_after_commit_applies_then_answers_500(http):
    base, _ = http
    requests.post(base + "/sim/faults", json={"operation": "MakeBooking", "mode": "fail-after-commit"}, timeout=5)
    body = {"timeslotId": FREE_PASIS, "subjectOfCare": pnr("Sara"), "healthcareFacility": PASIS, "externalRef": "r"}
    failed = post(base, "/pasis/MakeBooking", body)
    assert failed.status_code == 500 and not failed.headers["Content-Type"].startswith("application/json")
    details = post(base, "/pasis/GetBookingDetails", {"externalRef": "r"}).json()
    assert details["resultCode"] == "OK" and details["booking"]["status"] == "booked"  # it was applied
    again = post(base, "/pasis/MakeBooking", body).json()  # count 1: the retry gets through
    assert again["resultCode"] == "INFO" and again["bookingId"] == details["booking"]["bookingId"]


def test_error_fault_applies_nothing(sim):
    sim.control("/sim/faults", system="pasis", operation="*", mode="error", count=2)
    sim.control("/sim/faults", system="pmo", operation="MakeBooking", mode="error", count=-1)
    body = {"timeslotId": FREE_PASIS, "subjectOfCare": pnr("Sara"), "healthcareFacility": PASIS, "externalRef": "r"}
    for _ in range(2):
        status, answer = sim.simulator.call("pasis", "MakeBooking", body, KEYS["pasis"])
        assert status == 503 and answer and answer["errorCode"] == "UNAVAILABLE"
    assert sim.simulator.bookings == {}
    assert sim.book(ref="r")["resultCode"] == "OK"  # both used up
    assert sim.control("/sim/faults", method="DELETE") == {"cleared": 1}
    assert sim.control("/sim/stats", method="GET")["calls"] == {"MakeBooking": 3}


def test_slow_fault_and_latency_delay_calls(sim):
    sim.control("/sim/faults", operation="GetAvailableTimeslots", mode="slow", delayMs=300)
    started = time.monotonic()
    sim.free_ids()
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    sim.free_ids()
    assert time.monotonic() - started < 0.2
    sim.control("/sim/latency", ms=100)
    started = time.monotonic()
    sim.free_ids()
    assert time.monotonic() - started >= 0.1
    stats = sim.control("/sim/stats", method="GET")
    assert stats["calls"] == {"GetAvailableTimeslots": 3} and stats["busyMs"] >= 400


def test_the_clock_file_moves_now(tmp_path):
    clock = tmp_path / "clock.json"
    simulator = Simulator(clock_file=clock)
    start = datetime.now(UTC) + timedelta(days=2)
    status, _ = simulator.control(
        "POST",
        "/sim/bookings",
        {"system": "PMO", "healthcareFacility": PMO, "subjectOfCare": pnr("Sara"), "startTime": start.isoformat()},
    )
    assert status == 200

    def schedule() -> list[dict[str, Any]]:
        body = {"subjectOfCare": pnr("Sara"), "healthcareFacilities": [PMO]}
        status, answer = simulator.call("pmo", "GetSubjectOfCareSchedule", body, KEYS["pmo"])
        assert status == 200 and answer
        return list(answer["timeslots"])

    assert len(schedule()) == 1
    clock.write_text(json.dumps({"offsetSeconds": 3 * 86400}))
    assert schedule() == []  # three days on, the time has passed
    assert abs((simulator.now() - datetime.now(UTC)).total_seconds() - 3 * 86400) < 5
    clock.write_text("{half")  # unreadable: real time
    assert len(schedule()) == 1


def test_reset_forgets_everything(sim):
    sim.book()
    sim.control("/sim/faults", operation="*", mode="error", count=-1)
    sim.control("/sim/reset")
    assert sim.simulator.bookings == {} and sim.simulator.faults == []
    assert FREE_PASIS in sim.free_ids()


# ------------------------------------------------------------------ hostile callers


def test_wrong_or_missing_key_is_401(http):
    base, _ = http
    body = {"healthcareFacility": PASIS, "startDate": THURSDAY, "endDate": THURSDAY}
    assert post(base, "/pasis/GetAvailableTimeslots", body).status_code == 200
    for key in ("local-pmo-key", "", "wrong"):
        response = post(base, "/pasis/GetAvailableTimeslots", body, key=key)
        assert response.status_code == 401 and response.json()["errorCode"] == "UNAUTHORIZED"
    assert post(base, "/pmo/GetAvailableTimeslots", body, key="local-pmo-key").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"[" * 100_000,
        b'{"healthcareFacility": "SE2321000016-2002", "startDate": NaN}',
        b"\xff\xfe\x00",
        b"x" * 200_000,  # larger than the simulator reads
        {"healthcareFacility": PASIS, "startDate": THURSDAY},
        {"healthcareFacility": PASIS, "startDate": "2026-12-01", "endDate": "2027-02-02"},  # 63 days
        {"healthcareFacility": PASIS, "startDate": "2026-12-03", "endDate": "2026-12-02"},
        {"healthcareFacility": PASIS, "startDate": "3.12.2026", "endDate": THURSDAY},
        {"healthcareFacility": 7, "startDate": THURSDAY, "endDate": THURSDAY},
        {"healthcareFacility": PASIS, "timeslotIds": "T-2002-202612030900"},
        {"healthcareFacility": PASIS, "timeslotIds": [None]},
    ],
)
def test_junk_is_400_and_the_server_keeps_serving(http, body):
    base, _ = http
    response = post(base, "/pasis/GetAvailableTimeslots", body)
    assert response.status_code == 400 and response.json()["errorCode"] == "INVALID_REQUEST"
    assert requests.get(base + "/sim/health", timeout=5).json()["ok"] is True


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("MakeBooking", {"timeslotId": FREE_PASIS, "subjectOfCare": "19121212-1212", "healthcareFacility": PASIS}),
        ("MakeBooking", {"timeslotId": ["x"], "subjectOfCare": "191212121212", "healthcareFacility": PASIS}),
        ("UpdateBooking", {"bookingId": "B", "subjectOfCare": "191212121212", "newTimeslotId": "T", "externalRef": 1}),
        ("CancelBooking", {"bookingId": "../etc", "subjectOfCare": "191212121212", "externalRef": "r"}),
        ("GetBookingDetails", {}),
        ("GetBookingDetails", {"bookingId": "B", "externalRef": "r"}),
        ("GetSubjectOfCareSchedule", {"subjectOfCare": "191212121212", "healthcareFacilities": []}),
    ],
)
def test_malformed_operations_are_400(sim, operation, body):
    status, answer = sim.simulator.call("pasis", operation, body, KEYS["pasis"])
    assert status == 400 and answer and answer["errorCode"] == "INVALID_REQUEST"
    assert sim.simulator.bookings == {}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sim/faults", {"operation": "Nope", "mode": "error"}),
        ("/sim/faults", {"operation": "*", "mode": "error", "count": 0}),
        ("/sim/faults", {"operation": "*", "mode": "slow", "delayMs": True}),
        ("/sim/latency", {"ms": -1}),
        ("/sim/timeslots", {"system": "PMO", "healthcareFacility": PASIS, "startTime": "2026-12-01T12:00:00Z"}),
        ("/sim/timeslots", {"system": "PMO", "healthcareFacility": PMO, "startTime": "12:00", "bookable": True}),
        ("/sim/bookings", {"system": "PMO", "healthcareFacility": PMO, "subjectOfCare": "191212121212"}),
        ("/sim/invitations", {"system": "X", "healthcareFacility": PMO, "subjectOfCare": "191212121212"}),
        ("/sim/invitations", {"system": "PMO", "healthcareFacility": PMO, "subjectOfCare": "1", "slotCount": 3}),
    ],
)
def test_malformed_control_requests_are_400(sim, path, body):
    status, answer = sim.simulator.control("POST", path, body)
    assert status == 400 and answer and answer["errorCode"] == "INVALID_REQUEST"


def test_unknown_paths_and_methods(http):
    base, _ = http
    assert post(base, "/pasis/DropTables", {}).status_code == 404
    assert requests.get(base + "/pasis/MakeBooking", timeout=5).status_code == 405
    assert requests.get(base + "/nowhere", timeout=5).status_code == 404
