"""Notifications (R-11, R-12): inbox_events → NotificationsQueue → send_notifications → moto SNS/SES,
sweep_notifications (the outbox's reconciler) and delivery_feedback. Real stream records from DynamoDB
Local, real SQS/SNS/SES in moto; the citizen's notification targets and contacts come from a small fake
of chalicelib/settings' contract."""

from __future__ import annotations

import base64
import gzip
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from infra import definitions
from local import pump
from tests.integration.admin_helpers import lock
from tests.integration.case_helpers import HANDLER, staff_token, start_case
from tests.support import pnr

SMS_TEXT = (
    "Du har ett meddelande i e-tjänsterna på 1177. Meddelandet finns i inkorgen när du loggat in på 1177. "
    "Obs! Du kan inte svara på detta sms."
)
MOBILE = "+46701740605"  # PTS's range for fiction
EMAIL = "sara.berg@example.se"


class FakeSettings:
    """The settings contract: SMS and e-mail on for every citizen; deliveries recorded."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, str]] = [("self", "sms"), ("self", "email")]
        self.deliveries: list[dict[str, Any]] = []

    def targets_in(self, settings: Any) -> list[tuple[str, str]]:
        return list(self.targets)

    def contact_in(self, settings: Any, recipient: str, channel: str) -> str | None:
        return MOBILE if channel == "sms" else EMAIL

    def record_delivery(
        self, citizen_id: str, recipient: str, channel: str, *, status: str, at: datetime, notification_id: str
    ) -> None:
        self.deliveries.append(
            {
                "citizenId": citizen_id,
                "recipient": recipient,
                "channel": channel,
                "status": status,
                "id": notification_id,
            }
        )


SENT: list[dict[str, Any]] = []


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> FakeSettings:
    """The fake settings, fresh provider clients, and a record of what was handed to moto's SNS/SES.

    (moto's /moto-api/data.json, which the dev CLI's `outbox` reads, fails once another test has deleted
    a bucket that held objects, so these tests record the calls that reach moto instead; the e2e test
    reads `outbox`.)"""
    from chalicelib.core import process
    from chalicelib.notifications import rate, repository, service

    fake = FakeSettings()
    monkeypatch.setattr(service, "settings_port", lambda: fake)
    monkeypatch.setenv(rate.ENV, "1000")  # moto has no quota; the rate limit has its own test
    process.reset()  # the rate and the provider clients are process-wide
    SENT.clear()
    sns, ses = repository.sns(), repository.ses()
    real_publish, real_send_email = sns.publish, ses.send_email

    def publish(**kwargs: Any) -> Any:
        response = real_publish(**kwargs)
        SENT.append(
            {
                "channel": "sms",
                "to": kwargs["PhoneNumber"],
                "subject": None,
                "body": kwargs["Message"],
                "id": response["MessageId"],
                "attributes": kwargs.get("MessageAttributes"),
            }
        )
        return response

    def send_email(**kwargs: Any) -> Any:
        response = real_send_email(**kwargs)
        SENT.append(
            {
                "channel": "email",
                "to": kwargs["Destination"]["ToAddresses"][0],
                "subject": kwargs["Message"]["Subject"]["Data"],
                "body": kwargs["Message"]["Body"]["Text"]["Data"],
                "html": kwargs["Message"]["Body"].get("Html"),
                "id": response["MessageId"],
                "source": kwargs["Source"],
            }
        )
        return response

    monkeypatch.setattr(sns, "publish", publish)
    monkeypatch.setattr(ses, "send_email", send_email)
    return fake


@pytest.fixture
def queue_url(stack: Any) -> str:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=os.environ["NOTIFICATIONS_QUEUE"])["QueueUrl"]
    queued(str(url))  # what an earlier test left (PurgeQueue is allowed once a minute only)
    return str(url)


class Stream:
    """Collects the main table's stream records from now on (as Lambda's event source would see them)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        consumer = definitions.StreamConsumer(function="collect", table=definitions.MAIN_TABLE, batch_size=100)
        self.poller = pump.StreamPoller(os.environ["MAIN_TABLE"], consumer, {"collect": self._collect})

    def _collect(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.records.extend(event["Records"])
        return {"batchItemFailures": []}

    def drain(self) -> list[dict[str, Any]]:
        """Everything written so far: polls until the stream has been quiet for a while (DynamoDB
        Local may show a record a little after the write that made it, more so on a busy machine)."""
        quiet = 0
        while quiet < 5:
            if self.poller.poll() == 0:
                quiet += 1
                time.sleep(0.02)
            else:
                quiet = 0
        records, self.records = self.records, []
        return records


def inbox_events(records: list[dict[str, Any]]) -> dict[str, Any]:
    from chalicelib.notifications.events import inbox_events as handler

    return handler({"Records": records}, pump.FakeContext("inbox_events"))


def queued(url: str) -> list[dict[str, Any]]:
    """Takes what is on the queue off it, as Lambda's SQS records (redelivery: the tests pass them again)."""
    sqs = boto3.client("sqs")
    records = []
    for _ in range(3):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            records.append(
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-north-1:000000000000:notifications",
                    "awsRegion": "eu-north-1",
                }
            )
    return records


def send(records: list[dict[str, Any]]) -> dict[str, Any]:
    from chalicelib.notifications.events import send_notifications

    return send_notifications({"Records": records}, pump.FakeContext("send_notifications"))


def outbox() -> list[dict[str, Any]]:
    """What moto's SNS and SES accepted during this test."""
    return list(SENT)


def notification(provider_message_id: str) -> dict[str, Any]:
    from chalicelib.notifications import repository

    item = repository.by_provider_message(provider_message_id)
    assert item is not None
    return item


def staff_answer(api: Any, citizen: str, stream: Stream) -> tuple[str, list[dict[str, Any]]]:
    """The citizen writes (no notification), then care answers (one arrival)."""
    case_id = start_case(api, citizen)[1]["caseId"]
    written = stream.drain()
    status, _, _ = api.call(
        "POST",
        f"/staff/cases/{case_id}/messages",
        {"kind": "answer", "body": "Smörj med kräm."},
        token=staff_token(HANDLER),
    )
    assert status == 201
    return case_id, written + stream.drain()


def test_a_staff_answer_notifies_once_by_sms_and_email_without_content(api, settings, queue_url):
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    before = len(outbox())
    _, records = staff_answer(api, citizen, stream)
    assert inbox_events(records) == {"batchItemFailures": []}
    messages = queued(queue_url)
    assert len(messages) == 1  # one message per arrival
    assert set(json.loads(messages[0]["body"])) == {"citizenId", "itemId", "arrivalId"}  # ids only
    assert send(messages) == {"batchItemFailures": []}

    sent = outbox()[before:]
    assert sorted(m["channel"] for m in sent) == ["email", "sms"]
    sms = next(m for m in sent if m["channel"] == "sms")
    email = next(m for m in sent if m["channel"] == "email")
    assert sms["to"] == MOBILE and sms["body"] == SMS_TEXT
    assert sms["attributes"]["AWS.SNS.SMS.SMSType"]["StringValue"] == "Transactional"
    assert sms["attributes"]["AWS.SNS.SMS.SenderID"]["StringValue"] == "1177"
    assert email["to"] == EMAIL and email["html"] is None  # text only
    assert notification(sms["id"])["sentAt"] and notification(email["id"])["sentAt"]
    text = f"{email['subject']}\n{email['body']}"
    for leak in ("Utslag", "utslag", "Smörj", "Vårdcentralen", "Storgatan", "http", "www.", "Sara", pnr("Sara")):
        assert leak not in text
    # The stream record again (Lambda redelivers): nothing new is created or sent.
    assert inbox_events(records) == {"batchItemFailures": []}
    again = queued(queue_url)
    assert send(again) == {"batchItemFailures": []}
    assert len(outbox()) == before + 2


def test_a_crash_after_sending_before_the_ack_sends_nothing_twice(api, settings, queue_url, monkeypatch):
    from chalicelib.notifications import service

    settings.targets = [("self", "sms")]
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    before = len(outbox())
    _, records = staff_answer(api, citizen, stream)
    inbox_events(records)
    messages = queued(queue_url)
    assert len(messages) == 1

    # Crash right after the provider id is stored, before the message is acknowledged.
    real_put_final = service.repository.put_final

    def crash(*args: Any, **kwargs: Any) -> None:
        real_put_final(*args, **kwargs)
        raise RuntimeError("the function died")

    monkeypatch.setattr(service.repository, "put_final", crash)
    assert send(messages) == {"batchItemFailures": [{"itemIdentifier": messages[0]["messageId"]}]}
    monkeypatch.setattr(service.repository, "put_final", real_put_final)
    assert send(messages) == {"batchItemFailures": []}  # the redelivery sees the provider id and stops
    assert send(messages) == {"batchItemFailures": []}  # and once more
    sms = [m for m in outbox()[before:] if m["channel"] == "sms"]
    assert len(sms) == 1


def test_a_throttled_provider_is_retried_and_delivered(api, settings, queue_url, monkeypatch):
    from botocore.exceptions import ClientError

    from chalicelib.notifications import repository

    settings.targets = [("self", "sms")]
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    before = len(outbox())
    _, records = staff_answer(api, citizen, stream)
    inbox_events(records)
    messages = queued(queue_url)
    sns = repository.sns()
    real_publish = sns.publish
    throttles = {"left": 2}

    def publish(**kwargs: Any) -> Any:
        if throttles["left"]:
            throttles["left"] -= 1
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")
        return real_publish(**kwargs)

    monkeypatch.setattr(sns, "publish", publish)
    failed = {"batchItemFailures": [{"itemIdentifier": messages[0]["messageId"]}]}
    assert send(messages) == failed
    assert send(messages) == failed
    assert send(messages) == {"batchItemFailures": []}
    sms = [m for m in outbox()[before:] if m["channel"] == "sms"]
    assert len(sms) == 1 and sms[0]["body"] == SMS_TEXT


def test_a_permanent_input_error_is_a_technical_failure_and_not_retried(api, settings, queue_url, monkeypatch):
    from botocore.exceptions import ClientError

    from chalicelib.notifications import repository

    settings.targets = [("self", "sms")]
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    _, records = staff_answer(api, citizen, stream)
    inbox_events(records)
    messages = queued(queue_url)

    def publish(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "InvalidParameter", "Message": "bad number"}}, "Publish")

    monkeypatch.setattr(repository.sns(), "publish", publish)
    assert send(messages) == {"batchItemFailures": []}
    assert [d["status"] for d in settings.deliveries] == ["technical-failure"]


def _delivered(api: Any, settings: FakeSettings, queue_url: str) -> dict[str, str]:
    """Sends one SMS and one e-mail; returns the provider message id per channel."""
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    before = len(outbox())
    _, records = staff_answer(api, citizen, stream)
    inbox_events(records)
    send(queued(queue_url))
    from chalicelib.notifications import repository

    ids = {}
    for message in outbox()[before:]:
        item = repository.by_provider_message(message["id"])
        assert item is not None and item["channel"] == message["channel"]
        ids[message["channel"]] = message["id"]
    assert len(ids) == 2
    return ids


def test_delivery_feedback_bounces_and_sms_failures_reach_record_delivery(api, settings, queue_url):
    from chalicelib.notifications.events import delivery_feedback

    ids = _delivered(api, settings, queue_url)
    bounce = {
        "eventType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": EMAIL}]},
        "mail": {"messageId": ids["email"]},
    }
    sns_event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(bounce)}}]}
    assert delivery_feedback(sns_event, None) == {"handled": 1, "ignored": 0}
    log_line = {
        "notification": {"messageId": ids["sms"], "timestamp": "2026-11-22 10:00:00.000"},
        "delivery": {"destination": MOBILE, "providerResponse": "Invalid phone number", "smsType": "Transactional"},
        "status": "FAILURE",
    }
    payload = {"logEvents": [{"id": "1", "timestamp": 0, "message": json.dumps(log_line)}]}
    logs_event = {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}
    assert delivery_feedback(logs_event, None) == {"handled": 1, "ignored": 0}

    assert notification(ids["email"])["status"] == "permanent-failure"
    assert notification(ids["sms"])["status"] == "permanent-failure"
    assert sorted((d["channel"], d["status"]) for d in settings.deliveries) == [
        ("email", "permanent-failure"),
        ("sms", "permanent-failure"),
    ]
    # Redelivered feedback, and a late "delivered", change nothing.
    delivery_feedback(sns_event, None)
    late = {"eventType": "Delivery", "mail": {"messageId": ids["email"]}}
    delivery_feedback({"Records": [{"Sns": {"Message": json.dumps(late)}}]}, None)
    assert notification(ids["email"])["status"] == "permanent-failure"
    # Unknown message ids (not ours) are ignored.
    other = {"eventType": "Delivery", "mail": {"messageId": "not-ours"}}
    assert delivery_feedback({"Records": [{"Sns": {"Message": json.dumps(other)}}]}, None) == {
        "handled": 0,
        "ignored": 1,
    }


def test_delivery_success_is_recorded(api, settings, queue_url):
    from chalicelib.notifications.events import delivery_feedback

    ids = _delivered(api, settings, queue_url)
    event = {"eventType": "Delivery", "mail": {"messageId": ids["email"]}}
    delivery_feedback({"Records": [{"Sns": {"Message": json.dumps(event)}}]}, None)
    assert notification(ids["email"])["status"] == "delivered"
    assert notification(ids["sms"])["status"] == "sending"
    assert settings.deliveries[-1]["status"] == "delivered"


def test_locked_account_gets_no_notification(api, settings, queue_url):
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    case_id = start_case(api, citizen)[1]["caseId"]
    assert lock(pnr("Sara"), requested_by="citizen")["ok"]
    api.call("POST", f"/staff/cases/{case_id}/messages", {"kind": "answer", "body": "Svar"}, token=staff_token(HANDLER))
    records = stream.drain()
    from chalicelib.notifications import service

    assert any(service.arrival(r) for r in records)  # something did arrive
    before = len(outbox())
    assert inbox_events(records) == {"batchItemFailures": []}
    assert send(queued(queue_url)) == {"batchItemFailures": []}
    assert outbox()[before:] == []  # nothing sent
    assert due_markers() == []  # and nothing left for the sweeper: the arrival is done


def test_what_the_citizen_writes_notifies_nobody(api, settings, queue_url):
    from chalicelib.notifications import service

    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    case_id = start_case(api, citizen)[1]["caseId"]
    status, _, _ = api.call("POST", f"/citizens/me/cases/{case_id}/messages", {"body": "Ett tillägg"}, token=citizen)
    assert status == 201
    records = stream.drain()
    assert records and not any(service.arrival(r) for r in records)
    assert inbox_events(records) == {"batchItemFailures": []}
    assert queued(queue_url) == []


def test_a_failing_record_is_reported_and_the_rest_of_the_batch_waits(api, settings, queue_url, monkeypatch, request):
    from chalicelib.core import process
    from chalicelib.notifications import service

    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    _, records = staff_answer(api, citizen, stream)
    arrivals = [r for r in records if service.arrival(r)]

    class DownQueue:
        def send_message_batch(self, **kwargs: Any) -> Any:
            raise RuntimeError("down")

    monkeypatch.setattr(service.repository, "sqs", DownQueue)
    monkeypatch.setitem(os.environ, "NOTIFICATIONS_QUEUE", "http://queue.invalid/notifications")
    process.reset()  # the queue comes from settings(), read once per process
    request.addfinalizer(process.reset)  # before monkeypatch puts the environment back
    result = inbox_events(arrivals)
    assert result == {"batchItemFailures": [{"itemIdentifier": arrivals[0]["dynamodb"]["SequenceNumber"]}]}


# ---------------------------------------------------------------- the outbox, the sweeper, the rate limit


def due_markers() -> list[dict[str, Any]]:
    """Everything in the notification due index, whenever due (read by key, every shard)."""
    from chalicelib.arrivals import due
    from chalicelib.core.clock import iso
    from chalicelib.notifications import repository

    far = iso(datetime.now(UTC) + timedelta(days=1))
    return [item for shard in range(due.SHARDS) for item in repository.due_items(shard, far, 1000)]


def sweep(at: datetime) -> dict[str, Any]:
    """One scheduled run of the sweeper, as EventBridge Scheduler invokes it at `at`."""
    from chalicelib.notifications.events import sweep_notifications

    return sweep_notifications(pump.schedule_event("sweep_notifications", at), pump.FakeContext("sweep_notifications"))


class Calls:
    """The DynamoDB API calls the app's client makes meanwhile (a botocore event hook, as `make bench`)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def _count(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)

    def __enter__(self) -> Calls:
        from chalicelib.core import dynamo

        self.client = dynamo.client()
        self.client.meta.events.register("before-call.dynamodb", self._count)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.client.meta.events.unregister("before-call.dynamodb", self._count)


def arrive(citizen_id: str, number: int) -> dict[str, str]:
    """A message from care lands in the citizen's inbox (one transaction, as the API writes it); returns
    its arrival's queue message."""
    from chalicelib.arrivals import service as inbox
    from chalicelib.core import dynamo

    action = inbox.new_message_action(
        citizen_id, subject=f"Meddelande {number}", body="Hej", sender="Vårdcentralen", at=datetime.now(UTC)
    )
    dynamo.transact_write([action])
    item = dynamo.from_item(action["Put"]["Item"])
    return {"citizenId": citizen_id, "itemId": item["id"], "arrivalId": item["arrivalId"]}


def sqs_record(body: dict[str, str], number: int) -> dict[str, Any]:
    return {
        "messageId": f"message-{number}",
        "receiptHandle": f"receipt-{number}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-north-1:000000000000:notifications",
        "awsRegion": "eu-north-1",
    }


def sms_sent(before: int) -> list[dict[str, Any]]:
    return [m for m in outbox()[before:] if m["channel"] == "sms"]


def test_one_arrival_with_one_sms_costs_at_most_three_dynamodb_requests(api, settings, queue_url):
    settings.targets = [("self", "sms")]
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    before = len(outbox())
    _, records = staff_answer(api, citizen, stream)
    with Calls() as calls:
        assert inbox_events(records) == {"batchItemFailures": []}
        assert send(queued(queue_url)) == {"batchItemFailures": []}
    assert len(calls.names) <= 3, calls.names  # idempotency included: the claim transaction is the record
    assert len(sms_sent(before)) == 1
    assert due_markers() == []


def test_an_arrival_whose_message_was_lost_is_found_by_the_sweeper_and_notified_once(api, settings, queue_url):
    settings.targets = [("self", "sms")]
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    before = len(outbox())
    staff_answer(api, citizen, stream)  # inbox_events never sees it: the record (or its message) is lost
    now = datetime.now(UTC)
    assert sweep(now)["arrivals"] == 0  # not due yet: the normal path has its bound
    assert queued(queue_url) == []
    assert sweep(now + timedelta(minutes=3))["arrivals"] == 1
    messages = queued(queue_url)
    assert len(messages) == 1
    assert send(messages) == {"batchItemFailures": []}
    assert send(messages) == {"batchItemFailures": []}  # redelivered: nothing more
    for minutes in (3, 8, 60):  # later runs find nothing
        found = sweep(now + timedelta(minutes=minutes))
        assert (found["arrivals"], found["notifications"]) == (0, 0)
    assert queued(queue_url) == []
    sms = sms_sent(before)
    assert len(sms) == 1 and sms[0]["body"] == SMS_TEXT
    assert due_markers() == []


def test_a_notification_stuck_in_sending_is_taken_up_by_the_sweeper_and_sent_once(
    api, settings, queue_url, monkeypatch
):
    from chalicelib.notifications import events, service

    settings.targets = [("self", "sms")]
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    before = len(outbox())
    _, records = staff_answer(api, citizen, stream)
    inbox_events(records)
    messages = queued(queue_url)
    real_deliver = service.deliver

    def dies(channel: str, contact: str) -> str:
        raise RuntimeError("the function died during the provider call")

    monkeypatch.setattr(service, "deliver", dies)
    assert send(messages) == {"batchItemFailures": [{"itemIdentifier": messages[0]["messageId"]}]}
    monkeypatch.setattr(service, "deliver", real_deliver)
    # At once, the notification is still leased: its sender may be inside the provider call.
    assert send(messages) == {"batchItemFailures": []}
    assert sms_sent(before) == []

    # The message is gone (dead-letter queue, or lost); the notification is due for the sweeper.
    now = datetime.now(UTC)
    with Calls() as calls:
        found = sweep(now + timedelta(minutes=3))
    assert (found["arrivals"], found["notifications"]) == (0, 1)
    assert "Query" in calls.names and "Scan" not in calls.names  # by key
    with Calls() as calls:
        again = sweep(now + timedelta(minutes=3))
    assert (again["arrivals"], again["notifications"]) == (0, 0)  # a second run re-queues nothing
    assert "Scan" not in calls.names
    requeued = queued(queue_url)
    assert [set(json.loads(m["body"])) for m in requeued] == [{"notificationId"}]

    monkeypatch.setattr(events, "clock", lambda: now + timedelta(minutes=3))  # the lease has run out
    assert send(requeued) == {"batchItemFailures": []}
    assert send(requeued) == {"batchItemFailures": []}  # redelivered: sent already
    assert (sweep(now + timedelta(minutes=30))["notifications"], queued(queue_url)) == (0, [])
    sms = sms_sent(before)
    assert len(sms) == 1 and sms[0]["body"] == SMS_TEXT
    assert notification(sms[0]["id"])["sentAt"]
    assert due_markers() == []


def test_a_notification_the_sweeper_cannot_get_sent_ends_as_a_technical_failure(api, settings, queue_url, monkeypatch):
    from chalicelib.notifications import service, sweeper

    settings.targets = [("self", "sms")]
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    _, records = staff_answer(api, citizen, stream)
    inbox_events(records)
    monkeypatch.setattr(service, "deliver", lambda channel, contact: (_ for _ in ()).throw(RuntimeError("died")))
    send(queued(queue_url))
    now = datetime.now(UTC)
    requeued = []
    for run in range(sweeper.MAX_SWEEPS + 2):  # its messages keep getting lost
        requeued.append(sweep(now + timedelta(minutes=3 + run * 11))["notifications"])
        queued(queue_url)
    assert requeued == [1] * sweeper.MAX_SWEEPS + [0, 0]
    assert [d["status"] for d in settings.deliveries] == ["technical-failure"]
    assert due_markers() == []


class FakeTime:
    """The rate limiter's clock: waiting moves it on, no wall time passes."""

    def __init__(self) -> None:
        self.t = 0.0
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return self.t

    def wait_until(self, instant: float) -> None:
        with self.lock:
            self.t = max(self.t, instant)


def test_concurrent_sends_keep_to_the_configured_rate(api, settings, monkeypatch):
    from chalicelib.core import process
    from chalicelib.notifications import rate, repository

    settings.targets = [("self", "sms")]
    citizen_id = api.token_for(pnr("Sara")).split(".")[0]
    monkeypatch.setenv(rate.ENV, "5")
    process.reset()
    assert rate.limiter().rate == 5  # configuration
    clock = FakeTime()
    bucket = rate.TokenBucket(rate.configured_rate(), now=clock.now, wait_until=clock.wait_until)
    monkeypatch.setattr(rate, "limiter", lambda: bucket)
    sns = repository.sns()
    publish = sns.publish  # the fixture's recorder
    calls: list[tuple[float, int]] = []

    def timed(**kwargs: Any) -> Any:
        calls.append((clock.now(), threading.get_ident()))
        return publish(**kwargs)

    monkeypatch.setattr(sns, "publish", timed)
    records = [sqs_record(arrive(citizen_id, n), n) for n in range(10)]
    assert send(records) == {"batchItemFailures": []}
    assert len(calls) == 10
    assert len({thread for _, thread in calls}) > 1  # concurrently
    for index, at in enumerate(sorted(at for at, _ in calls)):
        assert at >= (index + 1 - bucket.burst) / 5 - 1e-9  # a burst of 5, then 5 a second
    assert max(at for at, _ in calls) >= 1.0 - 1e-9


def test_feedback_that_overtakes_the_stored_provider_id_is_retried_not_lost(api, settings, queue_url, monkeypatch):
    from chalicelib.core.clock import iso
    from chalicelib.notifications import repository
    from chalicelib.notifications.events import delivery_feedback

    settings.targets = [("self", "email")]
    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    before = len(outbox())
    _, records = staff_answer(api, citizen, stream)
    inbox_events(records)
    real_put_final = repository.put_final
    held: list[Any] = []
    monkeypatch.setattr(repository, "put_final", held.append)  # the outcome is not stored yet
    assert send(queued(queue_url)) == {"batchItemFailures": []}
    (email,) = outbox()[before:]
    event = {"eventType": "Delivery", "mail": {"messageId": email["id"], "timestamp": iso(datetime.now(UTC))}}
    sns_event = {"Records": [{"Sns": {"Message": json.dumps(event)}}]}
    with pytest.raises(Exception, match="not stored yet"):
        delivery_feedback(sns_event, None)  # fails: Lambda's asynchronous retry brings it back
    real_put_final(held[0])
    assert delivery_feedback(sns_event, None) == {"handled": 1, "ignored": 0}
    assert notification(email["id"])["status"] == "delivered"


def test_guardians_are_notified_only_while_they_may_act(api, settings, queue_url):
    anna = api.token_for(pnr("Anna"))
    anna_id = anna.split(".")[0]
    children = api.call("GET", "/me", token=anna)[1]["actingFor"]
    elsa = next(c["citizenId"] for c in children if c["name"] == "Elsa Andersson")
    settings.targets = [(f"guardian:{anna_id}", "sms")]
    stream = Stream()
    case_id = start_case(api, anna, cid=elsa)[1]["caseId"]
    stream.drain()

    def answer() -> list[dict[str, Any]]:
        status, _, _ = api.call(
            "POST", f"/staff/cases/{case_id}/messages", {"kind": "answer", "body": "Svar"}, token=staff_token(HANDLER)
        )
        assert status == 201
        return stream.drain()

    before = len(outbox())
    inbox_events(answer())
    assert send(queued(queue_url)) == {"batchItemFailures": []}
    assert len(sms_sent(before)) == 1  # the guardian may act for Elsa: notified

    assert lock(pnr("Anna"), requested_by="citizen")["ok"]
    before = len(outbox())
    inbox_events(answer())
    assert send(queued(queue_url)) == {"batchItemFailures": []}
    assert sms_sent(before) == []  # a locked guardian may not act: nothing
    assert due_markers() == []


def test_an_arrival_a_concurrent_consumer_claimed_is_dropped_from_the_batch_and_the_rest_is_sent(
    api, settings, monkeypatch
):
    from chalicelib.core import dynamo

    settings.targets = [("self", "sms")]
    citizen_id = api.token_for(pnr("Sara")).split(".")[0]
    records = [sqs_record(arrive(citizen_id, n), n) for n in range(3)]
    before = len(outbox())
    real_transact = dynamo.transact_write
    raced: list[bool] = []

    def racing(actions: Any, token: str | None = None) -> None:
        if not raced:  # between this batch's read and its transaction, another consumer takes the first
            raced.append(True)
            assert send(records[:1]) == {"batchItemFailures": []}
        real_transact(actions, token)

    monkeypatch.setattr(dynamo, "transact_write", racing)
    assert send(records) == {"batchItemFailures": []}
    assert raced
    assert len(sms_sent(before)) == 3  # each arrival exactly once
    assert due_markers() == []
