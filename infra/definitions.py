"""The one definition of the project's data resources (tables, queues, buckets, event buses).

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
class Bus:
    """An EventBridge custom event bus the app puts events on (events:PutEvents, granted per function)."""

    logical_id: str
    env_var: str  # the bus's name, as the functions read it
    # The local stack only: a rule copies every event on the bus to a queue whose name this variable
    # holds (`local/bootstrap.py`), so tests and the dev CLI can read what was put on the bus.
    local_tap_env_var: str | None = None


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
        # sparse: appointment notices by due time, sharded: RELEASE#<shard> while a digital notice
        # waits for its release (release_due_notices), then FOLLOWUP#<shard> until its unread follow-up
        # has run (report_unread_notices); sort key <due UTC ISO>#<noticeId>. Also read by birthday_reset
        # (the 13th birthdays) and reconcile_bookings (web booking operations left in between, issue 11).
        Index("gsi5", "gsi5pk", "gsi5sk"),
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
    """One EventBridge Scheduler schedule, in Europe/Stockholm: daily at `hour`:`minute`; with
    `every_minutes`, a run at that rate all day, or, with `from_hour` too, every `every_minutes` minutes
    from that hour until midnight (the slots :00, :05, ... of each hour). A function can have more than
    one (its evening runs and a morning catch-up): `name` tells them apart. The CDK stack wires
    `expression`; the local pump runs the same slots (local/pump.py)."""

    function: str
    hour: int = 0
    minute: int = 0
    every_minutes: int | None = None
    from_hour: int | None = None
    suffix: str = ""  # "" for a function's first schedule; e.g. "catch-up" for another

    def __post_init__(self) -> None:
        if self.from_hour is not None and not (self.every_minutes and 0 <= self.from_hour <= 23):
            raise ValueError("a window (from_hour 0-23) needs every_minutes")
        if self.from_hour is not None and 60 % (self.every_minutes or 1):
            raise ValueError("a window's every_minutes must divide the hour (cron 0/N restarts each hour)")

    @property
    def name(self) -> str:
        """Unique per schedule: the function's name, with the suffix for a second schedule."""
        return f"{self.function}-{self.suffix}" if self.suffix else self.function

    @property
    def expression(self) -> str:
        """EventBridge Scheduler's schedule expression (evaluated in Europe/Stockholm)."""
        if self.every_minutes and self.from_hour is not None:
            hours = f"{self.from_hour}-23" if self.from_hour < 23 else "23"
            return f"cron(0/{self.every_minutes} {hours} * * ? *)"
        if self.every_minutes:
            # EventBridge wants the unit singular for 1 ("rate(1 minutes)" is refused) and plural above.
            return f"rate({self.every_minutes} minute{'s' if self.every_minutes > 1 else ''})"
        return f"cron({self.minute} {self.hour} * * ? *)"

    @property
    def period_s(self) -> int:
        """Time between two runs (a run not delivered within it is superseded by the next)."""
        return self.every_minutes * 60 if self.every_minutes else 24 * 3600


# inbox_events queues one message per arrival (ids only), sweep_notifications re-queues what is
# past due; send_notifications sends (infra/functions.py). A message that keeps failing (five
# receives) lands in the DLQ, whose depth raises an alarm.
NOTIFICATIONS_QUEUE = Queue(
    logical_id="NotificationsQueue",
    env_var="NOTIFICATIONS_QUEUE",
    visibility_timeout_s=60,
    max_receive_count=5,
)

# Appointment notices (R-40..R-43), issue 9. The booking systems' events (PASiS, PMO; the body of POST
# /integrations/bookings) for booking_events; a message that keeps failing (five receives) lands in the
# DLQ, whose depth raises an alarm.
BOOKINGS_QUEUE = Queue(
    logical_id="BookingsQueue",
    env_var="BOOKINGS_QUEUE",
    visibility_timeout_s=60,
    max_receive_count=5,
)
# release_notices fans the due notices out, one message per shard ({"shard", "dueBy"}), to
# release_due_notices, which sends the same message again when it stops early (continuation). Its
# timeout is 300 s: the visibility timeout is longer, so a running release is never received twice.
NOTICE_RELEASE_QUEUE = Queue(
    logical_id="NoticeReleaseQueue",
    env_var="NOTICE_RELEASE_QUEUE",
    visibility_timeout_s=360,
    max_receive_count=5,
)

# Changes in the population register (R-32, issue 10): the body of POST /integrations/population-events,
# from the register's feed, for population_events; a message that keeps failing (five receives: the
# register or DynamoDB unavailable) lands in the DLQ, whose depth raises an alarm.
POPULATION_EVENTS_QUEUE = Queue(
    logical_id="PopulationEventsQueue",
    env_var="POPULATION_EVENTS_QUEUE",
    visibility_timeout_s=60,
    max_receive_count=5,
)

# Back to the booking systems: a notice still unread at its follow-up (issue 9), as `NoticeUnread`
# events (source `e-services.notices`, ids only) they subscribe to with their own rules.
BOOKINGS_BUS = Bus(logical_id="BookingsBus", env_var="BOOKINGS_BUS", local_tap_env_var="BOOKINGS_BUS_TAP_QUEUE")

# Attachments: uploads land under pending/ (presigned POST), the content check moves
# what passes to files/. An upload nobody checked or attached is gone after a day.
ATTACHMENTS_BUCKET = Bucket(
    logical_id="AttachmentsBucket",
    env_var="ATTACHMENTS_BUCKET",
    expire_prefixes=(("pending/", 1),),
)

# Documents the backend makes for care's record systems (issue 13): the health declaration's PDF of medically
# relevant answers under health-declarations/<declarationId>.pdf, written by health_declaration_pdf,
# read by staff through the API. Kept until two years after the declaration stopped being valid (at most
# 12 months + 2 years = 1097 days after it was made; the declaration's own items go by TTL then).
DOCUMENTS_BUCKET = Bucket(
    logical_id="DocumentsBucket",
    env_var="DOCUMENTS_BUCKET",
    expire_prefixes=(("health-declarations/", 1100),),
)

TABLES: tuple[Table, ...] = (MAIN_TABLE, AUDIT_TABLE, IDEMPOTENCY_TABLE)
QUEUES: tuple[Queue, ...] = (NOTIFICATIONS_QUEUE, BOOKINGS_QUEUE, NOTICE_RELEASE_QUEUE, POPULATION_EVENTS_QUEUE)
BUCKETS: tuple[Bucket, ...] = (ATTACHMENTS_BUCKET, DOCUMENTS_BUCKET)
BUSES: tuple[Bus, ...] = (BOOKINGS_BUS,)


def resource_name(stage: str, logical_id: str) -> str:
    """Physical name used locally (and as a readable prefix in AWS)."""
    return f"e-services-{stage}-{logical_id}"


def local_environment(stage: str = "local") -> dict[str, str]:
    """Environment variables naming every resource, as the functions read them (and, for the local
    stack, the queue each bus's events are copied to)."""
    env = {t.env_var: resource_name(stage, t.logical_id) for t in TABLES}
    env.update({q.env_var: resource_name(stage, q.logical_id) for q in QUEUES})
    env.update({b.env_var: resource_name(stage, b.logical_id).lower() for b in BUCKETS})
    env.update({b.env_var: resource_name(stage, b.logical_id) for b in BUSES})
    env.update({b.local_tap_env_var: bus_tap_queue_name(stage, b) for b in BUSES if b.local_tap_env_var})
    return env


def bus_tap_queue_name(stage: str, bus: Bus) -> str:
    """The local stack's queue that receives a copy of every event put on `bus`."""
    return resource_name(stage, f"{bus.logical_id}Tap")
