"""The AWS clients, one per service and process, created on first use (boto3 costs cold start).

Each client's timeouts and retries are chosen for its callers: an API request must end inside its
Lambda timeout, and a notification provider call is retried through its queue, not by the SDK.
Endpoints come from the environment (AWS_ENDPOINT_URL locally: DynamoDB Local and moto).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.core.process import process_wide

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

# A request must end, cleanly, inside its Lambda timeout (15 s for the API) even when DynamoDB hangs:
# at most 3 attempts × (1 s connect + 2 s read) + standard-mode backoff (≤ 1 s + 2 s) = 12 s for the
# first call, which then raises and ends the request as a 503. DynamoDB answers in milliseconds; a
# read that takes 2 s is a failure worth retrying elsewhere, not waiting for.
DYNAMODB_CONNECT_TIMEOUT_S = 1
DYNAMODB_READ_TIMEOUT_S = 2
DYNAMODB_MAX_ATTEMPTS = 3


def _client(service: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, config=Config(**config))  # type: ignore[call-overload]


@process_wide
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client(
        "dynamodb",
        retries={"mode": "standard", "total_max_attempts": DYNAMODB_MAX_ATTEMPTS},
        connect_timeout=DYNAMODB_CONNECT_TIMEOUT_S,
        read_timeout=DYNAMODB_READ_TIMEOUT_S,
        tcp_keepalive=True,
    )
    return client


@process_wide
def s3() -> S3Client:
    """SigV4 everywhere: presigned POST policies and URLs for SSE-KMS objects need it."""
    client: S3Client = _client(
        "s3",
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=2,
        read_timeout=10,
        tcp_keepalive=True,
    )
    return client


@process_wide
def provider(service: str) -> Any:
    """SNS, SES and SQS for the notification path: no SDK retries (a throttled send is retried through
    the queue) and a connection per sender thread."""
    return _client(
        service,
        retries={"mode": "standard", "max_attempts": 1},
        connect_timeout=2,
        read_timeout=5,
        max_pool_connections=16,
    )
