"""Web booking (R-44, R-45, R-45a) in-process against DynamoDB Local and an in-process booking-system
simulator on the same fixed clock; the adapters talk HTTP to it as they would to PASiS and PMO."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support import at, pnr

PASIS_CLINIC = "SE2321000016-2002"
PMO_CLINIC = "SE2321000016-1001"
# Tuesday 12 January 2027, 10:00 in Stockholm (UTC+1)
NOW = at("2027-01-12T09:00:00Z")


@dataclass
class World:
    now: list[datetime]
    simulator: Any
    url: str

    def clock(self) -> datetime:
        return self.now[0]

    def systems(self, name: str) -> Any:
        import httpx

        from chalicelib.web_booking.adapters import PasisAdapter, PmoAdapter
        from chalicelib.web_booking.breaker import Breaker

        cls = PasisAdapter if name == "PASiS" else PmoAdapter
        key = "local-pasis-key" if name == "PASiS" else "local-pmo-key"
        return cls(f"{self.url}/{name.lower()}/", key, httpx.Client(timeout=5), Breaker())

    def control(self, path: str, body: dict[str, Any]) -> Any:
        status, answer = self.simulator.control("POST", path, body)
        assert status < 300, answer
        return answer


@pytest.fixture
def world(stack: Any) -> Iterator[World]:
    from local.booking_simulator import Simulator, serve

    now = [NOW]
    server, _ = serve(0, Simulator(clock=lambda: now[0]))
    host, port = server.server_address[:2]
    try:
        yield World(now, server.simulator, f"http://{host}:{port}")
    finally:
        server.shutdown()


def subject_of(api: Any, person: str, child: str | None = None) -> Any:
    from chalicelib.accounts import service as accounts
    from chalicelib.guardians.service import Subject

    api.token_for(pnr(person))
    account = accounts.find_by_personnummer(pnr(person))
    assert account is not None
    return Subject(account.citizen_id, account, proxy=False, actor_citizen_id=account.citizen_id)


def slots(world: World, clinic: str, case_type: str, **kw: Any) -> list[dict[str, Any]]:
    from chalicelib.web_booking import service

    return service.slots(clinic, case_type, kw.get("first"), kw.get("last"), clock=world.clock, systems=world.systems)[
        "items"
    ]


def book(world: World, subject: Any, clinic: str, case_type: str, slot_id: str, *, key: str | None = None) -> Any:
    from chalicelib.web_booking import service

    return service.book(
        subject,
        clinic_id=clinic,
        case_type_id=case_type,
        slot_id=slot_id,
        idempotency_key=key,
        clock=world.clock,
        systems=world.systems,
    )


def booking_messages(citizen_id: str) -> list[dict[str, Any]]:
    from chalicelib.inbox import service as inbox

    return [i for i in inbox.items(citizen_id) if i["kind"] == "booking"]


def held(world: World, subject_pnr: str) -> list[dict[str, Any]]:
    found = world.control("/sim/bookings/search", {"subjectOfCare": subject_pnr})["bookings"]
    return [b for b in found if b["status"] == "booked"]


def test_r45_pasis_lists_bookable_times_from_tomorrow_only(api, world):
    found = slots(world, PASIS_CLINIC, "boka-tid-direkt")
    assert found, "the seeded PASiS schedule offers times"
    tomorrow = at("2027-01-12T23:00:00Z")  # midnight in Stockholm
    assert all(at(s["startsAt"]) >= tomorrow for s in found)
    # the first two times of a day are not bookable online (webLevel 2): never listed
    day = [s for s in found if s["startsAt"].startswith("2027-01-13")]
    assert day[0]["startsAt"] == "2027-01-13T08:00:00.000Z"  # 09:00 Stockholm; 08:00 and 08:30 are not online


def test_r45_pmo_lists_times_later_today(api, world):
    found = slots(world, PMO_CLINIC, "boka-tid-online")
    today = [s for s in found if s["startsAt"].startswith("2027-01-12")]
    assert today and all(at(s["startsAt"]) > NOW for s in today)


def test_r45a_a_case_type_without_web_booking_offers_nothing(api, world):
    from chalicelib.web_booking.service import NotOffered

    with pytest.raises(NotOffered):
        slots(world, PASIS_CLINIC, "fraga-sjukskoterskan")
    with pytest.raises(NotOffered):  # the manage-only case type does not book
        slots(world, PASIS_CLINIC, "bokade-tider")


def test_r45a_deactivating_the_case_type_stops_web_booking(api, world):
    from chalicelib.clinics import service as clinics
    from chalicelib.web_booking.service import NotOffered

    clinics.configure_case_type(
        PASIS_CLINIC,
        "boka-tid-direkt",
        name="Boka tid direkt",
        attachments_allowed=False,
        active=False,
        web_booking=clinics.WebBooking("PASiS", "book-direct"),
        terms_text="Villkor",
    )
    with pytest.raises(NotOffered):
        slots(world, PASIS_CLINIC, "boka-tid-direkt")
    listed = {c.clinic_id: c.kinds for c in clinics.web_booking_clinics()}
    assert listed[PASIS_CLINIC] == {"manage-bookings"}


def test_r45a_web_booking_needs_terms_and_one_system_per_clinic(api, world):
    from chalicelib.clinics import service as clinics
    from chalicelib.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as missing:
        clinics.configure_case_type(
            PASIS_CLINIC,
            "x",
            name="Boka",
            attachments_allowed=False,
            active=True,
            web_booking=clinics.WebBooking("PASiS", "book-direct"),
        )
    assert missing.value.code == "terms-text-required"
    with pytest.raises(InvalidInput) as mixed:
        clinics.configure_case_type(
            PASIS_CLINIC,
            "y",
            name="Boka tid online",
            attachments_allowed=False,
            active=True,
            web_booking=clinics.WebBooking("PMO", "book-direct"),
            terms_text="Villkor",
        )
    assert mixed.value.code == "booking-system-mismatch"


def test_book_puts_a_message_in_the_inbox_and_the_booking_in_the_system(api, world):
    sara = subject_of(api, "Sara")
    slot = slots(world, PASIS_CLINIC, "boka-tid-direkt")[0]
    done = book(world, sara, PASIS_CLINIC, "boka-tid-direkt", slot["slotId"], key="k1")
    assert done.created and done.result["bookingId"]
    assert [b["bookingId"] for b in held(world, pnr("Sara"))] == [done.result["bookingId"]]
    messages = booking_messages(sara.citizen_id)
    assert len(messages) == 1 and messages[0]["unread"]
    assert messages[0]["subject"] == "Bokad tid: Hudmottagningen Länssjukhuset"


def test_a_retry_with_the_same_key_books_nothing_new(api, world):
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings

    sara = subject_of(api, "Sara")
    slot = slots(world, PASIS_CLINIC, "boka-tid-direkt")[0]
    first = book(world, sara, PASIS_CLINIC, "boka-tid-direkt", slot["slotId"], key="same")
    count = dynamo.client().scan(TableName=settings().main_table, Select="COUNT")["Count"]
    again = book(world, sara, PASIS_CLINIC, "boka-tid-direkt", slot["slotId"], key="same")
    assert again.result == first.result and not again.created
    assert dynamo.client().scan(TableName=settings().main_table, Select="COUNT")["Count"] == count
    assert len(held(world, pnr("Sara"))) == 1
    assert len(booking_messages(sara.citizen_id)) == 1


def test_the_same_key_for_another_slot_is_refused(api, world):
    from chalicelib.core.errors import InvalidInput

    sara = subject_of(api, "Sara")
    first, second = slots(world, PASIS_CLINIC, "boka-tid-direkt")[:2]
    book(world, sara, PASIS_CLINIC, "boka-tid-direkt", first["slotId"], key="k")
    with pytest.raises(InvalidInput) as reused:
        book(world, sara, PASIS_CLINIC, "boka-tid-direkt", second["slotId"], key="k")
    assert reused.value.code == "idempotency-key-reused"


def test_twenty_citizens_one_slot_exactly_one_booking(api, world):
    from chalicelib.web_booking.service import SlotTaken

    people = ["Sara", "Anna", "Erik", "Maria", "Karin", "Lars"]
    subjects = [subject_of(api, p) for p in people]
    slot = slots(world, PASIS_CLINIC, "boka-tid-direkt")[0]
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        try:
            book(world, subjects[i % len(subjects)], PASIS_CLINIC, "boka-tid-direkt", slot["slotId"], key=f"c{i}")
            result = "booked"
        except SlotTaken:
            result = "taken"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("booked") == 1 and outcomes.count("taken") == 19
    found = world.control("/sim/bookings/search", {"timeslotId": slot["slotId"]})["bookings"]
    assert len(found) == 1


def test_pasis_books_no_time_today(api, world):
    from chalicelib.web_booking.service import RuleBroken

    sara = subject_of(api, "Sara")
    today = world.control(
        "/sim/timeslots",
        {"system": "PASiS", "healthcareFacility": PASIS_CLINIC, "startTime": "2027-01-12T14:00:00Z", "bookable": True},
    )
    with pytest.raises(RuleBroken) as refused:
        book(world, sara, PASIS_CLINIC, "boka-tid-direkt", today["timeslotId"])
    assert refused.value.code == "too-late-to-book"
    assert held(world, pnr("Sara")) == []


def care_booking(world: World, person: str, clinic: str, system: str, starts: datetime, **kw: Any) -> str:
    answer = world.control(
        "/sim/bookings",
        {
            "system": system,
            "healthcareFacility": clinic,
            "subjectOfCare": pnr(person),
            "startTime": starts.isoformat().replace("+00:00", "Z"),
            **kw,
        },
    )
    return str(answer["bookingId"])


def test_r45_pasis_cancels_until_24_hours_before(api, world):
    from chalicelib.web_booking import service

    sara = subject_of(api, "Sara")
    in_25h = care_booking(world, "Sara", PASIS_CLINIC, "PASiS", NOW + timedelta(hours=25))
    in_23h = care_booking(world, "Sara", PASIS_CLINIC, "PASiS", NOW + timedelta(hours=23))
    listed = {b["bookingId"]: b for b in service.bookings(sara, clock=world.clock, systems=world.systems)["items"]}
    assert listed[in_25h]["canCancel"] and not listed[in_23h]["canCancel"]
    assert listed[in_25h]["bookedBy"] == "care"
    done = service.cancel(sara, in_25h, idempotency_key="c1", clock=world.clock, systems=world.systems)
    assert done.result == {"bookingId": in_25h, "status": "cancelled"}
    with pytest.raises(service.RuleBroken) as late:
        service.cancel(sara, in_23h, idempotency_key="c2", clock=world.clock, systems=world.systems)
    assert late.value.code == "too-late-to-cancel"
    assert [b["bookingId"] for b in held(world, pnr("Sara"))] == [in_23h]
    assert [m["subject"] for m in booking_messages(sara.citizen_id)] == ["Avbokad tid: Hudmottagningen Länssjukhuset"]


def test_r45_rebook_to_today_pasis_refused_pmo_allowed(api, world):
    from chalicelib.web_booking import service

    sara = subject_of(api, "Sara")
    pasis = care_booking(world, "Sara", PASIS_CLINIC, "PASiS", NOW + timedelta(days=3))
    pmo = care_booking(world, "Sara", PMO_CLINIC, "PMO", NOW + timedelta(days=3))
    later_today = {
        system: world.control(
            "/sim/timeslots",
            {"system": system, "healthcareFacility": clinic, "startTime": "2027-01-12T14:00:00Z", "bookable": True},
        )["timeslotId"]
        for system, clinic in (("PASiS", PASIS_CLINIC), ("PMO", PMO_CLINIC))
    }
    with pytest.raises(service.RuleBroken) as refused:
        service.rebook(
            sara, pasis, later_today["PASiS"], idempotency_key="r1", clock=world.clock, systems=world.systems
        )
    assert refused.value.code == "too-late-to-rebook"
    moved = service.rebook(
        sara, pmo, later_today["PMO"], idempotency_key="r2", clock=world.clock, systems=world.systems
    )
    assert moved.result["bookingId"] == pmo
    now_at = {
        b["bookingId"]: b["startsAt"] for b in service.bookings(sara, clock=world.clock, systems=world.systems)["items"]
    }
    assert now_at[pmo] == "2027-01-12T14:00:00.000Z"


def test_r45a_a_hidden_booking_is_not_listed(api, world):
    from chalicelib.web_booking import service

    sara = subject_of(api, "Sara")
    shown = care_booking(world, "Sara", PASIS_CLINIC, "PASiS", NOW + timedelta(days=2))
    hidden = care_booking(world, "Sara", PASIS_CLINIC, "PASiS", NOW + timedelta(days=4), hidden=True)
    ids = [b["bookingId"] for b in service.bookings(sara, clock=world.clock, systems=world.systems)["items"]]
    assert shown in ids and hidden not in ids
    with pytest.raises(service.NotFound):
        service.cancel(sara, hidden, idempotency_key="h", clock=world.clock, systems=world.systems)


def test_fail_after_commit_then_retry_books_once(api, world):
    from chalicelib.core.errors import ServiceUnavailable
    from chalicelib.web_booking import service

    sara = subject_of(api, "Sara")
    slot = slots(world, PASIS_CLINIC, "boka-tid-direkt")[0]
    # the booking is made, the answer lost; and the resolve and the retry fail too
    world.control("/sim/faults", {"operation": "MakeBooking", "mode": "fail-after-commit"})
    world.control("/sim/faults", {"operation": "GetBookingDetails", "mode": "error"})
    world.control("/sim/faults", {"operation": "MakeBooking", "mode": "error"})
    with pytest.raises(ServiceUnavailable):
        book(world, sara, PASIS_CLINIC, "boka-tid-direkt", slot["slotId"], key="flaky")
    assert len(held(world, pnr("Sara"))) == 1
    assert booking_messages(sara.citizen_id) == []  # not confirmed yet
    again = book(world, sara, PASIS_CLINIC, "boka-tid-direkt", slot["slotId"], key="flaky")
    assert [b["bookingId"] for b in held(world, pnr("Sara"))] == [again.result["bookingId"]]
    assert len(booking_messages(sara.citizen_id)) == 1
    listed = service.bookings(sara, clock=world.clock, systems=world.systems)["items"]
    assert [b["bookingId"] for b in listed] == [again.result["bookingId"]]


def test_fail_after_commit_is_resolved_within_the_request(api, world):
    sara = subject_of(api, "Sara")
    slot = slots(world, PASIS_CLINIC, "boka-tid-direkt")[0]
    world.control("/sim/faults", {"operation": "MakeBooking", "mode": "fail-after-commit"})
    done = book(world, sara, PASIS_CLINIC, "boka-tid-direkt", slot["slotId"], key="k")
    assert [b["bookingId"] for b in held(world, pnr("Sara"))] == [done.result["bookingId"]]
    assert len(booking_messages(sara.citizen_id)) == 1


def test_the_reconciler_confirms_a_booking_left_in_between(api, world):
    from chalicelib.core.errors import ServiceUnavailable
    from chalicelib.web_booking import reconciler

    sara = subject_of(api, "Sara")
    slot = slots(world, PASIS_CLINIC, "boka-tid-direkt")[0]
    world.control("/sim/faults", {"operation": "MakeBooking", "mode": "fail-after-commit"})
    world.control("/sim/faults", {"operation": "GetBookingDetails", "mode": "error"})
    world.control("/sim/faults", {"operation": "MakeBooking", "mode": "error"})
    with pytest.raises(ServiceUnavailable):
        book(world, sara, PASIS_CLINIC, "boka-tid-direkt", slot["slotId"])  # no key: the citizen gives up
    assert reconciler.run(NOW, systems=world.systems).left == 0  # not due yet
    run = reconciler.run(NOW + timedelta(minutes=2), systems=world.systems)
    assert (run.confirmed, run.dropped, run.left) == (1, 0, 0)
    assert len(booking_messages(sara.citizen_id)) == 1
    assert reconciler.run(NOW + timedelta(minutes=3), systems=world.systems).confirmed == 0  # once


def test_the_reconciler_drops_what_never_reached_the_booking_system(api, world):
    from chalicelib.core.errors import ServiceUnavailable
    from chalicelib.web_booking import reconciler

    sara = subject_of(api, "Sara")
    slot = slots(world, PASIS_CLINIC, "boka-tid-direkt")[0]
    world.control("/sim/faults", {"operation": "MakeBooking", "mode": "slow", "delayMs": 6000})
    world.control("/sim/faults", {"operation": "GetBookingDetails", "mode": "error"})
    world.control("/sim/faults", {"operation": "MakeBooking", "mode": "error"})
    with pytest.raises(ServiceUnavailable) as timed_out:
        book(world, sara, PASIS_CLINIC, "boka-tid-direkt", slot["slotId"])
    assert timed_out.value.status in (503, 504)
    world.now[0] = NOW + timedelta(minutes=10)
    # the slow call went through after all: the reconciler finds it by its reference
    run = reconciler.run(world.now[0], systems=world.systems)
    assert run.confirmed + run.dropped == 1
    assert len(booking_messages(sara.citizen_id)) == run.confirmed


def test_a_booking_system_that_is_down_gives_503_and_changes_nothing(api, world):
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings
    from chalicelib.core.errors import ServiceUnavailable

    sara = subject_of(api, "Sara")
    slot = slots(world, PASIS_CLINIC, "boka-tid-direkt")[0]
    world.control("/sim/faults", {"operation": "*", "mode": "error", "count": -1})
    count = dynamo.client().scan(TableName=settings().main_table, Select="COUNT")["Count"]
    with pytest.raises(ServiceUnavailable) as down:
        book(world, sara, PASIS_CLINIC, "boka-tid-direkt", slot["slotId"], key="x")
    assert down.value.status == 503 and down.value.code == "booking-system-unavailable"
    assert dynamo.client().scan(TableName=settings().main_table, Select="COUNT")["Count"] == count


def invite(world: World, person: str, slot_count: int = 3, expires: str = "2027-01-19T09:00:00Z") -> dict[str, Any]:
    return dict(
        world.control(
            "/sim/invitations",
            {
                "system": "PASiS",
                "healthcareFacility": PASIS_CLINIC,
                "subjectOfCare": pnr(person),
                "slotCount": slot_count,
                "expiresAt": expires,
            },
        )
    )


def receive_invitation(world: World, offer: dict[str, Any], person: str) -> dict[str, Any]:
    from chalicelib.population.port import population_register
    from chalicelib.web_booking import invitations
    from chalicelib.web_booking.models import OfferedSlot

    return invitations.receive(
        system="PASiS",
        external_id=offer["invitationId"],
        personnummer=pnr(person),
        clinic_id=PASIS_CLINIC,
        slots=[OfferedSlot(s["slotId"], s["startsAt"], s["endsAt"]) for s in offer["slots"]],
        expires_at=at(offer["expiresAt"]),
        subject="Öppen kallelse: årskontroll",
        body="Välj en av tiderna.",
        clock=world.clock,
        register=population_register(),
    )


def test_r44_an_open_invitation_books_one_slot_and_releases_the_others(api, world):
    from chalicelib.inbox import service as inbox
    from chalicelib.web_booking import invitations, service

    sara = subject_of(api, "Sara")
    offer = invite(world, "Sara")
    answer = receive_invitation(world, offer, "Sara")
    assert answer["digital"] and not answer["paperNotice"]
    assert receive_invitation(world, offer, "Sara") == answer  # a replay
    items = [i for i in inbox.items(sara.citizen_id) if i["kind"] == "invitation"]
    assert [i["id"] for i in items] == [answer["invitationId"]] and items[0]["unread"]
    first, *others = [s["slotId"] for s in offer["slots"]]
    done = invitations.book(
        sara, answer["invitationId"], first, idempotency_key="i1", clock=world.clock, systems=world.systems
    )
    assert done.result["bookingId"]
    free = world.systems("PASiS").timeslots(PASIS_CLINIC, others)
    assert sorted(s.slot_id for s in free) == sorted(others)  # released for anyone
    with pytest.raises(service.InvitationUsed):
        invitations.book(
            sara, answer["invitationId"], others[0], idempotency_key="i2", clock=world.clock, systems=world.systems
        )
    replay = invitations.book(
        sara, answer["invitationId"], first, idempotency_key="i1", clock=world.clock, systems=world.systems
    )
    assert replay.result == done.result
    assert invitations.view(sara.citizen_id, answer["invitationId"], clock=world.clock)["state"] == "used"


def test_r44_an_expired_invitation_is_refused(api, world):
    from chalicelib.web_booking import invitations, service

    sara = subject_of(api, "Sara")
    offer = invite(world, "Sara", expires="2027-01-13T09:00:00Z")
    answer = receive_invitation(world, offer, "Sara")
    world.now[0] = at("2027-01-13T09:00:00Z")
    with pytest.raises(service.InvitationExpired) as gone:
        invitations.book(
            sara,
            answer["invitationId"],
            offer["slots"][0]["slotId"],
            idempotency_key=None,
            clock=world.clock,
            systems=world.systems,
        )
    assert gone.value.status == 410


def test_r44_a_slot_taken_by_someone_else_lists_the_free_ones(api, world):
    from chalicelib.web_booking import invitations, service

    sara = subject_of(api, "Sara")
    offer = invite(world, "Sara")
    answer = receive_invitation(world, offer, "Sara")
    taken = offer["slots"][1]["slotId"]
    world.simulator.holds.pop(taken)  # care gave the time to someone else in the booking system
    care_booking_of_slot = world.control(
        "/sim/bookings",
        {"system": "PASiS", "healthcareFacility": PASIS_CLINIC, "subjectOfCare": pnr("Erik"), "timeslotId": taken},
    )
    assert care_booking_of_slot["bookingId"]
    with pytest.raises(service.SlotTaken) as conflict:
        invitations.book(
            sara, answer["invitationId"], taken, idempotency_key="t", clock=world.clock, systems=world.systems
        )
    free = [s["slotId"] for s in conflict.value.extra["freeSlots"]]
    assert taken not in free and len(free) == 2
    done = invitations.book(
        sara, answer["invitationId"], free[0], idempotency_key="t2", clock=world.clock, systems=world.systems
    )
    assert done.result["bookingId"]


def test_an_invitation_for_someone_without_an_account_goes_on_paper(api, world):
    offer = invite(world, "Hugo")
    answer = receive_invitation(world, offer, "Hugo")
    assert answer == {"invitationId": None, "digital": False, "paperNotice": True, "paperReason": "no-account"}


# ---------------------------------------------------------------- over the routes, against the stack's simulator


def stack_sim(api: Any, path: str, body: dict[str, Any]) -> Any:
    import requests

    response = requests.post(api.stack.environment()["BOOKING_SIMULATOR_URL"] + path, json=body, timeout=5)
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def stack_simulator(api: Any) -> Iterator[None]:
    import requests

    from chalicelib.core import process

    base = api.stack.environment()["BOOKING_SIMULATOR_URL"]
    requests.post(base + "/sim/reset", json={}, timeout=5)
    process.reset()  # adapters and breakers of an earlier test's environment
    yield
    requests.delete(base + "/sim/faults", timeout=5)


def test_a_guardian_books_for_a_young_child_and_the_other_guardian_sees_it(api, stack_simulator):
    anna = api.token_for(pnr("Anna"))
    status, me, _ = api.call("GET", "/me", token=anna)
    elsa = next(c["citizenId"] for c in me["actingFor"] if c["name"].startswith("Elsa"))
    status, found, _ = api.call("GET", f"/clinics/{PASIS_CLINIC}/slots?caseTypeId=boka-tid-direkt", token=anna)
    assert status == 200 and found["items"], found
    slot = found["items"][0]["slotId"]
    request = {"clinicId": PASIS_CLINIC, "caseTypeId": "boka-tid-direkt", "slotId": slot}
    status, made, _ = api.call(
        "POST", f"/citizens/{elsa}/bookings", request, token=anna, headers={"Idempotency-Key": "e1"}
    )
    assert status == 201, made
    held_by_elsa = stack_sim(api, "/sim/bookings/search", {"subjectOfCare": pnr("Elsa")})["bookings"]
    assert [b["bookingId"] for b in held_by_elsa] == [made["bookingId"]]
    assert stack_sim(api, "/sim/bookings/search", {"subjectOfCare": pnr("Anna")})["bookings"] == []
    status, listed, _ = api.call("GET", f"/citizens/{elsa}/bookings", token=anna)
    assert [b["bookingId"] for b in listed["items"]] == [made["bookingId"]]
    assert listed["items"][0]["bookedBy"] == "citizen" and listed["items"][0]["canCancel"]
    erik = api.token_for(pnr("Erik"))  # the other guardian
    status, activity, _ = api.call("GET", f"/citizens/{elsa}/proxy-activity", token=erik)
    assert [a["what"] for a in activity["items"]] == ["booking-made"]
    assert activity["items"][0]["guardian"]["name"].startswith("Anna")
    status, page, _ = api.call("GET", f"/citizens/{elsa}/inbox", token=erik)
    booking = next(i for i in page["items"] if i["kind"] == "booking")
    status, item, _ = api.call("GET", f"/citizens/{elsa}/inbox/{booking['id']}", token=erik)
    assert item["booking"]["bookingId"] == made["bookingId"] and item["booking"]["change"] == "booked"


def test_the_invitation_in_the_inbox_shows_its_slots_and_state(api, stack_simulator):
    lars = api.token_for(pnr("Lars"))
    offer = stack_sim(
        api,
        "/sim/invitations",
        {"system": "PASiS", "healthcareFacility": PASIS_CLINIC, "subjectOfCare": pnr("Lars"), "slotCount": 3},
    )
    from local.clients import machine_token

    machine = machine_token("pasis-test", ["bookings:write"])
    body = {
        "system": "PASiS",
        "invitationId": offer["invitationId"],
        "personnummer": pnr("Lars"),
        "clinicId": PASIS_CLINIC,
        "slots": offer["slots"],
        "expiresAt": offer["expiresAt"],
        "notice": {"subject": "Öppen kallelse", "body": "Välj en tid."},
    }
    status, answer, _ = api.call("POST", "/integrations/invitations", body, token=machine)
    assert status == 202 and answer["digital"], answer
    assert api.call("POST", "/integrations/invitations", body, token=machine)[1] == answer
    status, item, _ = api.call("GET", f"/citizens/me/inbox/{answer['invitationId']}", token=lars)
    assert item["kind"] == "invitation" and item["invitation"]["state"] == "open"
    assert [s["slotId"] for s in item["invitation"]["slots"]] == [s["slotId"] for s in offer["slots"]]
    path = f"/citizens/me/invitations/{answer['invitationId']}/book"
    status, made, _ = api.call("POST", path, {"slotId": offer["slots"][2]["slotId"]}, token=lars)
    assert status == 201, made
    status, again, _ = api.call("POST", path, {"slotId": offer["slots"][0]["slotId"]}, token=lars)
    assert status == 409 and again["code"] == "invitation-used"
    status, item, _ = api.call("GET", f"/citizens/me/inbox/{answer['invitationId']}", token=lars)
    assert item["invitation"]["state"] == "used" and item["invitation"]["bookingId"] == made["bookingId"]


@pytest.mark.parametrize(
    "case",
    [
        (f"/clinics/{PASIS_CLINIC}/slots?caseTypeId=boka-tid-direkt&from=２０２７-01-01", None, 422, "invalid-date"),
        (
            f"/clinics/{PASIS_CLINIC}/slots?caseTypeId=boka-tid-direkt&from=2027-01-01&to=2027-03-01",
            None,
            422,
            "invalid-date-range",
        ),
        (f"/clinics/{PASIS_CLINIC}/slots", None, 422, "case-type-required"),
        ("/clinics/NOPE/slots?caseTypeId=boka-tid-direkt", None, 404, "clinic-not-found"),
        (
            "/citizens/me/bookings",
            {"clinicId": PASIS_CLINIC, "caseTypeId": "boka-tid-direkt", "slotId": "x" * 200},
            422,
            None,
        ),
        (
            "/citizens/me/bookings",
            {"clinicId": PASIS_CLINIC, "caseTypeId": "fraga-sjukskoterskan", "slotId": "T-1"},
            422,
            "web-booking-not-offered",
        ),
        ("/citizens/me/bookings/NOPE/cancel", {}, 404, "booking-not-found"),
        ("/citizens/me/invitations/NOPE/book", {"slotId": "T-1"}, 404, "invitation-not-found"),
    ],
)
def test_bad_booking_requests_are_clear_4xx(api, stack_simulator, case):
    path, body, status, code = case
    lars = api.token_for(pnr("Lars"))
    method = "GET" if body is None else "POST"
    got, problem, headers = api.call(method, path, body, token=lars)
    assert got == status, problem
    assert headers["content-type"].startswith("application/problem+json")
    if code:
        assert problem["code"] == code


def test_a_booking_system_that_is_down_answers_503_with_retry_after(api, stack_simulator):
    lars = api.token_for(pnr("Lars"))
    stack_sim(api, "/sim/faults", {"operation": "*", "mode": "error", "count": -1})
    status, problem, headers = api.call("GET", f"/clinics/{PMO_CLINIC}/slots?caseTypeId=boka-tid-online", token=lars)
    assert status == 503 and problem["code"] == "booking-system-unavailable" and headers["retry-after"]
    status, listed, _ = api.call("GET", "/citizens/me/bookings", token=lars)
    assert status == 200 and sorted(listed["unavailableSystems"]) == ["PASiS", "PMO"]
