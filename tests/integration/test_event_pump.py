"""The local event pump feeds functions as Lambda's event sources would (stream, SQS, schedule)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import boto3

from infra import definitions
from local import pump


def test_stream_records_reach_the_function_in_lambda_shape_and_failures_are_retried(stack):
    seen: list[dict] = []
    fail_once = {"armed": True}

    def consumer(event, context):
        seen.append(event)
        if fail_once["armed"]:
            fail_once["armed"] = False
            return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    wiring = definitions.StreamConsumer(function="test_consumer", table=definitions.MAIN_TABLE)
    poller = pump.StreamPoller(os.environ["MAIN_TABLE"], wiring, {"test_consumer": consumer})
    client = boto3.client("dynamodb")
    client.put_item(TableName=os.environ["MAIN_TABLE"], Item={"pk": {"S": "PUMP#1"}, "sk": {"S": "X"}})
    for _ in range(20):
        if len(seen) >= 2:
            break
        poller.poll()
    assert len(seen) >= 2, "the failed record was not delivered again"
    record = seen[1]["Records"][0]
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    assert record["dynamodb"]["Keys"]["pk"] == {"S": "PUMP#1"}
    assert record["eventSourceARN"].startswith("arn:")
    assert seen[0]["Records"][0]["dynamodb"]["SequenceNumber"] == record["dynamodb"]["SequenceNumber"]


def test_sqs_messages_are_deleted_unless_reported_failed(stack):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="pump-test", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": body}))
    queue = definitions.Queue(logical_id="PumpTest", env_var="PUMP_TEST_QUEUE")
    received: list[str] = []

    def consumer(event, context):
        failures = []
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs"
            received.append(json.loads(record["body"])["id"])
            if json.loads(record["body"])["id"] == "b":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    poller = pump.QueuePoller(
        "pump-test", definitions.QueueConsumer("test_consumer", queue), {"test_consumer": consumer}
    )
    poller.poll()
    remaining = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(received) == ["a", "b"]
    assert [json.loads(m["Body"])["id"] for m in remaining] == ["b"]


def test_schedule_fires_once_a_day_at_its_stockholm_time_with_the_time_in_the_event():
    calls: list[dict] = []
    scheduler = pump.Scheduler((definitions.Schedule("nightly", hour=18),), {"nightly": lambda e, c: calls.append(e)})
    assert scheduler.tick(datetime(2026, 11, 22, 16, 59, tzinfo=UTC)) == 0  # 17:59 in Stockholm (CET)
    assert scheduler.tick(datetime(2026, 11, 22, 17, 0, tzinfo=UTC)) == 1  # 18:00 CET
    assert scheduler.tick(datetime(2026, 11, 22, 20, 0, tzinfo=UTC)) == 0  # not twice the same day
    assert calls[0]["time"] == "2026-11-22T17:00:00Z" and calls[0]["detail-type"] == "Scheduled Event"
    # Summer time: 18:00 in Stockholm is 16:00 UTC.
    assert scheduler.tick(datetime(2027, 6, 1, 16, 0, tzinfo=UTC)) == 1
    assert calls[1]["time"] == "2027-06-01T16:00:00Z"
