"""The one definition of the project's data resources (tables, queues, buckets).

Plain Python with no CDK import: the CDK stack (`infra/parts/data.py`) turns it into
CloudFormation and the local stack (`local/bootstrap.py`) into DynamoDB Local / moto resources, so the
two cannot drift. Physical names are derived per stage (`resource_name`). The functions and what
invokes them are in the registry, `infra/functions.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True)
class Table:
    logical_id: str
    env_var: str  # the environment variable that tells the functions the physical name
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None
    stream: bool = False
    indexes: tuple[Index, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Queue:
    logical_id: str
    env_var: str
    visibility_timeout_s: int = 60
    max_receive_count: int = 5  # then the message goes to the queue's DLQ


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    env_var: str
    # (key prefix, days): objects under the prefix are deleted that many days after they were
    # written (S3 lifecycle). Incomplete multipart uploads are aborted after a day in every bucket.
    expire_prefixes: tuple[tuple[str, int], ...] = ()


MAIN_TABLE = Table(
    logical_id="MainTable",
    env_var="MAIN_TABLE",
    partition_key="pk",
    sort_key="sk",
    ttl_attribute="expiresAt",
    stream=True,
    indexes=(
        # docs/architecture.md lists what uses each.
        Index("gsi1", "gsi1pk", "gsi1sk"),  # a citizen's inbox by last activity
        Index("gsi2", "gsi2pk", "gsi2sk"),  # a clinic's cases by status
        Index("gsi3", "gsi3pk", "gsi3sk"),  # sparse: a clinic's unanswered cases by due time
        # sparse: notification due markers (the outbox of R-11), read by sweep_notifications
        Index("gsi4", "gsi4pk", "gsi4sk"),
    ),
)

AUDIT_TABLE = Table(
    logical_id="AuditTable",
    env_var="AUDIT_TABLE",
    partition_key="pk",
    sort_key="sk",
    indexes=(Index("byTicket", "ticketRef", "sk"),),
)

# Powertools idempotency's default key and TTL attribute names.
IDEMPOTENCY_TABLE = Table(
    logical_id="IdempotencyTable",
    env_var="IDEMPOTENCY_TABLE",
    partition_key="id",
    ttl_attribute="expiration",
)


# --- event source wiring: one function and its source's settings. The registry (infra/functions.py)
# produces these from its entries; the CDK stack and the local pump wire them, so both use the same
# batch sizes, windows and concurrency. Tests build their own to feed test functions.


@dataclass(frozen=True)
class StreamConsumer:
    """A function fed by a table's stream (infra: event source mapping with ReportBatchItemFailures)."""

    function: str
    table: Table
    batch_size: int = 100
    window_s: int = 0  # MaximumBatchingWindowInSeconds
    # Lambda event filtering (FilterCriteria): only records matching one of these patterns invoke the
    # function; the local pump applies the same patterns (local/event_filter.py). Empty: every record.
    filters: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class QueueConsumer:
    """A function fed by an SQS queue (infra: event source mapping with ReportBatchItemFailures)."""

    function: str
    queue: Queue
    batch_size: int = 10
    window_s: int = 0  # MaximumBatchingWindowInSeconds
    # Infra: the event source mapping's ScalingConfig.MaximumConcurrency (2-1000); None = uncapped.
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.max_concurrency is not None and not 2 <= self.max_concurrency <= 1000:
            raise ValueError("SQS MaximumConcurrency must be between 2 and 1000")


@dataclass(frozen=True)
class ObjectCreatedConsumer:
    """A function invoked by S3 for every object created under `prefix` in `bucket` (infra: the
    bucket's notification configuration; locally: the pump lists the bucket)."""

    function: str
    bucket: Bucket
    prefix: str = ""


@dataclass(frozen=True)
class Schedule:
    """A daily run at a wall-clock time in Europe/Stockholm (EventBridge Scheduler with that zone), or,
    with `every_minutes`, a run at that rate."""

    function: str
    hour: int = 0
    minute: int = 0
    every_minutes: int | None = None


# inbox_events queues one message per arrival (ids only), sweep_notifications re-queues what is
# past due; send_notifications sends (infra/functions.py). A message that keeps failing (five
# receives) lands in the DLQ, whose depth raises an alarm.
NOTIFICATIONS_QUEUE = Queue(
    logical_id="NotificationsQueue",
    env_var="NOTIFICATIONS_QUEUE",
    visibility_timeout_s=60,
    max_receive_count=5,
)

# Attachments: uploads land under pending/ (presigned POST), the content check moves
# what passes to files/. An upload nobody checked or attached is gone after a day.
ATTACHMENTS_BUCKET = Bucket(
    logical_id="AttachmentsBucket",
    env_var="ATTACHMENTS_BUCKET",
    expire_prefixes=(("pending/", 1),),
)

TABLES: tuple[Table, ...] = (MAIN_TABLE, AUDIT_TABLE, IDEMPOTENCY_TABLE)
QUEUES: tuple[Queue, ...] = (NOTIFICATIONS_QUEUE,)
BUCKETS: tuple[Bucket, ...] = (ATTACHMENTS_BUCKET,)


def resource_name(stage: str, logical_id: str) -> str:
    """Physical name used locally (and as a readable prefix in AWS)."""
    return f"e-services-{stage}-{logical_id}"


def local_environment(stage: str = "local") -> dict[str, str]:
    """Environment variables naming every resource, as the functions read them."""
    env = {t.env_var: resource_name(stage, t.logical_id) for t in TABLES}
    env.update({q.env_var: resource_name(stage, q.logical_id) for q in QUEUES})
    env.update({b.env_var: resource_name(stage, b.logical_id).lower() for b in BUCKETS})
    return env
