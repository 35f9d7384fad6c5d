"""The local event pump: what Lambda's event sources do in AWS, for the local API server.

It feeds the main table's stream records, SQS batches, S3 ObjectCreated notifications and schedules
(daily at their Europe/Stockholm times, every few minutes, or every few minutes of an evening, on the
local stack's clock) to the functions the registry (`infra/functions.py`) wires, with the batch sizes,
batching windows and concurrency the CDK stack gives their event source mappings, in Lambda's event
shapes, and honours partial batch failures: a failed stream record is retried from its sequence
number, a failed SQS message stays on the queue until its visibility timeout (then the DLQ after
maxReceiveCount), a failed S3 invocation is retried twice, as Lambda does for async invocations. Each
consumer polls in its own thread, as event source mappings are independent: a slow function does not
hold the others up, and a backlog drains at its function's pace. Positions are kept in
`PUMP_STATE_DIR` (stream checkpoints, delivered objects, schedule runs),
so a restarted pump resumes where it stopped.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import boto3
from botocore.exceptions import ClientError

from chalicelib.core.clock import Clock, system_clock
from infra import definitions
from infra.functions import OBJECT_CREATED_CONSUMERS, QUEUE_CONSUMERS, SCHEDULES, STREAM_CONSUMERS
from local.event_filter import matches
from local.state import read_json, write_json
from local.threadsafe import prepare_app_for_threads

Function = Callable[[dict[str, Any], Any], Any]
STOCKHOLM = ZoneInfo("Europe/Stockholm")
REGION = os.environ.get("AWS_DEFAULT_REGION", "eu-north-1")
_REOPEN = frozenset({"ExpiredIteratorException", "TrimmedDataAccessException"})  # iterators die after 15 min
DISCOVER_EVERY_S = 5.0  # new shards come from rollovers (every four hours in DynamoDB Local)


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


def log(event: str, **fields: Any) -> None:
    """One JSON line on the pump's log (ids, counts and error types only: never personal data)."""
    print(json.dumps({"pump": event, **fields}), flush=True)


class StreamPoller:
    """Reads a table's stream as Lambda's event source mapping does, and keeps its position.

    Each shard's last processed sequence number is checkpointed (`checkpoint_path`, one JSON file per
    consumer) once the function returned success for the batch; on start the poller resumes right after
    it (AFTER_SEQUENCE_NUMBER). Shards without a checkpoint start at `starting_position`: the pump uses
    TRIM_HORIZON, as the event source mappings in infra do; LATEST suits a collector that only wants
    what comes next (tests). A child shard is read once its parent is read to its end (DynamoDB Local
    rolls its shards every four hours). A checkpoint that no longer matches (the table was recreated, the
    shard trimmed after 24 hours) falls back to TRIM_HORIZON and says so in the log.
    """

    def __init__(
        self,
        table_name: str,
        consumer: definitions.StreamConsumer,
        functions: dict[str, Function],
        *,
        starting_position: str = "LATEST",
        checkpoint_path: Path | None = None,
    ) -> None:
        self.consumer = consumer
        self.functions = functions
        self.starting_position = starting_position
        self.checkpoint_path = checkpoint_path
        self.dynamodb: Any = boto3.client("dynamodb", region_name=REGION)
        self.streams: Any = boto3.client("dynamodbstreams", region_name=REGION)
        self.stream_arn = self.dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        saved = read_json(checkpoint_path)
        self.positions: dict[str, str] = {}  # shard id → last sequence number processed
        if saved.get("streamArn") == self.stream_arn:
            self.positions = dict(saved.get("shards", {}))
        elif saved:
            log("checkpoint-reset", function=consumer.function, reason="stream-changed", start="TRIM_HORIZON")
            self.starting_position = "TRIM_HORIZON"  # a new stream: everything in it is new
        self.parents: dict[str, str | None] = {}
        self.iterators: dict[str, str | None] = {}  # None: closed and read to its end
        self._discovered_at = 0.0
        self._discover()
        self._initial_shards = set(self.parents)  # these take the starting position; later ones TRIM_HORIZON
        for shard_id in self._initial_shards:  # positioned now: LATEST means from this moment
            self.iterators[shard_id] = self._open(shard_id)
        if self.positions:
            log("resumed", function=consumer.function, shards=len(self.positions))

    def _describe(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.streams.describe_stream(**request)["StreamDescription"]
            shards.extend(description["Shards"])
            if not description.get("LastEvaluatedShardId"):
                return shards
            request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]

    def _discover(self) -> None:
        if time.monotonic() - self._discovered_at < DISCOVER_EVERY_S:
            return
        self._discovered_at = time.monotonic()
        shards = self._describe()
        for shard in shards:
            self.parents.setdefault(shard["ShardId"], shard.get("ParentShardId"))
        gone = set(self.positions) - set(self.parents)
        if gone:  # trimmed (24 hours) or from a stream that was recreated under the same name
            log("checkpoint-dropped", function=self.consumer.function, shards=len(gone))
            for shard_id in gone:
                del self.positions[shard_id]
            self._save()

    def _save(self) -> None:
        write_json(self.checkpoint_path, {"streamArn": self.stream_arn, "shards": self.positions})

    def _open(self, shard_id: str) -> str:
        """A fresh iterator: right after the checkpoint, or at the starting position."""
        if shard_id in self.positions:
            try:
                return str(
                    self.streams.get_shard_iterator(
                        StreamArn=self.stream_arn,
                        ShardId=shard_id,
                        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                        SequenceNumber=self.positions[shard_id],
                    )["ShardIterator"]
                )
            except ClientError as error:  # trimmed or unknown: take what the shard still holds
                log(
                    "checkpoint-unusable",
                    function=self.consumer.function,
                    error=error.response.get("Error", {}).get("Code"),
                    start="TRIM_HORIZON",
                )
                del self.positions[shard_id]
                kind = "TRIM_HORIZON"
        else:
            # A shard born while we run (a rollover) is read from its start, whatever the start position.
            kind = self.starting_position if shard_id in self._initial_shards else "TRIM_HORIZON"
        return str(
            self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=kind)[
                "ShardIterator"
            ]
        )

    def _ready(self, shard_id: str) -> bool:
        """Not finished, and its parent (if we know it) is read to its end: order across a rollover."""
        if shard_id in self.iterators and self.iterators[shard_id] is None:
            return False
        parent = self.parents.get(shard_id)
        return parent is None or parent not in self.parents or self.iterators.get(parent, "") is None

    def poll(self) -> int:
        handled = 0
        self._discover()
        for shard_id in list(self.parents):
            if not self._ready(shard_id):
                continue
            iterator = self.iterators.get(shard_id) or self._open(shard_id)
            try:
                response = self.streams.get_records(ShardIterator=iterator, Limit=self.consumer.batch_size)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in _REOPEN:
                    self.iterators.pop(shard_id, None)  # reopen from the checkpoint next time
                    continue
                raise
            records = response.get("Records", [])
            next_iterator = response.get("NextShardIterator")
            records, next_iterator = self._fill(records, next_iterator)
            if records:
                next_iterator = self._deliver(shard_id, records, next_iterator)
                handled += len(records)
            self.iterators[shard_id] = next_iterator
        return handled

    def _fill(self, records: list[dict[str, Any]], iterator: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """With a batching window (MaximumBatchingWindowInSeconds), keep reading the shard until the batch
        is full or the window has passed since the first record, as Lambda does."""
        deadline = time.monotonic() + self.consumer.window_s
        while records and iterator and len(records) < self.consumer.batch_size and time.monotonic() < deadline:
            time.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic())))
            response = self.streams.get_records(ShardIterator=iterator, Limit=self.consumer.batch_size - len(records))
            records = records + response.get("Records", [])
            iterator = response.get("NextShardIterator")
        return records, iterator

    def _deliver(self, shard_id: str, records: list[dict[str, Any]], next_iterator: str | None) -> str | None:
        for record in records:
            record["eventSourceARN"] = self.stream_arn
            value = record["dynamodb"].get("ApproximateCreationDateTime")
            if isinstance(value, datetime):
                record["dynamodb"]["ApproximateCreationDateTime"] = int(value.timestamp())
        # Lambda's FilterCriteria: records that match no pattern never reach the function (and count as done).
        wanted = [r for r in records if matches(self.consumer.filters, r)]
        failed = _failed_ids(invoke(self.functions, self.consumer.function, {"Records": wanted})) if wanted else []
        sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
        done = sequences
        if failed:  # the records before the first failure were processed
            done = sequences[: sequences.index(failed[0])] if failed[0] in sequences else []
        if done:
            self.positions[shard_id] = done[-1]
            self._save()  # only after the function returned success for these records
        if failed:
            # Lambda retries from the first failed record; so do we.
            return str(
                self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=failed[0],
                )["ShardIterator"]
            )
        return next_iterator


class QueuePoller:
    def __init__(self, queue_name: str, consumer: definitions.QueueConsumer, functions: dict[str, Function]) -> None:
        self.consumer = consumer
        self.functions = functions
        self.sqs: Any = boto3.client("sqs", region_name=REGION)
        self.url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def _receive(self, count: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=min(count, 10),  # SQS's most per call
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        return messages

    def poll(self) -> int:
        messages = self._receive(self.consumer.batch_size)
        # Lambda gathers up to batch_size messages, for at most the batching window.
        deadline = time.monotonic() + self.consumer.window_s
        while messages and len(messages) < self.consumer.batch_size and time.monotonic() < deadline:
            more = self._receive(self.consumer.batch_size - len(messages))
            if not more:
                time.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic())))
            messages += more
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
    notification. What was delivered is kept in `state_path`, so objects written while the pump was
    down are delivered when it is back; without a record (the first start), objects already there count
    as delivered (notifications are not replayed either). A raising function is invoked again on the next
    polls, three attempts in all."""

    MAX_ATTEMPTS = 3  # Lambda: the first invocation and two retries of an asynchronous event

    def __init__(
        self,
        bucket_name: str,
        consumer: definitions.ObjectCreatedConsumer,
        functions: dict[str, Function],
        state_path: Path | None = None,
    ) -> None:
        self.bucket = bucket_name
        self.consumer = consumer
        self.functions = functions
        self.state_path = state_path
        self.s3: Any = boto3.client("s3", region_name=REGION)
        self.attempts: dict[tuple[str, str], int] = {}
        self._sequence = itertools.count(1)
        saved = read_json(state_path)
        if saved.get("bucket") == bucket_name:
            self.delivered = {(key, etag) for key, etag in saved.get("delivered", [])}
        else:
            self.delivered = {(o["Key"], o["ETag"]) for o in self._list()}
            self._save()

    def _save(self) -> None:
        write_json(self.state_path, {"bucket": self.bucket, "delivered": sorted(self.delivered)})

    def _list(self) -> list[dict[str, Any]]:
        paginator = self.s3.get_paginator("list_objects_v2")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.consumer.prefix):
            found.extend(page.get("Contents", []))
        return found

    def poll(self) -> int:
        objects = self._list()
        listed = {(o["Key"], o["ETag"]) for o in objects}
        before = set(self.delivered)
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
                log("dropped", function=self.consumer.function, attempts=attempts)
            self.attempts.pop(identity, None)
            self.delivered.add(identity)
            self._save()  # after each object: a pump killed mid-poll does not deliver it again
        if self.delivered != before:
            self._save()
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
    """Runs the registry's schedules (`infra/functions.py`, `schedules()`) as EventBridge Scheduler does in
    Europe/Stockholm: daily ones at their time, `every_minutes` ones once per slot, windowed ones
    (`from_hour`: the evening runs of `Evenings`) once per slot of their evening; the slot's planned
    start is the event's `time`.

    "Now" is the local stack's clock (`clock`, by default `system_clock`, which follows `python -m local
    clock set`), so a person can stand at 17:59 and at 18:00. What ran last is kept per schedule in
    `state_path`: a schedule runs its latest due slot once, so a restarted pump or a clock that jumped
    runs that one slot, never every slot it missed (each run covers everything due by its time), and
    a schedule whose last slot (or day, once its time has passed) was missed while the pump was down
    runs once at start."""

    def __init__(
        self,
        schedules: tuple[definitions.Schedule, ...],
        functions: dict[str, Function],
        state_path: Path | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.schedules = schedules
        self.functions = functions
        self.state_path = state_path
        self.clock = clock
        self.last_run: dict[str, str] = {k: str(v) for k, v in read_json(state_path).items()}

    def adopt_new_schedules(self, now: datetime | None = None) -> None:
        """Schedules without a record: a daily one whose time has passed today counts as run today (it ran
        "before" the pump existed), and so does a windowed one outside its window (its last slot was
        yesterday evening); an `every_minutes` one, or a windowed one inside its window, runs at the
        first tick."""
        now = now or self.clock()
        today = now.astimezone(STOCKHOLM).date().isoformat()
        for schedule in self.schedules:
            if schedule.name in self.last_run:
                continue
            if not schedule.every_minutes:
                self.last_run[schedule.name] = today
            elif schedule.from_hour is not None and now.astimezone(STOCKHOLM).hour < schedule.from_hour:
                self.last_run[schedule.name] = latest_window_slot(schedule, now).isoformat()
        write_json(self.state_path, self.last_run)

    def _due(self, schedule: definitions.Schedule, now: datetime) -> tuple[str, datetime] | None:
        """(the run's mark, the event's time) if the schedule has a run due that has not been made."""
        if schedule.every_minutes and schedule.from_hour is not None:
            slot = latest_window_slot(schedule, now)
            return (slot.isoformat(), slot) if self.last_run.get(schedule.name) != slot.isoformat() else None
        if schedule.every_minutes:
            slot = now.replace(second=0, microsecond=0)
            minutes = slot.hour * 60 + slot.minute
            slot = slot.replace(hour=0, minute=0) + timedelta(minutes=minutes - minutes % schedule.every_minutes)
            return (slot.isoformat(), slot) if self.last_run.get(schedule.name) != slot.isoformat() else None
        local = now.astimezone(STOCKHOLM)
        due = local.replace(hour=schedule.hour, minute=schedule.minute, second=0, microsecond=0)
        today = local.date().isoformat()
        return (today, due) if local >= due and self.last_run.get(schedule.name) != today else None

    def tick(self, now: datetime | None = None) -> int:
        now = now or self.clock()
        ran = 0
        for schedule in self.schedules:
            due = self._due(schedule, now)
            if due is None:
                continue
            mark, at = due
            # Marked before the run: a run that fails is not repeated every tick (Lambda's own retries
            # of an asynchronous invocation are not modelled here); the error is logged.
            self.last_run[schedule.name] = mark
            write_json(self.state_path, self.last_run)
            try:
                invoke(self.functions, schedule.function, schedule_event(schedule.name, at))
            except Exception as error:
                log("error", consumer="Scheduler", function=schedule.function, error=type(error).__name__)
            ran += 1
        return ran


def latest_window_slot(schedule: definitions.Schedule, now: datetime) -> datetime:
    """The latest slot of a windowed schedule at or before `now` (UTC): every `every_minutes` minutes from
    `from_hour`:00 Stockholm time until midnight; before the window opens, yesterday evening's last."""
    if not schedule.every_minutes or schedule.from_hour is None:
        raise ValueError(f"{schedule.name} is not a windowed schedule")
    local = now.astimezone(STOCKHOLM)
    step = schedule.every_minutes
    if local.hour >= schedule.from_hour:
        slot = local.replace(minute=local.minute - local.minute % step, second=0, microsecond=0)
    else:
        yesterday = local.date() - timedelta(days=1)
        slot = datetime.combine(yesterday, dt_time(23, 60 - step), tzinfo=STOCKHOLM)
    return slot.astimezone(UTC)


def state_dir() -> Path | None:
    """Where the pump keeps its positions (`PUMP_STATE_DIR`, set by local/services.py); none: in memory."""
    configured = os.environ.get("PUMP_STATE_DIR")
    return Path(configured) if configured else None


def main() -> None:
    functions = app_functions()
    directory = state_dir()
    pollers: list[StreamPoller | QueuePoller | BucketPoller] = []
    for stream_consumer in STREAM_CONSUMERS:
        pollers.append(
            StreamPoller(
                os.environ[stream_consumer.table.env_var],
                stream_consumer,
                functions,
                starting_position="TRIM_HORIZON",
                checkpoint_path=directory / f"stream-{stream_consumer.function}.json" if directory else None,
            )
        )
    for queue_consumer in QUEUE_CONSUMERS:
        pollers.append(QueuePoller(os.environ[queue_consumer.queue.env_var], queue_consumer, functions))
    for bucket_consumer in OBJECT_CREATED_CONSUMERS:
        pollers.append(
            BucketPoller(
                os.environ[bucket_consumer.bucket.env_var],
                bucket_consumer,
                functions,
                directory / f"bucket-{bucket_consumer.function}.json" if directory else None,
            )
        )
    scheduler = Scheduler(SCHEDULES, functions, directory / "schedules.json" if directory else None)
    scheduler.adopt_new_schedules()
    log(
        "started",
        streams=len(STREAM_CONSUMERS),
        queues=len(QUEUE_CONSUMERS),
        buckets=len(OBJECT_CREATED_CONSUMERS),
        schedules=len(SCHEDULES),
        checkpoints=str(directory) if directory else None,
    )
    prepare_app_for_threads()
    stats = Stats()
    for poller in pollers:  # each on its own, as Lambda's event source mappings are independent
        # A queue's mapping runs up to MaximumConcurrency invocations at once; a stream shard one.
        for n in range(concurrency(poller)):
            name = f"{poller_name(poller)}#{n}"
            threading.Thread(target=keep_polling, args=(poller, stats, n), name=name, daemon=True).start()
    while True:
        try:
            scheduler.tick()
        except Exception as error:
            log("error", consumer="Scheduler", error=type(error).__name__)
        stats.report()
        time.sleep(1)


POLL_INTERVAL_S = 0.25  # Lambda polls a stream shard four times a second
# A queue's extra pollers (beyond its first) wait this long after an empty receive. Lambda too scales a
# queue's pollers up with its backlog rather than running MaximumConcurrency of them on an idle queue;
# here 16 + 10 + 5 idle threads polling four times a second kept moto busy enough to slow the whole stack.
IDLE_EXTRA_POLLER_S = 5.0


def keep_polling(poller: StreamPoller | QueuePoller | BucketPoller, stats: Stats, index: int = 0) -> None:
    """Polls again at once after a full batch (a backlog drains at the function's pace), else after
    POLL_INTERVAL_S (IDLE_EXTRA_POLLER_S for a queue's extra pollers when they found nothing). A failing
    consumer does not stop: Lambda would retry it, and the others go on."""
    name = poller_name(poller)
    full = getattr(poller.consumer, "batch_size", None) or 1
    while True:
        started = time.monotonic()
        handled = 0
        try:
            handled = poller.poll()
        except Exception as error:
            log("error", consumer=name, error=type(error).__name__)
            time.sleep(1)
        stats.add(name, handled, time.monotonic() - started)
        if handled == 0 and index > 0:
            time.sleep(IDLE_EXTRA_POLLER_S)
        elif handled < full:
            time.sleep(POLL_INTERVAL_S)


def concurrency(poller: StreamPoller | QueuePoller | BucketPoller) -> int:
    if isinstance(poller, QueuePoller):
        return poller.consumer.max_concurrency or 1
    return 1


def poller_name(poller: StreamPoller | QueuePoller | BucketPoller) -> str:
    return f"{type(poller).__name__.removesuffix('Poller').lower()}:{poller.consumer.function}"


@dataclass
class Stats:
    """Per consumer: records handled and seconds spent, logged every `every_s` while there is work."""

    every_s: float = 30.0
    handled: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    since: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, handled: int, seconds: float) -> None:
        with self.lock:
            self.handled[name] = self.handled.get(name, 0) + handled
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def report(self) -> None:
        if time.monotonic() - self.since < self.every_s:
            return
        with self.lock:
            handled, seconds = self.handled, self.seconds
            elapsed = time.monotonic() - self.since
            self.handled, self.seconds, self.since = {}, {}, time.monotonic()
        if any(handled.values()):
            log(
                "stats",
                seconds=round(elapsed, 1),
                handled=handled,
                busy_s={k: round(v, 1) for k, v in seconds.items()},
            )


if __name__ == "__main__":
    main()
