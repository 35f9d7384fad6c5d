"""The local event pump feeds functions as Lambda's event sources would (stream, SQS, schedule)."""

from __future__ import annotations

import json
import os
import uuid
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


# ---------------------------------------------------------------- positions kept across restarts


class Collector:
    """A stream consumer that records the keys it was given (and can fail a chosen one)."""

    def __init__(self, fail: str | None = None) -> None:
        self.keys: list[str] = []
        self.fail = fail

    def __call__(self, event, context):
        for record in event["Records"]:
            key = record["dynamodb"]["Keys"]["pk"]["S"]
            if key == self.fail:
                return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
            self.keys.append(key)
        return {"batchItemFailures": []}


def _poller(collector: Collector, checkpoint, start: str = "TRIM_HORIZON") -> pump.StreamPoller:
    wiring = definitions.StreamConsumer(function="collect", table=definitions.MAIN_TABLE, batch_size=1000)
    return pump.StreamPoller(
        os.environ["MAIN_TABLE"], wiring, {"collect": collector}, starting_position=start, checkpoint_path=checkpoint
    )


def _drain(poller: pump.StreamPoller) -> None:
    quiet = 0
    while quiet < 2:
        quiet = quiet + 1 if poller.poll() == 0 else 0


def _put(key: str) -> None:
    boto3.client("dynamodb").put_item(TableName=os.environ["MAIN_TABLE"], Item={"pk": {"S": key}, "sk": {"S": "X"}})


def _mine(keys: list[str], run: str) -> list[str]:
    return [k for k in keys if k.startswith(run)]


def test_a_restarted_poller_resumes_right_after_its_checkpoint(tmp_path):
    run = f"CKPT#{uuid.uuid4()}#"
    checkpoint = tmp_path / "stream-collect.json"
    _put(run + "before")  # written before the consumer ever ran: TRIM_HORIZON includes it
    first = Collector()
    _drain(_poller(first, checkpoint))
    assert _mine(first.keys, run) == [run + "before"]
    saved = json.loads(checkpoint.read_text())
    assert saved["streamArn"].startswith("arn:") and saved["shards"]

    for n in (1, 2, 3):  # written while the pump is down
        _put(f"{run}while-down-{n}")
    second = Collector()
    _drain(_poller(second, checkpoint))
    assert _mine(second.keys, run) == [f"{run}while-down-{n}" for n in (1, 2, 3)]  # each once, nothing before


def test_the_checkpoint_moves_only_past_what_the_function_processed(tmp_path):
    run = f"CKPT#{uuid.uuid4()}#"
    checkpoint = tmp_path / "stream-collect.json"
    _drain(_poller(Collector(), checkpoint))  # caught up with the stream
    for name in ("a", "b", "c"):
        _put(run + name)
    failing = Collector(fail=run + "b")
    poller = _poller(failing, checkpoint)
    for _ in range(5):
        poller.poll()
    assert _mine(failing.keys, run) == [run + "a"]  # b keeps failing: c waits behind it, as in Lambda

    recovered = Collector()  # the pump restarts with a fixed function
    _drain(_poller(recovered, checkpoint))
    assert _mine(recovered.keys, run) == [run + "b", run + "c"]


def test_a_checkpoint_of_another_stream_falls_back_to_trim_horizon_and_says_so(tmp_path, capsys):
    run = f"CKPT#{uuid.uuid4()}#"
    checkpoint = tmp_path / "stream-collect.json"
    # DynamoDB Local recreated (in memory, or its data deleted): the saved stream and shard are gone.
    checkpoint.write_text(
        json.dumps(
            {
                "streamArn": "arn:aws:dynamodb:ddblocal:000000000000:table/gone/stream/2020-01-01T00:00:00.000",
                "shards": {"shardId-00000000000000000000-00000000": "000000000000000000042"},
            }
        )
    )
    _put(run + "old")
    collector = Collector()
    _drain(_poller(collector, checkpoint, start="LATEST"))
    assert run + "old" in collector.keys  # read from the start of the stream, not from LATEST
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert {"pump": "checkpoint-reset", "function": "collect", "reason": "stream-changed", "start": "TRIM_HORIZON"} in (
        logged
    )


def test_a_checkpointed_shard_that_is_gone_is_dropped_and_said(tmp_path, capsys):
    checkpoint = tmp_path / "stream-collect.json"
    _drain(_poller(Collector(), checkpoint))
    saved = json.loads(checkpoint.read_text())
    saved["shards"]["shardId-00000000000000000000-deadbeef"] = "000000000000000000001"  # trimmed after 24 h
    checkpoint.write_text(json.dumps(saved))
    _poller(Collector(), checkpoint)
    assert "shardId-00000000000000000000-deadbeef" not in json.loads(checkpoint.read_text())["shards"]
    assert '"pump": "checkpoint-dropped"' in capsys.readouterr().out


def test_every_minutes_schedules_keep_their_bookkeeping_across_restarts_and_catch_up_once(tmp_path):
    state = tmp_path / "schedules.json"
    calls: list[str] = []
    functions = {"sweep": lambda event, context: calls.append(event["time"])}
    schedules = (definitions.Schedule("sweep", every_minutes=5),)

    first = pump.Scheduler(schedules, functions, state)
    first.adopt_new_schedules(datetime(2026, 11, 22, 12, 7, tzinfo=UTC))
    assert first.tick(datetime(2026, 11, 22, 12, 7, tzinfo=UTC)) == 1  # a new schedule runs at once
    restarted = pump.Scheduler(schedules, functions, state)
    assert restarted.tick(datetime(2026, 11, 22, 12, 9, tzinfo=UTC)) == 0  # same slot: not again
    # Down from 12:09 to 12:23: the slots 12:10, 12:15 and 12:20 were missed; one catch-up run.
    later = pump.Scheduler(schedules, functions, state)
    assert later.tick(datetime(2026, 11, 22, 12, 23, tzinfo=UTC)) == 1
    assert later.tick(datetime(2026, 11, 22, 12, 24, tzinfo=UTC)) == 0
    assert calls == ["2026-11-22T12:05:00Z", "2026-11-22T12:20:00Z"]


def test_a_daily_schedule_missed_while_the_pump_was_down_runs_once_at_start(tmp_path):
    state = tmp_path / "schedules.json"
    calls: list[str] = []
    functions = {"nightly": lambda event, context: calls.append(event["time"])}
    schedules = (definitions.Schedule("nightly", hour=18),)
    fresh = pump.Scheduler(schedules, functions, state)
    fresh.adopt_new_schedules(datetime(2026, 11, 22, 19, 0, tzinfo=UTC))  # first start, after 18:00 CET
    assert fresh.tick(datetime(2026, 11, 22, 19, 0, tzinfo=UTC)) == 0  # it "ran" before the pump existed
    # The pump was down over the next evening's 18:00: it runs when the pump is back, once.
    back = pump.Scheduler(schedules, functions, state)
    back.adopt_new_schedules(datetime(2026, 11, 23, 21, 0, tzinfo=UTC))
    assert back.tick(datetime(2026, 11, 23, 21, 0, tzinfo=UTC)) == 1
    assert pump.Scheduler(schedules, functions, state).tick(datetime(2026, 11, 23, 22, 0, tzinfo=UTC)) == 0
    assert calls == ["2026-11-23T17:00:00Z"]


def test_filtered_records_never_reach_the_function_but_the_checkpoint_moves_past_them(tmp_path):
    """Lambda's FilterCriteria, locally: only matching records are delivered; the others count as done."""
    run = f"FILTER#{uuid.uuid4()}#"
    checkpoint = tmp_path / "stream-collect.json"
    collector = Collector()
    wiring = definitions.StreamConsumer(
        function="collect",
        table=definitions.MAIN_TABLE,
        batch_size=1000,
        filters=({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": run + "keep"}]}}}},),
    )
    poller = pump.StreamPoller(os.environ["MAIN_TABLE"], wiring, {"collect": collector}, checkpoint_path=checkpoint)
    _drain(poller)
    for name in ("skip-1", "keep-1", "skip-2", "keep-2", "skip-3"):
        _put(run + name)
    _drain(poller)
    assert _mine(collector.keys, run) == [run + "keep-1", run + "keep-2"]
    again = Collector()  # a restart finds nothing left: the filtered tail was checkpointed too
    _drain(_poller(again, checkpoint))
    assert _mine(again.keys, run) == []
