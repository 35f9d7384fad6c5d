"""Notifications (R-11, R-12): inbox_events → NotificationsQueue → send_notifications → moto SNS/SES, and
delivery_feedback. Real stream records from DynamoDB Local, real SQS/SNS/SES in moto; the citizen's
notification settings come from a small fake of chalicelib/settings' contract."""

from __future__ import annotations

import base64
import gzip
import json
import os
from datetime import datetime
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

    def notification_targets(self, citizen_id: str) -> list[tuple[str, str]]:
        return list(self.targets)

    def contact_for(self, citizen_id: str, recipient: str, channel: str) -> str | None:
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
    from chalicelib.notifications import events, repository, service

    fake = FakeSettings()
    monkeypatch.setattr(service, "settings_port", lambda: fake)
    repository.reset_clients()
    events.reset_sender()
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
        quiet = 0
        while quiet < 3:
            quiet = quiet + 1 if self.poller.poll() == 0 else 0
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
    assert len(messages) == 2
    assert all(set(json.loads(m["body"])) == {"notificationId"} for m in messages)  # ids only
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

    # Crash right after the provider id is stored (the idempotency record is then released too).
    real_sent = service.repository.sent

    def crash(*args: Any, **kwargs: Any) -> None:
        real_sent(*args, **kwargs)
        raise RuntimeError("the function died")

    monkeypatch.setattr(service.repository, "sent", crash)
    assert send(messages) == {"batchItemFailures": [{"itemIdentifier": messages[0]["messageId"]}]}
    monkeypatch.setattr(service.repository, "sent", real_sent)
    assert send(messages) == {"batchItemFailures": []}  # the redelivery sees the provider id and stops
    assert send(messages) == {"batchItemFailures": []}  # and once more (idempotency's stored result)
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
    assert inbox_events(records) == {"batchItemFailures": []}
    assert queued(queue_url) == []


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


def test_a_failing_record_is_reported_and_the_rest_of_the_batch_waits(api, settings, queue_url, monkeypatch):
    from chalicelib.notifications import service

    citizen = api.token_for(pnr("Sara"))
    stream = Stream()
    _, records = staff_answer(api, citizen, stream)
    arrivals = [r for r in records if service.arrival(r)]
    monkeypatch.setattr(service, "notify_arrival", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("down")))
    result = inbox_events(arrivals)
    assert result == {"batchItemFailures": [{"itemIdentifier": arrivals[0]["dynamodb"]["SequenceNumber"]}]}
