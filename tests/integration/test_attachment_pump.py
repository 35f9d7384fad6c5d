"""The local event pump's S3 feed: objects created in a bucket reach the wired function as S3's
ObjectCreated:Post notification would, once per object, with Lambda's retries for a failing call."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from chalicelib.attachments import service
from chalicelib.attachments.events import attachment_uploaded
from chalicelib.attachments.models import Uploader
from chalicelib.core import process
from chalicelib.core.clock import system_clock
from infra import definitions
from infra.functions import OBJECT_CREATED_CONSUMERS
from local import pump

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture(autouse=True)
def s3_for_this_stack(stack: Any) -> Iterator[None]:
    process.reset()
    yield
    process.reset()


@pytest.fixture
def bucket(stack: Any) -> Iterator[str]:
    s3 = boto3.client("s3")
    name = "pump-test-bucket"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_DEFAULT_REGION"]})
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def test_new_objects_under_the_prefix_are_delivered_once_in_s3_event_shape(bucket: str) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="in/before-start", Body=b"old")  # already there: not a new event
    seen: list[dict[str, Any]] = []
    wiring = definitions.ObjectCreatedConsumer(
        function="test_consumer", bucket=definitions.Bucket("PumpTestBucket", "PUMP_TEST_BUCKET"), prefix="in/"
    )
    poller = pump.BucketPoller(bucket, wiring, {"test_consumer": lambda event, context: seen.append(event)})
    assert poller.poll() == 0

    s3.put_object(Bucket=bucket, Key="in/a file+ä.pdf", Body=b"%PDF-1.4 hello")
    s3.put_object(Bucket=bucket, Key="out/ignored", Body=b"x")
    assert poller.poll() == 1
    assert poller.poll() == 0  # delivered once
    (event,) = seen
    (record,) = event["Records"]
    head = s3.head_object(Bucket=bucket, Key="in/a file+ä.pdf")
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Post"
    assert record["eventVersion"] == "2.1" and record["awsRegion"] == os.environ["AWS_DEFAULT_REGION"]
    assert record["eventTime"].endswith("Z")
    assert record["s3"]["s3SchemaVersion"] == "1.0"
    assert record["s3"]["bucket"] == {
        "name": bucket,
        "ownerIdentity": {"principalId": "LOCAL"},
        "arn": f"arn:aws:s3:::{bucket}",
    }
    obj = record["s3"]["object"]
    assert obj["key"] == "in/a+file%2B%C3%A4.pdf"  # URL-encoded like S3: space "+", "/" kept
    assert obj["size"] == len(b"%PDF-1.4 hello")
    assert obj["eTag"] == head["ETag"].strip('"')
    assert set(obj) == {"key", "size", "eTag", "sequencer"}

    s3.put_object(Bucket=bucket, Key="in/a file+ä.pdf", Body=b"%PDF-1.4 written again")
    assert poller.poll() == 1  # same key, new object: a new event
    assert seen[1]["Records"][0]["s3"]["object"]["size"] == len(b"%PDF-1.4 written again")
    assert seen[1]["Records"][0]["s3"]["object"]["sequencer"] > obj["sequencer"]


def test_a_failing_function_is_invoked_three_times_then_given_up(bucket: str) -> None:
    s3 = boto3.client("s3")
    calls: list[str] = []

    def failing(event: dict[str, Any], context: Any) -> None:
        calls.append(event["Records"][0]["s3"]["object"]["key"])
        raise RuntimeError("boom")

    wiring = definitions.ObjectCreatedConsumer("failing", definitions.Bucket("PumpTestBucket", "PUMP_TEST_BUCKET"))
    poller = pump.BucketPoller(bucket, wiring, {"failing": failing})
    s3.put_object(Bucket=bucket, Key="x", Body=b"1")
    for _ in range(5):
        poller.poll()
    assert calls == ["x", "x", "x"]


def test_the_pump_checks_a_real_upload_with_the_wired_function(stack: Any) -> None:
    (wiring,) = OBJECT_CREATED_CONSUMERS
    assert wiring.function == "attachment_uploaded" and wiring.prefix == "pending/"
    poller = pump.BucketPoller(os.environ[wiring.bucket.env_var], wiring, {"attachment_uploaded": attachment_uploaded})
    attachment, post = service.create_upload(
        Uploader("citizen", "citizen-sara"), "intyg.pdf", "application/pdf", len(PDF), clock=system_clock
    )
    response = requests.post(
        post["url"], data=post["fields"], files={"file": ("intyg.pdf", PDF, "application/pdf")}, timeout=10
    )
    assert response.status_code == 204
    assert poller.poll() == 1
    found = service.get(attachment.attachment_id, clock=system_clock)
    assert found is not None and found.status == "checked"
    assert poller.poll() == 0  # files/ is not under the prefix; the moved upload is gone
