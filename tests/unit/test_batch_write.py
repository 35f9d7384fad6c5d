"""The one BatchWriteItem loop (core.dynamo.batch_write): 25 per request, unprocessed writes sent again,
none dropped silently (a retention delete that lost items would keep health data past its time, R-24)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.core import dynamo


def delete(n: int) -> dict[str, Any]:
    return {"DeleteRequest": {"Key": {"pk": {"S": f"K#{n}"}, "sk": {"S": "ITEM"}}}}


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client("dynamodb", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(dynamo, "client", lambda: client)
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def test_writes_25_per_request_and_sends_unprocessed_ones_again(stubbed: Stubber) -> None:
    writes = [delete(n) for n in range(30)]
    stubbed.add_response(
        "batch_write_item", {"UnprocessedItems": {"T": writes[20:25]}}, {"RequestItems": {"T": writes[:25]}}
    )
    stubbed.add_response("batch_write_item", {}, {"RequestItems": {"T": [*writes[20:25], *writes[25:]]}})
    pauses: list[float] = []
    dynamo.batch_write("T", writes, sleep=pauses.append)
    assert len(pauses) == 1


def test_raises_rather_than_drop_writes_dynamodb_never_took(stubbed: Stubber) -> None:
    writes = [delete(1)]
    for _ in range(dynamo.BATCH_GET_MAX_RETRIES + 1):
        stubbed.add_response("batch_write_item", {"UnprocessedItems": {"T": writes}}, {"RequestItems": {"T": writes}})
    with pytest.raises(dynamo.UnprocessedItemsError):
        dynamo.batch_write("T", writes, sleep=lambda _: None)


def test_nothing_to_write_sends_nothing(stubbed: Stubber) -> None:
    dynamo.batch_write("T", [])
