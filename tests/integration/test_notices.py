"""Appointment notices (issue 9; R-40..R-43, R-41a, R-11) against DynamoDB Local: intake, the paper
decision, the release at 18:00 Stockholm, changes before and after release, exactly-once releases."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.integration.admin_helpers import lock
from tests.integration.case_helpers import CLINIC, OTHER_CLINIC, RECEIVER, staff_token
from tests.integration.notice_helpers import (
    WINTER_DAY,
    RecordingBus,
    citizen_id,
    event,
    notices_in_inbox,
    receive,
    release_all,
    stores_with,
)
from tests.integration.test_settings import full_settings
from tests.support import pnr

BOOKED = f"{WINTER_DAY}T13:00:00Z"  # 14:00 in Stockholm
RELEASE = f"{WINTER_DAY}T17:00:00Z"  # 18:00 in Stockholm
JUST_BEFORE = f"{WINTER_DAY}T16:59:59Z"


@pytest.fixture
def digital_sara(api: Any) -> str:
    token = api.token_for(pnr("Sara"))
    full_settings(api, token)  # SMS, shared details, digital only
    return token


def _view(booking_id: str = "B-1", now: str = RELEASE) -> dict[str, Any]:
    from chalicelib.core.clock import fixed_clock
    from chalicelib.notices import service
    from tests.support import at

    return service.view("PASiS", booking_id, clock=fixed_clock(at(now)))


def test_a_booking_at_14_reaches_the_inbox_at_18_and_not_before(digital_sara: str) -> None:
    decision = receive(event(), now=BOOKED)
    assert decision["paperNotice"] is False and decision["paperReason"] is None
    assert decision["releaseAt"] == "2027-01-12T17:00:00.000Z" and decision["state"] == "pending"

    assert release_all(JUST_BEFORE)["released"] == 0
    assert notices_in_inbox("Sara") == []
    assert _view(now=JUST_BEFORE)["state"] == "pending"

    run = release_all(RELEASE)
    assert run["released"] == 1 and run["read"] == 1  # read by key through the sparse index: one item
    (notice,) = notices_in_inbox("Sara")
    assert notice["subject"] == "Kallelse till mottagningsbesök"
    assert notice["body"] == "Välkommen till ditt besök. Ta med legitimation."
    assert notice["notice"]["place"] == "Vårdcentralen Centrum, plan 2"
    assert notice["notice"]["startsAt"] == "2027-01-20T08:00:00.000Z" and notice["notice"]["clinicId"] == CLINIC
    assert notice["unread"] is True and notice["arrivalId"] and notice["gsi4pk"].startswith("NOTIFYDUE#")
    view = _view()
    assert view["state"] == "released" and view["releasedAt"] == "2027-01-12T17:00:00.000Z"
    assert view["read"] is False and view["followUp"]["state"] == "due"

    assert release_all(RELEASE) == {"released": 0, "skipped": 0, "read": 0}  # the index no longer holds it
    assert len(notices_in_inbox("Sara")) == 1


def test_the_same_event_three_times_and_an_older_one_late_change_nothing(digital_sara: str) -> None:
    from chalicelib.core import dynamo
    from chalicelib.core.config import settings
    from chalicelib.notices.repository import notice_key

    first = receive(event(), now=BOOKED)
    stored = dynamo.client().get_item(TableName=settings().main_table, Key=notice_key("PASiS", "B-1"))["Item"]
    for _ in range(2):
        assert receive(event(), now=BOOKED) == first
    late = event(bookedAt=f"{WINTER_DAY}T12:00:00Z", status="rebooked", startsAt="2027-01-25T08:00:00Z")
    assert receive(late, now=BOOKED) == first
    again = dynamo.client().get_item(TableName=settings().main_table, Key=notice_key("PASiS", "B-1"))["Item"]
    assert again == stored  # nothing written at the storage key
    release_all(RELEASE)
    assert [n["notice"]["startsAt"] for n in notices_in_inbox("Sara")] == ["2027-01-20T08:00:00.000Z"]


def test_cancelled_before_release_sends_nothing(digital_sara: str) -> None:
    receive(event(), now=BOOKED)
    cancelled = receive(event(status="cancelled", bookedAt=f"{WINTER_DAY}T16:00:00Z"), now=f"{WINTER_DAY}T16:00:00Z")
    assert cancelled["state"] == "cancelled"
    assert release_all(RELEASE)["released"] == 0
    assert notices_in_inbox("Sara") == []
    assert _view()["state"] == "cancelled"


def test_rebooked_before_release_gives_one_notice_with_the_final_time(digital_sara: str) -> None:
    receive(event(), now=BOOKED)
    moved = event(status="rebooked", bookedAt=f"{WINTER_DAY}T15:00:00Z", startsAt="2027-01-27T09:30:00Z")
    assert receive(moved, now=f"{WINTER_DAY}T15:00:00Z")["releaseAt"] == "2027-01-12T17:00:00.000Z"
    assert release_all(RELEASE)["released"] == 1
    (notice,) = notices_in_inbox("Sara")
    assert notice["notice"]["startsAt"] == "2027-01-27T09:30:00.000Z"


def test_cancelled_or_moved_after_release_puts_a_new_message_in_the_inbox(digital_sara: str) -> None:
    receive(event(), now=BOOKED)
    receive(event(bookingId="B-2", startsAt="2027-01-21T08:00:00Z"), now=BOOKED)
    release_all(RELEASE)
    later = f"{WINTER_DAY}T19:00:00Z"
    receive(event(status="cancelled", bookedAt=later), now=later)
    receive(event(bookingId="B-2", status="rebooked", bookedAt=later, startsAt="2027-01-28T10:00:00Z"), now=later)
    receive(event(status="cancelled", bookedAt=later), now=later)  # a replay: no second message

    from chalicelib.clinics import service as clinics

    name = clinics.get(CLINIC).name
    notices = notices_in_inbox("Sara")
    changes = sorted((n["notice"].get("change"), n["subject"]) for n in notices if n["notice"].get("change"))
    assert changes == [
        ("cancelled", f"Avbokad tid: {name}"),
        ("moved", f"Ändrad tid: {name}"),
    ]
    assert all(n["unread"] and n["arrivalId"] for n in notices)  # each is notified
    assert len(notices) == 4
    assert _view()["state"] == "cancelled" and _view()["followUp"]["state"] == "cancelled"


def test_a_booking_made_after_18_is_released_at_once(digital_sara: str) -> None:
    evening = f"{WINTER_DAY}T18:30:00Z"  # 19:30 in Stockholm
    decision = receive(event(bookedAt=evening), now=evening)
    assert decision["state"] == "released" and decision["releaseAt"] == "2027-01-12T18:30:00.000Z"
    assert len(notices_in_inbox("Sara")) == 1


@pytest.mark.parametrize(
    ("person", "prepare", "reason", "in_inbox"),
    [
        ("Erik", "login", "digital-only-off", True),
        ("Anna", "locked", "account-locked", True),  # the inbox still receives it
        ("Johan", None, "no-account", False),
        ("Gustav", None, "deceased", False),
        ("Sara", "digital", "enclosures", True),  # printed by hand, and digital too
    ],
)
def test_paper_notice_and_its_reason(api: Any, person: str, prepare: str | None, reason: str, in_inbox: bool) -> None:
    if prepare:
        token = api.token_for(pnr(person))
        if prepare == "digital":
            full_settings(api, token)
        if prepare == "locked":
            assert lock(pnr(person))["ok"]
    body = event(person=person)
    if reason == "enclosures":
        body["notice"]["enclosures"] = True
    decision = receive(body, now=BOOKED)
    assert decision["paperNotice"] is True and decision["paperReason"] == reason
    release_all(RELEASE)
    assert _view()["state"] == "released"
    if in_inbox:
        assert len(notices_in_inbox(person)) == 1


def test_the_paper_decision_is_taken_once_per_booking(api: Any, digital_sara: str) -> None:
    """R-41a: digital only turned off after the booking changes nothing for it, only for the next."""
    from tests.integration.test_settings import patch

    assert receive(event(), now=BOOKED)["paperNotice"] is False
    assert patch(api, digital_sara, {"digitalOnly": False})[0] == 200
    moved = event(status="rebooked", bookedAt=f"{WINTER_DAY}T14:00:00Z", startsAt="2027-01-22T08:00:00Z")
    assert receive(moved, now=f"{WINTER_DAY}T14:00:00Z")["paperNotice"] is False
    assert receive(event(bookingId="B-next"), now=f"{WINTER_DAY}T14:00:00Z")["paperReason"] == "digital-only-off"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"personnummer": "189001019802"}, "unknown-person"),  # a test number the register does not hold
        ({"clinicId": "SE2321000016-9999"}, "unknown-clinic"),
        ({"startsAt": f"{WINTER_DAY}T12:00:00Z"}, "starts-in-the-past"),
        ({"bookedAt": f"{WINTER_DAY}T15:00:00Z"}, "booked-in-the-future"),
    ],
)
def test_unacceptable_events_are_422_with_a_code_and_write_nothing(
    digital_sara: str, changes: dict[str, Any], code: str
) -> None:
    from chalicelib.core.errors import InvalidInput
    from chalicelib.notices.repository import DYNAMO

    with pytest.raises(InvalidInput) as refused:
        receive(event(**changes), now=BOOKED)
    assert refused.value.code == code
    assert DYNAMO.get("PASiS", "B-1") is None


def test_two_runs_at_once_release_every_notice_exactly_once(digital_sara: str) -> None:
    for n in range(30):
        receive(event(bookingId=f"B-{n}"), now=BOOKED)
    totals: list[dict[str, int]] = []
    runs = [threading.Thread(target=lambda: totals.append(release_all(RELEASE))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sum(t["released"] for t in totals) == 30
    assert len(notices_in_inbox("Sara")) == 30


def test_a_run_stopped_half_way_then_repeated_releases_each_notice_once(
    digital_sara: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.notices import release

    for n in range(30):
        receive(event(bookingId=f"B-{n}"), now=BOOKED)
    monkeypatch.setattr(release, "PAGE", 1)
    calls = {"n": 0}
    real = release._release_one

    def dies_after_ten(*args: Any) -> str:
        calls["n"] += 1
        if calls["n"] > 10:
            raise RuntimeError("the function was killed")
        return real(*args)

    monkeypatch.setattr(release, "_release_one", dies_after_ten)
    with pytest.raises(RuntimeError):
        release_all(RELEASE)
    assert len(notices_in_inbox("Sara")) == 10
    monkeypatch.setattr(release, "_release_one", real)
    # Out of time after each page: each run releases a page and says it is not finished.
    stopped = release_all(RELEASE, time_left=lambda: False)
    assert 0 < stopped["released"] <= release.SHARDS
    release_all(RELEASE)
    assert len(notices_in_inbox("Sara")) == 30


def test_an_unread_notice_is_reported_to_the_booking_system(digital_sara: str) -> None:
    from chalicelib.inbox import service as inbox
    from chalicelib.notices import release
    from tests.support import at

    receive(event(), now=BOOKED)  # visit on the 20th: reported 3 days before, on the 17th
    receive(event(bookingId="B-read"), now=BOOKED)
    release_all(RELEASE)
    read = next(n for n in notices_in_inbox("Sara") if n["notice"]["bookingId"] == "B-read")
    inbox.mark_read(citizen_id("Sara"), read["id"])
    assert _view("B-1")["followUp"]["dueAt"] == "2027-01-17T08:00:00.000Z"

    bus = RecordingBus()
    stores = stores_with(bus=bus)
    early = [release.report_unread(s, at("2027-01-17T07:59:00Z"), stores=stores) for s in range(release.SHARDS)]
    assert sum(r.unread + r.read for r in early) == 0 and bus.published == []
    for shard in range(release.SHARDS):
        release.report_unread(shard, at("2027-01-17T08:00:00Z"), stores=stores)
    assert [(kind, detail["bookingId"]) for kind, detail in bus.published] == [("NoticeUnread", "B-1")]
    assert "personnummer" not in str(bus.published)
    assert _view("B-1")["followUp"]["state"] == "unread" and _view("B-1")["read"] is False
    assert _view("B-read")["followUp"]["state"] == "read" and _view("B-read")["read"] is True
    for shard in range(release.SHARDS):  # reported once
        release.report_unread(shard, at("2027-01-18T08:00:00Z"), stores=stores)
    assert len(bus.published) == 1


# ---------------------------------------------------------------- HTTP and the bookings queue


def booking_token(scope: str = "bookings:write") -> str:
    from local.clients import machine_token

    return machine_token("pasis-jonkoping", [scope])


def test_the_http_intake_needs_the_bookings_scope_and_answers_202(api: Any, digital_sara: str) -> None:
    from datetime import UTC, datetime, timedelta

    soon = datetime.now(UTC) + timedelta(days=3)
    body = event(bookedAt=datetime.now(UTC).isoformat(), startsAt=soon.isoformat())
    assert api.call("POST", "/integrations/bookings", body)[0] == 401
    assert api.call("POST", "/integrations/bookings", body, token=booking_token("contact-details:read"))[0] == 403
    assert api.call("POST", "/integrations/bookings", body, token=staff_token(RECEIVER))[0] == 401  # not a system
    status, decision, _ = api.call("POST", "/integrations/bookings", body, token=booking_token())
    assert status == 202 and decision["paperNotice"] is False and decision["noticeId"]
    status, view, _ = api.call("GET", "/integrations/bookings/PASiS/B-1", token=booking_token())
    assert status == 200 and view["noticeId"] == decision["noticeId"] and "personnummer" not in view
    for path in (
        "/integrations/bookings/PASiS/nope",
        "/integrations/bookings/Other/B-1",
        "/integrations/bookings/PASiS/%C3%A5",
    ):
        status, problem, _ = api.call("GET", path, token=booking_token())
        assert status == 404 and problem["code"] == "booking-not-found"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "booked"},
        event(personnummer="１９８５０４０２２３９６"),  # full-width digits
        event(startsAt="tomorrow"),
        event(status="booked", notice=None),
        event(bookingId="../../etc"),
        event(sequence=-1),
    ],
)
def test_bad_booking_events_are_422_and_write_nothing(api: Any, body: dict[str, Any]) -> None:
    from chalicelib.notices.repository import DYNAMO

    status, problem, headers = api.call("POST", "/integrations/bookings", body, token=booking_token())
    assert status == 422 and headers["content-type"] == "application/problem+json", problem
    assert DYNAMO.get("PASiS", "B-1") is None


def test_staff_see_whether_the_notice_was_read_and_the_look_is_audited(api: Any, digital_sara: str) -> None:
    from chalicelib.audit import service as audit

    receive(event(), now=BOOKED)
    release_all(RELEASE)
    path = f"/staff/clinics/{CLINIC}/bookings/PASiS/B-1"
    status, view, _ = api.call("GET", path, token=staff_token(RECEIVER))
    assert status == 200 and view["read"] is False and view["state"] == "released"
    reads = [
        e for e in audit.entries_for(audit.citizen_subject(citizen_id("Sara"))) if e["action"] == "read.booking-notice"
    ]
    assert len(reads) == 1 and reads[0]["actor"] == RECEIVER
    assert (
        api.call("GET", f"/staff/clinics/{OTHER_CLINIC}/bookings/PASiS/B-1", token=staff_token(RECEIVER))[0] == 404
    )  # no role there


def _sqs_record(message_id: str, body: str) -> dict[str, Any]:
    """A record as Lambda's SQS event source hands it over."""
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-north-1:000000000000:bookings",
        "awsRegion": "eu-north-1",
    }


def test_the_bookings_queue_takes_the_same_events_and_drops_what_can_never_be_accepted(digital_sara: str) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    from local.pump import app_functions, invoke

    soon = datetime.now(UTC) + timedelta(days=3)
    good = event(bookedAt=datetime.now(UTC).isoformat(), startsAt=soon.isoformat())
    bodies = [json.dumps(good), json.dumps(event(bookingId="B-2", clinicId="SE2321000016-9999")), "[[["]
    records = [_sqs_record(f"m{n}", body) for n, body in enumerate(bodies)]
    result = invoke(app_functions(), "booking_events", {"Records": records})
    assert result == {"batchItemFailures": []}
    from chalicelib.notices.rules import release_at

    booked = datetime.fromisoformat(good["bookedAt"])
    due_now = release_at(booked) <= booked  # booked at or after 18:00 in Stockholm: released at once
    assert _view(now=good["bookedAt"])["state"] == ("released" if due_now else "pending")
    from chalicelib.notices.repository import DYNAMO

    assert DYNAMO.get("PASiS", "B-2") is None


@pytest.mark.parametrize(
    ("booked_at", "visit", "second_before", "release"),
    [
        # 17:30 on the day summer time starts: 18:00 local is 16:00 UTC
        ("2026-03-29T15:30:00Z", "2026-04-02T08:00:00Z", "2026-03-29T15:59:59Z", "2026-03-29T16:00:00Z"),
        # 17:30 on the day summer time ends: 18:00 local is 17:00 UTC
        ("2026-10-25T16:30:00Z", "2026-10-29T08:00:00Z", "2026-10-25T16:59:59Z", "2026-10-25T17:00:00Z"),
    ],
)
def test_daylight_saving_days_release_at_18_local(
    digital_sara: str, booked_at: str, visit: str, second_before: str, release: str
) -> None:
    decision = receive(event(bookedAt=booked_at, startsAt=visit), now=booked_at)
    assert decision["releaseAt"] == release.replace("Z", ".000Z")
    assert release_all(second_before)["released"] == 0
    assert release_all(release)["released"] == 1
    assert len(notices_in_inbox("Sara")) == 1


def test_the_unread_report_reaches_the_bookings_bus(digital_sara: str) -> None:
    """The real publisher on the local bus (moto): the event arrives whole, with ids and no personal data."""
    import json
    import os

    from chalicelib.core.clients import provider
    from chalicelib.notices import release
    from tests.support import at

    sqs = provider("sqs")
    tap = sqs.get_queue_url(QueueName=os.environ["BOOKINGS_BUS_TAP_QUEUE"])["QueueUrl"]
    sqs.purge_queue(QueueUrl=tap)
    receive(event(), now=BOOKED)
    release_all(RELEASE)
    for shard in range(release.SHARDS):
        release.report_unread(shard, at("2027-01-17T08:00:00Z"))
    messages = sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    events = [json.loads(m["Body"]) for m in messages]
    assert [(e["source"], e["detail-type"], e["detail"]["bookingId"]) for e in events] == [
        ("e-services.notices", "NoticeUnread", "B-1")
    ]
    assert pnr("Sara") not in json.dumps(events)
