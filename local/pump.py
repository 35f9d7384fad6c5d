"""The local event pump: what Lambda's event sources do in AWS, for `chalice local`.

It feeds the main table's stream records, SQS batches, S3 ObjectCreated notifications and daily
schedules (at their Europe/Stockholm times) to the functions wired in `infra/definitions.py`, in
Lambda's event shapes, and honours partial batch failures: a failed stream record is retried from its
sequence number, a failed SQS message stays on the queue until its visibility timeout (then the DLQ
after maxReceiveCount), a failed S3 invocation is retried twice, as Lambda does for async invocations.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import boto3

from infra import definitions

Function = Callable[[dict[str, Any], Any], Any]
STOCKHOLM = ZoneInfo("Europe/Stockholm")
REGION = os.environ.get("AWS_DEFAULT_REGION", "eu-north-1")


@dataclass
class FakeContext:
    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def app_functions() -> dict[str, Function]:
    """The app's pure Lambda functions by name, as Lambda would call them."""
    from app import app

    return {fn.name: fn for fn in app.pure_lambda_functions}


def invoke(functions: dict[str, Function], name: str, event: dict[str, Any]) -> Any:
    return functions[name](event, FakeContext(function_name=name))


def _failed_ids(result: Any) -> list[str]:
    if isinstance(result, dict):
        return [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
    return []


class StreamPoller:
    """Reads a DynamoDB Local stream shard by shard from the latest position when it starts."""

    def __init__(self, table_name: str, consumer: definitions.StreamConsumer, functions: dict[str, Function]) -> None:
        self.consumer = consumer
        self.functions = functions
        self.dynamodb: Any = boto3.client("dynamodb", region_name=REGION)
        self.streams: Any = boto3.client("dynamodbstreams", region_name=REGION)
        self.stream_arn = self.dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self.iterators: dict[str, str | None] = {}
        self._discover(initial=True)

    def _discover(self, initial: bool = False) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self.iterators:
                continue
            kind = "LATEST" if initial else "TRIM_HORIZON"
            self.iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=kind
            )["ShardIterator"]

    def poll(self) -> int:
        handled = 0
        self._discover()
        for shard_id, iterator in list(self.iterators.items()):
            if iterator is None:
                continue
            response = self.streams.get_records(ShardIterator=iterator, Limit=self.consumer.batch_size)
            records = response.get("Records", [])
            next_iterator = response.get("NextShardIterator")
            if records:
                for record in records:
                    record["eventSourceARN"] = self.stream_arn
                    for key in ("ApproximateCreationDateTime",):
                        value = record["dynamodb"].get(key)
                        if isinstance(value, datetime):
                            record["dynamodb"][key] = int(value.timestamp())
                failed = _failed_ids(invoke(self.functions, self.consumer.function, {"Records": records}))
                if failed:
                    # Lambda retries from the first failed record; so do we.
                    next_iterator = self.streams.get_shard_iterator(
                        StreamArn=self.stream_arn,
                        ShardId=shard_id,
                        ShardIteratorType="AT_SEQUENCE_NUMBER",
                        SequenceNumber=failed[0],
                    )["ShardIterator"]
                handled += len(records)
            self.iterators[shard_id] = next_iterator
        return handled


class QueuePoller:
    def __init__(self, queue_name: str, consumer: definitions.QueueConsumer, functions: dict[str, Function]) -> None:
        self.consumer = consumer
        self.functions = functions
        self.sqs: Any = boto3.client("sqs", region_name=REGION)
        self.url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def poll(self) -> int:
        messages = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=self.consumer.batch_size,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": self.arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
        try:
            failed = set(_failed_ids(invoke(self.functions, self.consumer.function, {"Records": records})))
        except Exception:  # the whole batch failed: every message becomes visible again
            return 0
        done = [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done[start : start + 10])
                ],
            )
        return len(records)


def s3_object_created_event(
    bucket: str, key: str, *, size: int, etag: str, at: datetime, sequencer: str, configuration_id: str
) -> dict[str, Any]:
    """S3's event for an object created by a POST upload (event notification structure 2.1): one
    record per event, the key URL-encoded as in an HTML form, the ETag without quotes."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Post",
                "userIdentity": {"principalId": "AWS:LOCAL"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": uuid.uuid4().hex,
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOCAL"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag.strip('"'),
                        "sequencer": sequencer,
                    },
                },
            }
        ]
    }


class BucketPoller:
    """Lists a bucket for objects under the consumer's prefix and invokes the function once per new
    object (key and ETag: an object written again under the same key is new), like S3's ObjectCreated
    notification. Objects present when the poller starts count as delivered (notifications are not
    replayed either). A raising function is invoked again on the next polls, three attempts in all."""

    MAX_ATTEMPTS = 3  # Lambda: the first invocation and two retries of an asynchronous event

    def __init__(
        self, bucket_name: str, consumer: definitions.ObjectCreatedConsumer, functions: dict[str, Function]
    ) -> None:
        self.bucket = bucket_name
        self.consumer = consumer
        self.functions = functions
        self.s3: Any = boto3.client("s3", region_name=REGION)
        self.delivered: set[tuple[str, str]] = set()
        self.attempts: dict[tuple[str, str], int] = {}
        self._sequence = itertools.count(1)
        self.delivered = {(o["Key"], o["ETag"]) for o in self._list()}

    def _list(self) -> list[dict[str, Any]]:
        paginator = self.s3.get_paginator("list_objects_v2")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.consumer.prefix):
            found.extend(page.get("Contents", []))
        return found

    def poll(self) -> int:
        objects = self._list()
        listed = {(o["Key"], o["ETag"]) for o in objects}
        self.delivered &= listed  # forget what is gone, so memory stays bounded by the bucket
        handled = 0
        for obj in sorted(objects, key=lambda o: (o["LastModified"], o["Key"])):
            identity = (obj["Key"], obj["ETag"])
            if identity in self.delivered:
                continue
            event = s3_object_created_event(
                self.bucket,
                obj["Key"],
                size=int(obj["Size"]),
                etag=obj["ETag"],
                at=obj["LastModified"],
                sequencer=f"{next(self._sequence):016X}",
                configuration_id=f"{self.consumer.function}-objects-created",
            )
            handled += 1
            try:
                invoke(self.functions, self.consumer.function, event)
            except Exception:
                attempts = self.attempts.get(identity, 0) + 1
                if attempts < self.MAX_ATTEMPTS:
                    self.attempts[identity] = attempts
                    continue
                print(
                    json.dumps({"pump": "dropped", "function": self.consumer.function, "attempts": attempts}),
                    flush=True,
                )
            self.attempts.pop(identity, None)
            self.delivered.add(identity)
        return handled


def schedule_event(schedule_name: str, at: datetime) -> dict[str, Any]:
    """EventBridge Scheduler's event shape; the function takes "now" from `time`."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "000000000000",
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:scheduler:{REGION}:000000000000:schedule/default/{schedule_name}"],
        "detail": {},
    }


class Scheduler:
    def __init__(self, schedules: tuple[definitions.Schedule, ...], functions: dict[str, Function]) -> None:
        self.schedules = schedules
        self.functions = functions
        self.last_run: dict[str, str] = {}

    def tick(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        local = now.astimezone(STOCKHOLM)
        ran = 0
        for schedule in self.schedules:
            if schedule.every_minutes:
                slot = now.replace(second=0, microsecond=0)
                slot = slot.replace(minute=slot.minute - slot.minute % schedule.every_minutes)
                if self.last_run.get(schedule.function) != slot.isoformat():
                    self.last_run[schedule.function] = slot.isoformat()
                    invoke(self.functions, schedule.function, schedule_event(schedule.function, slot))
                    ran += 1
                continue
            due = local.replace(hour=schedule.hour, minute=schedule.minute, second=0, microsecond=0)
            today = local.date().isoformat()
            if local >= due and self.last_run.get(schedule.function) != today:
                self.last_run[schedule.function] = today
                invoke(self.functions, schedule.function, schedule_event(schedule.function, due))
                ran += 1
        return ran


def main() -> None:
    functions = app_functions()
    pollers: list[StreamPoller | QueuePoller | BucketPoller] = []
    for stream_consumer in definitions.STREAM_CONSUMERS:
        pollers.append(StreamPoller(os.environ[stream_consumer.table.env_var], stream_consumer, functions))
    for queue_consumer in definitions.QUEUE_CONSUMERS:
        pollers.append(QueuePoller(os.environ[queue_consumer.queue.env_var], queue_consumer, functions))
    for bucket_consumer in definitions.OBJECT_CREATED_CONSUMERS:
        pollers.append(BucketPoller(os.environ[bucket_consumer.bucket.env_var], bucket_consumer, functions))
    scheduler = Scheduler(definitions.SCHEDULES, functions)
    # A schedule whose time has already passed today ran "before" the pump started: don't fire it now.
    today = datetime.now(STOCKHOLM).date().isoformat()
    scheduler.last_run = {s.function: today for s in definitions.SCHEDULES if not s.every_minutes}
    print(
        json.dumps(
            {
                "pump": "started",
                "streams": len(definitions.STREAM_CONSUMERS),
                "queues": len(definitions.QUEUE_CONSUMERS),
                "buckets": len(definitions.OBJECT_CREATED_CONSUMERS),
                "schedules": len(definitions.SCHEDULES),
            }
        ),
        flush=True,
    )
    while True:
        busy = 0
        for poller in pollers:
            try:
                busy += poller.poll()
            except Exception as error:  # a failing consumer must not stop the others; Lambda would retry
                print(
                    json.dumps({"pump": "error", "consumer": type(poller).__name__, "error": type(error).__name__}),
                    flush=True,
                )
        busy += scheduler.tick()
        if not busy:
            time.sleep(0.2)


if __name__ == "__main__":
    main()
