"""The notification path's plumbing, without AWS: BatchGetItem's unprocessed keys (a stubbed client) and
the provider rate limit (a fake clock)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.core import dynamo


def key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"K#{n}"}, "sk": {"S": "ITEM"}}


def item(n: int) -> dict[str, Any]:
    return {**key(n), "value": {"N": str(n)}}


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = boto3.client("dynamodb", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(dynamo, "client", lambda: client)
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def request(keys: list[dict[str, Any]]) -> dict[str, Any]:
    return {"RequestItems": {"T": {"Keys": keys, "ConsistentRead": True}}}


def test_batch_get_asks_unprocessed_keys_again_with_backoff_and_drops_none(stubbed: Stubber) -> None:
    keys = [key(n) for n in range(4)]
    stubbed.add_response(
        "batch_get_item",
        {"Responses": {"T": [item(0)]}, "UnprocessedKeys": {"T": {"Keys": keys[1:], "ConsistentRead": True}}},
        request(keys),
    )
    stubbed.add_response(  # throttled again: nothing this time
        "batch_get_item",
        {"Responses": {"T": []}, "UnprocessedKeys": {"T": {"Keys": keys[1:], "ConsistentRead": True}}},
        request(keys[1:]),
    )
    stubbed.add_response("batch_get_item", {"Responses": {"T": [item(1), item(3)]}}, request(keys[1:]))
    pauses: list[float] = []
    found = dynamo.batch_get([("T", k) for k in [*keys, key(0)]], sleep=pauses.append)  # key 0 twice: asked once
    assert found == {dynamo.ref("T", key(n)): {"pk": f"K#{n}", "sk": "ITEM", "value": n} for n in (0, 1, 3)}
    assert len(pauses) == 2 and 0 < pauses[0] < pauses[1]  # backoff grows


def test_batch_get_raises_rather_than_return_without_keys_it_never_got(stubbed: Stubber) -> None:
    throttled = {"Responses": {"T": []}, "UnprocessedKeys": {"T": {"Keys": [key(1)], "ConsistentRead": True}}}
    stubbed.add_response("batch_get_item", {**throttled, "Responses": {"T": [item(0)]}}, request([key(0), key(1)]))
    for _ in range(dynamo.BATCH_GET_MAX_RETRIES):
        stubbed.add_response("batch_get_item", throttled, request([key(1)]))
    with pytest.raises(dynamo.UnprocessedKeysError):
        dynamo.batch_get([("T", key(0)), ("T", key(1))], sleep=lambda _: None)


def test_batch_get_asks_at_most_100_keys_a_request(stubbed: Stubber) -> None:
    keys = [key(n) for n in range(150)]
    stubbed.add_response("batch_get_item", {"Responses": {"T": [item(n) for n in range(100)]}}, request(keys[:100]))
    stubbed.add_response(
        "batch_get_item", {"Responses": {"T": [item(n) for n in range(100, 150)]}}, request(keys[100:])
    )
    assert len(dynamo.batch_get([("T", k) for k in keys])) == 150


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return self.t

    def wait_until(self, instant: float) -> None:
        with self.lock:
            self.t = max(self.t, instant)


def test_the_token_bucket_serves_concurrent_callers_at_the_rate() -> None:
    from chalicelib.notifications.rate import TokenBucket

    clock = FakeTime()
    bucket = TokenBucket(4, now=clock.now, wait_until=clock.wait_until)
    granted: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        at = bucket.acquire()
        assert at is not None
        with lock:
            granted.append(at)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    granted.sort()
    assert granted[:4] == [0.0] * 4  # a burst of one second's worth
    for index, at in enumerate(granted):
        assert at >= (index + 1 - 4) / 4 - 1e-9  # then 4 a second, whoever asks
    assert granted[-1] == pytest.approx(4.0)


def test_the_token_bucket_gives_nothing_it_could_not_give_in_time() -> None:
    from chalicelib.notifications.rate import TokenBucket

    clock = FakeTime()
    bucket = TokenBucket(1, now=clock.now, wait_until=clock.wait_until)
    assert bucket.acquire(max_wait_s=0) == 0.0
    assert bucket.acquire(max_wait_s=0.5) is None  # the next token is a second away
    assert bucket.acquire(max_wait_s=2) == pytest.approx(1.0)


def test_the_rate_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core import process
    from chalicelib.notifications import rate

    monkeypatch.setenv(rate.ENV, "12.5")
    process.reset()
    assert rate.limiter().rate == 12.5
    monkeypatch.delenv(rate.ENV)
    process.reset()
    assert rate.limiter().rate == rate.DEFAULT_RATE_PER_S
    process.reset()


def _arrival_record(sequence: str, item_id: str) -> dict:
    return {
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "SequenceNumber": sequence,
            "Keys": {"pk": {"S": "CITIZEN#c1"}, "sk": {"S": f"INBOX#{item_id}"}},
            "NewImage": {"arrivalId": {"S": f"arrival-{item_id}"}},
        },
    }


def test_inbox_events_reports_the_first_unqueued_arrival_and_every_later_record(monkeypatch):
    """R-11: an arrival that could not be queued comes again (streams are ordered: Lambda retries from the
    first reported record); records before it are done."""
    from chalicelib.notifications import events, repository

    records = [
        _arrival_record("100", "a"),
        {"eventName": "REMOVE", "eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": "101", "Keys": {}}},
        _arrival_record("102", "b"),
        _arrival_record("103", "c"),
    ]
    queued: list[list[dict]] = []

    def enqueue(bodies: list[dict]) -> list[int]:
        queued.append(bodies)
        return [1]  # the second arrival (record 102) failed

    monkeypatch.setattr(repository, "enqueue", enqueue)
    result = events.inbox_events({"Records": records}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "102"}, {"itemIdentifier": "103"}]}
    assert [b["itemId"] for b in queued[0]] == ["a", "b", "c"]  # one batch, ids only
    monkeypatch.setattr(repository, "enqueue", lambda bodies: [])
    assert events.inbox_events({"Records": records}, None) == {"batchItemFailures": []}
    assert events.inbox_events({"Records": []}, None) == {"batchItemFailures": []}
