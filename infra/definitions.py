"""The one definition of the project's data resources.

Plain Python with no CDK import: the CDK stack (`infra/stack.py`) turns it into CloudFormation and
the local stack (`local/bootstrap.py`) into DynamoDB Local / moto resources, so the two cannot
drift. Physical names are derived per stage (`resource_name`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


MAIN_TABLE = Table(
    logical_id="MainTable",
    env_var="MAIN_TABLE",
    partition_key="pk",
    sort_key="sk",
    ttl_attribute="expiresAt",
    stream=True,
    indexes=(
        # Generic inverted/secondary access patterns; docs/architecture.md lists what uses each.
        Index("gsi1", "gsi1pk", "gsi1sk"),
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


@dataclass(frozen=True)
class StreamConsumer:
    """A function fed by a table's stream (infra: event source mapping with ReportBatchItemFailures)."""

    function: str
    table: Table
    batch_size: int = 25


@dataclass(frozen=True)
class QueueConsumer:
    function: str
    queue: Queue
    batch_size: int = 10


@dataclass(frozen=True)
class Schedule:
    """A daily run at a wall-clock time in Europe/Stockholm (EventBridge Scheduler with that zone)."""

    function: str
    hour: int
    minute: int = 0


TABLES: tuple[Table, ...] = (MAIN_TABLE, AUDIT_TABLE, IDEMPOTENCY_TABLE)
QUEUES: tuple[Queue, ...] = ()
BUCKETS: tuple[Bucket, ...] = ()
STREAM_CONSUMERS: tuple[StreamConsumer, ...] = ()
QUEUE_CONSUMERS: tuple[QueueConsumer, ...] = ()
SCHEDULES: tuple[Schedule, ...] = ()
# Functions the support desk invokes from the console.
ADMIN_FUNCTIONS: tuple[str, ...] = (
    "admin_lock_account",
    "admin_unlock_account",
    "admin_record_unlock_decision",
    "admin_seal_record",
)


def resource_name(stage: str, logical_id: str) -> str:
    """Physical name used locally (and as a readable prefix in AWS)."""
    return f"e-services-{stage}-{logical_id}"


def local_environment(stage: str = "local") -> dict[str, str]:
    """Environment variables naming every resource, as the functions read them."""
    env = {t.env_var: resource_name(stage, t.logical_id) for t in TABLES}
    env.update({q.env_var: resource_name(stage, q.logical_id) for q in QUEUES})
    env.update({b.env_var: resource_name(stage, b.logical_id).lower() for b in BUCKETS})
    return env
