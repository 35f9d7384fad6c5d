"""The function registry: every Chalice function, declared once.

Plain Python with no CDK import. Each `Function` says what invokes it (its trigger, with the batch
size, batching window and concurrency of its event source), its memory and timeout, and exactly what
it may do (tables and actions, indexes, secrets, queues, event buses, objects, SMS/e-mail). Everything
not listed is denied. Readers:

- the CDK stack (`infra/parts/functions.py`): one role, log group, error alarm and event source
  per entry; synth fails when app.py's functions and this registry differ;
- the local pump (`local/pump.py`): the same consumers, with the same batch sizes, windows and
  concurrency, fed from DynamoDB Local / moto;
- the dev CLI (`python -m local functions`) and the infrastructure tests.

Adding an event function is one decorated function in its capability and one entry here
(infra/README.md, "Adding a function").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.definitions import (
    ATTACHMENTS_BUCKET,
    AUDIT_TABLE,
    BOOKINGS_BUS,
    BOOKINGS_QUEUE,
    DOCUMENTS_BUCKET,
    MAIN_TABLE,
    NOTICE_RELEASE_QUEUE,
    NOTIFICATIONS_QUEUE,
    POPULATION_EVENTS_QUEUE,
    Bucket,
    ObjectCreatedConsumer,
    Queue,
    QueueConsumer,
    Schedule,
    StreamConsumer,
    Table,
)

# Env var names of the secrets; Function.secrets names secrets by these.
HMAC_ARN_VAR = "PNR_HMAC_SECRET_ARN"
BANKID_CERT_ARN_VAR = "BANKID_CERT_SECRET_ARN"
# The booking systems' endpoints and API keys (issue 11), {"PASiS": {"url", "apiKey"}, "PMO": {...}}.
BOOKING_SYSTEMS_ARN_VAR = "BOOKING_SYSTEMS_SECRET_ARN"
# Freja eID (issue 12): the mTLS client certificate and key Freja issued us, and Freja's JWS signing
# certificates to trust, {"clientCertificate": PEM, "clientKey": PEM, "trustedCertificates": [PEM, ...]}.
FREJA_ARN_VAR = "FREJA_SECRET_ARN"

# --- DynamoDB action sets. There is no Scan anywhere, on purpose (DESIGN.md: reads are by key). ---
# IAM has no TransactWriteItems/TransactGetItems actions: a transaction is authorised per item with
# PutItem/UpdateItem/DeleteItem/ConditionCheckItem (and GetItem for TransactGetItems).
ITEM_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
ITEM_WRITE = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem",
)
ADMIN_MAIN_ACCESS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
)
# What a Powertools idempotency consumer would need on the IdempotencyTable; no function uses the table
# today. (The booking consumer, issue 9, is idempotent without it: a version per booking, kept with the
# notice at its own key, makes a replayed or older event change nothing.)
IDEMPOTENCY_ACCESS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)


# --- triggers: what invokes a function ---------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """The REST API (API Gateway): Chalice's route handler."""


@dataclass(frozen=True)
class Console:
    """Invoked by hand (the support desk, `aws lambda invoke`): no event source."""


@dataclass(frozen=True)
class StreamRecords:
    """A table's stream (event source mapping: partial batch failures, bisect, 5 retries, on-failure
    queue). `filters` are Lambda FilterCriteria patterns: records matching none never invoke the
    function (the pump applies the same patterns, local/event_filter.py); empty means every record."""

    table: Table
    batch_size: int = 100
    window_s: int = 0  # MaximumBatchingWindowInSeconds: wait up to this long to fill a batch
    filters: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.table.stream:
            raise ValueError(f"{self.table.logical_id} has no stream: set stream=True in definitions.py")
        if not 1 <= self.batch_size <= 10_000 or not 0 <= self.window_s <= 300:
            raise ValueError("stream batch size must be 1-10000 and the window 0-300 s")


@dataclass(frozen=True)
class QueueMessages:
    """An SQS queue (event source mapping with partial batch failures; the queue's DLQ catches what
    keeps failing). `max_concurrency` caps the instances the mapping runs at once (2-1000; None:
    uncapped), so a backlog drains within provider quotas."""

    queue: Queue
    batch_size: int = 10
    window_s: int = 0
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.max_concurrency is not None and not 2 <= self.max_concurrency <= 1000:
            raise ValueError("SQS MaximumConcurrency must be between 2 and 1000")
        # Lambda: above 10 messages a batch needs a batching window.
        if not 1 <= self.batch_size <= (10_000 if self.window_s else 10) or not 0 <= self.window_s <= 300:
            raise ValueError("queue batch size must be 1-10 (1-10000 with a window) and the window 0-300 s")


@dataclass(frozen=True)
class ObjectsCreated:
    """S3 ObjectCreated under `prefix` of `bucket` (asynchronous: retries, then an on-failure queue)."""

    bucket: Bucket
    prefix: str = ""


@dataclass(frozen=True)
class Every:
    """EventBridge Scheduler at a fixed rate (asynchronous invocation)."""

    minutes: int


@dataclass(frozen=True)
class DailyAt:
    """EventBridge Scheduler once a day at a Europe/Stockholm wall-clock time (daylight saving handled by
    the scheduler's time zone; asynchronous invocation)."""

    hour: int
    minute: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise ValueError("a daily schedule needs an hour 0-23 and a minute 0-59")


# Divisors of the hour: EventBridge's cron `0/N` restarts at :00 every hour, so only these give the same
# slots every N minutes across the hours (and the same slots in the local pump).
_EVERY_MINUTES_IN_AN_HOUR = frozenset(n for n in range(1, 31) if 60 % n == 0)


@dataclass(frozen=True)
class Evenings:
    """EventBridge Scheduler in Europe/Stockholm: every `every_minutes` minutes from `from_hour`:00 until
    midnight (the last run at 23:(60 - every_minutes)), and one catch-up run the next morning at
    `catch_up_hour`:`catch_up_minute` for what a failed or missed evening run left. Two schedules, each
    with its own invoker role and dead-letter queue; daylight saving is the scheduler's time zone's
    (asynchronous invocation). The event's `time` is the slot's planned time."""

    from_hour: int
    every_minutes: int
    catch_up_hour: int
    catch_up_minute: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.from_hour <= 23:
            raise ValueError("an evening window starts at an hour 1-23 and runs until midnight")
        if self.every_minutes not in _EVERY_MINUTES_IN_AN_HOUR:
            raise ValueError(f"every_minutes must divide the hour: one of {sorted(_EVERY_MINUTES_IN_AN_HOUR)}")
        if not (0 <= self.catch_up_hour < self.from_hour and 0 <= self.catch_up_minute <= 59):
            raise ValueError("the catch-up runs in the morning: an hour before from_hour and a minute 0-59")


CATCH_UP = "catch-up"  # the suffix of an Evenings trigger's morning schedule (its name, its CDK ids)


@dataclass(frozen=True)
class DeliveryReports:
    """SES events (through an encrypted SNS topic) and SMS delivery status logs (CloudWatch Logs
    subscription filters); both invoke asynchronously."""


Trigger = Api | Console | StreamRecords | QueueMessages | ObjectsCreated | Every | DailyAt | Evenings | DeliveryReports
ASYNC_TRIGGERS = (ObjectsCreated, Every, DailyAt, Evenings, DeliveryReports)  # each gets an on-failure queue
SCHEDULED_TRIGGERS = (Every, DailyAt, Evenings)


# --- the function ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectGrant:
    """S3 object actions on the keys under `prefix` ("" = every key) of one bucket."""

    bucket: str  # Bucket.logical_id
    actions: tuple[str, ...]
    prefix: str = ""


@dataclass(frozen=True)
class Function:
    """One Chalice function (`@app.lambda_function(name=...)`, or the API handler): what invokes it and
    everything it may do."""

    name: str
    trigger: Trigger
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # Table.logical_id -> actions
    # Table.logical_id -> the only indexes its Query may read (a table not named here: every index).
    query_indexes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # env var names of the secrets it may read
    send_to: tuple[str, ...] = ()  # Queue.logical_ids it may send messages to
    put_events: tuple[str, ...] = ()  # Bus.logical_ids it may put events on
    objects: tuple[ObjectGrant, ...] = ()  # S3 object actions, per bucket and key prefix
    # Bucket.logical_ids it may list. Also what makes S3 answer 404 rather than 403 for a missing key.
    list_buckets: tuple[str, ...] = ()
    sends_sms: bool = False  # sns:Publish to phone numbers (never to topics)
    sends_email: bool = False  # ses:SendEmail from the notification identity, with the configuration set
    memory_mb: int = 512
    timeout_s: int = 30

    def __post_init__(self) -> None:
        if isinstance(self.trigger, QueueMessages) and self.trigger.queue.visibility_timeout_s < self.timeout_s:
            # Lambda refuses such a mapping at deploy time; fail on import instead.
            raise ValueError(
                f"{self.name}: {self.trigger.queue.logical_id}'s visibility timeout < the function timeout"
            )

    @property
    def invoked_asynchronously(self) -> bool:
        return isinstance(self.trigger, ASYNC_TRIGGERS)

    @property
    def delivery_feedback(self) -> bool:
        return isinstance(self.trigger, DeliveryReports)


Registry = Mapping[str, Function]


def registry(*functions: Function) -> dict[str, Function]:
    """Name -> function; a name declared twice is an error."""
    found: dict[str, Function] = {}
    for function in functions:
        if function.name in found:
            raise ValueError(f"function {function.name} is declared twice")
        found[function.name] = function
    return found


def _admin(name: str) -> Function:
    return Function(
        name,
        Console(),
        tables={MAIN_TABLE.logical_id: ADMIN_MAIN_ACCESS, AUDIT_TABLE.logical_id: ("dynamodb:PutItem",)},
        secrets=(HMAC_ARN_VAR,),
    )


# The health declarations' PDFs (R-46) in the documents bucket: written by health_declaration_pdf, read by
# api_handler (staff), keyed by declaration id (chalicelib/health_declarations/storage.py).
HEALTH_DECLARATION_PDFS = "health-declarations/"

# The provider quotas bound the sender: MaximumConcurrency × NOTIFICATION_SEND_RATE_PER_S (default 4 per
# process) = 12 calls/s ≤ SES's 14/s and SNS SMS's 20/s defaults (docs/architecture.md, Delivery guarantees).
NOTIFICATION_SENDERS = 3

# The env vars naming every table/queue/bucket/bus reach all functions.
FUNCTIONS: dict[str, Function] = registry(
    Function(
        "api_handler",
        Api(),
        tables={
            MAIN_TABLE.logical_id: ITEM_READ + ITEM_WRITE,
            # Idempotency-Key guards live in the main table (core/idempotency), not Powertools' table.
            AUDIT_TABLE.logical_id: ("dynamodb:PutItem", "dynamodb:Query"),
        },
        # Web booking (issue 11) calls PASiS/PMO from the request: their URLs and API keys. Freja eID login
        # (issue 12): its client certificate and the signing certificates it verifies results with.
        secrets=(HMAC_ARN_VAR, BANKID_CERT_ARN_VAR, BOOKING_SYSTEMS_ARN_VAR, FREJA_ARN_VAR),
        objects=(
            # Presigned POST uploads (signed with this role) land under pending/ only; presigned
            # GETs reach checked files only.
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:PutObject",), prefix="pending/"),
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:GetObject",), prefix="files/"),
            # Staff fetch a health declaration's PDF through the API; nothing else of the bucket.
            ObjectGrant(DOCUMENTS_BUCKET.logical_id, ("s3:GetObject",), prefix=HEALTH_DECLARATION_PDFS),
        ),
        # .chalice/config.json says the same; the DynamoDB client's worst case (core/dynamo.py) fits inside,
        # and so does a booking-system call (web_booking adapters: connect 2 s, read 5 s, one retry, at most
        # 10 s in all). Both worst cases in one request do not: it times out, and reconcile_bookings finishes
        # the operation it left in between.
        timeout_s=15,
    ),
    # Attachments: judges an upload under pending/, moves it to files/ (copy: read the
    # source, write the target) or deletes it, and records the verdict on the attachment. A JPEG/PNG is
    # decoded and saved again without its metadata (issue 13): a 48-megapixel photo turned upright peaks
    # at ~400 MB besides the runtime, hence 1024 MB (and the CPU that comes with it).
    Function(
        "attachment_uploaded",
        ObjectsCreated(ATTACHMENTS_BUCKET, prefix="pending/"),
        tables={MAIN_TABLE.logical_id: ("dynamodb:GetItem", "dynamodb:UpdateItem")},
        objects=(
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:GetObject", "s3:DeleteObject"), prefix="pending/"),
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:PutObject", "s3:DeleteObject"), prefix="files/"),
        ),
        list_buckets=(ATTACHMENTS_BUCKET.logical_id,),
        memory_mb=1024,
    ),
    # when TTL deletes a case, its messages, history, inbox item and files go too. Only deletions
    # matter (TTL's REMOVE of a case or an unused upload).
    Function(
        "case_retention",
        StreamRecords(MAIN_TABLE, filters=({"eventName": ["REMOVE"]},)),
        tables={
            MAIN_TABLE.logical_id: (
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
            )
        },
        objects=(
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:DeleteObject",), prefix="files/"),
            ObjectGrant(ATTACHMENTS_BUCKET.logical_id, ("s3:DeleteObject",), prefix="pending/"),
        ),
    ),
    # counts overdue cases per clinic (reads the index of clinics and the due index only); the
    # OverdueCases metric and its alarm.
    Function(
        "count_overdue",
        Every(minutes=15),
        tables={MAIN_TABLE.logical_id: ("dynamodb:Query",)},
        query_indexes={MAIN_TABLE.logical_id: ("gsi2", "gsi3")},  # clinics, due index
    ),
    # a new arrival in an inbox → its ids on the queue. Only inbox items that carry an arrival
    # invoke it (the many other writes never do). No table access: the stream record says it all.
    Function(
        "inbox_events",
        StreamRecords(
            MAIN_TABLE,
            filters=(
                {
                    "eventName": ["INSERT", "MODIFY"],
                    "dynamodb": {
                        "Keys": {"sk": {"S": [{"prefix": "INBOX#"}]}},
                        "NewImage": {"arrivalId": {"S": [{"exists": True}]}},
                    },
                },
            ),
        ),
        send_to=(NOTIFICATIONS_QUEUE.logical_id,),
    ),
    # sends each arrival's notifications once (SNS SMS / SES e-mail). BatchGetItem: accounts,
    # settings, inbox items, notifications; PutItem/UpdateItem: the claim transaction (notifications,
    # the inbox item's due marker), taking a notification up again, the settings;
    # BatchWriteItem: the notifications' outcomes; GetItem: the settings when recording a failure.
    Function(
        "send_notifications",
        QueueMessages(NOTIFICATIONS_QUEUE, batch_size=10, max_concurrency=NOTIFICATION_SENDERS),
        tables={
            MAIN_TABLE.logical_id: (
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
            ),
        },
        sends_sms=True,
        sends_email=True,
    ),
    # the outbox's reconciler, every 5 minutes (alarms on ArrivalsReconciled and
    # NotificationsRequeued). Query: the due index (gsi4); UpdateItem: moving a marker on, giving up;
    # GetItem/PutItem: the settings when recording a notification given up.
    Function(
        "sweep_notifications",
        Every(minutes=5),
        tables={
            MAIN_TABLE.logical_id: ("dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:PutItem")
        },
        query_indexes={MAIN_TABLE.logical_id: ("gsi4",)},  # the sweep-due index only
        send_to=(NOTIFICATIONS_QUEUE.logical_id,),
        timeout_s=60,
    ),
    # delivery reports → the notification (found through gsi1 by provider message id) and the
    # citizen's settings.
    Function(
        "delivery_feedback",
        DeliveryReports(),
        tables={
            MAIN_TABLE.logical_id: ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem")
        },
        query_indexes={MAIN_TABLE.logical_id: ("gsi1",)},  # by provider message id
    ),
    # Appointment notices (R-40..R-43, issue 9; chalicelib/notices/events.py). The booking systems' events
    # from the bookings queue. GetItem: the notice and its version per booking, the person lookup, the
    # account, the settings; Query: the clinic's own partition (clinics.repository.get_clinic; no index);
    # PutItem/UpdateItem/ConditionCheckItem: the notice and its inbox items, in transactions. The HMAC
    # key turns the personnummer into its lookup key.
    Function(
        "booking_events",
        # Capped: every event asks the population register, which must not take a backlog's full force.
        QueueMessages(BOOKINGS_QUEUE, batch_size=10, max_concurrency=10),
        # Writes are Puts only (the notice, an inbox item), alone or in one transaction.
        tables={MAIN_TABLE.logical_id: ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem")},
        query_indexes={MAIN_TABLE.logical_id: ()},  # the table's own partitions, no index
        secrets=(HMAC_ARN_VAR,),
    ),
    # from 18:00 Stockholm every 5 minutes until 23:55, and a catch-up at 06:30: one message per
    # shard to the release queue (SendMessageBatch is authorised as sqs:SendMessage). Reads nothing.
    Function(
        "release_notices",
        Evenings(from_hour=18, every_minutes=5, catch_up_hour=6, catch_up_minute=30),
        send_to=(NOTICE_RELEASE_QUEUE.logical_id,),
    ),
    # one shard's due notices, read through the release index (gsi5) in pages; each released in
    # one transaction (the notice's state, the inbox item: PutItem/UpdateItem/ConditionCheckItem); a
    # notice changed since the page was read is read again (GetItem). Stops before its timeout and
    # sends the same message again (continuation).
    Function(
        "release_due_notices",
        QueueMessages(NOTICE_RELEASE_QUEUE, batch_size=1, max_concurrency=16),
        # The release transaction is two Puts: the notice (conditioned on its version) and the inbox item.
        tables={MAIN_TABLE.logical_id: ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem")},
        query_indexes={MAIN_TABLE.logical_id: ("gsi5",)},  # the release/follow-up index only
        send_to=(NOTICE_RELEASE_QUEUE.logical_id,),
        memory_mb=1024,
        timeout_s=300,
    ),
    # Issue 9: notices still unread at their follow-up (gsi5) → `NoticeUnread` on the bookings bus.
    # GetItem: the inbox item (read or not); PutItem: the notice with its follow-up done
    # (release.report_unread writes it whole, conditioned on its version).
    Function(
        "report_unread_notices",
        DailyAt(7, 0),
        tables={MAIN_TABLE.logical_id: ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem")},
        query_indexes={MAIN_TABLE.logical_id: ("gsi5",)},  # the release/follow-up index only
        put_events=(BOOKINGS_BUS.logical_id,),
        timeout_s=300,
    ),
    # just after midnight Stockholm time, the children whose 13th birthday has come (gsi5, TURNS13#):
    # one transaction each, the settings cleared and the account updated (UpdateItem), with its audit
    # entry; GetItem: the account again when it changed since the index was read.
    Function(
        "birthday_reset",
        DailyAt(0, 5),
        tables={
            MAIN_TABLE.logical_id: ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"),
            AUDIT_TABLE.logical_id: ("dynamodb:PutItem",),
        },
        query_indexes={MAIN_TABLE.logical_id: ("gsi5",)},
        timeout_s=300,
    ),
    # R-32 (issue 10; chalicelib/registry_events/events.py): the population register's changes. Reads the
    # person again from the register (HTTP, not AWS); BatchGetItem: the person lookups of the person,
    # their guardians and children (accounts.citizen_ids_for); PutItem on the audit table: the entries,
    # in one transaction. Nothing else is written: proxy links follow the register per request. The
    # HMAC key turns each personnummer into its lookup key.
    Function(
        "population_events",
        # Capped: every event asks the population register, which must not take a backlog's full force.
        QueueMessages(POPULATION_EVENTS_QUEUE, batch_size=10, max_concurrency=5),
        tables={
            MAIN_TABLE.logical_id: ("dynamodb:BatchGetItem",),
            AUDIT_TABLE.logical_id: ("dynamodb:PutItem",),
        },
        secrets=(HMAC_ARN_VAR,),
    ),
    # Web booking (issue 11; chalicelib/web_booking/events.py): every minute, the booking operations a request
    # left in between (the booking system failed or timed out mid-call; found through gsi5) are looked up in
    # PASiS/PMO by their reference and confirmed or dropped. GetItem: the operation and what it changes;
    # Put/Update/Delete/ConditionCheckItem: one transaction each (the booking's inbox item, the operation's
    # outbox marker), with, for a booking a guardian made for a child, the proxy trace on the audit table (R-36,
    # guardians.activity.record_act: PutItem only). The HMAC key turns the personnummer into its lookup key; the
    # booking-systems secret holds PASiS/PMO's URLs and API keys. 60 s: a run makes several booking-system calls
    # of up to 10 s each.
    Function(
        "reconcile_bookings",
        Every(minutes=1),
        tables={
            MAIN_TABLE.logical_id: (
                "dynamodb:Query",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
            ),
            AUDIT_TABLE.logical_id: ("dynamodb:PutItem",),
        },
        query_indexes={MAIN_TABLE.logical_id: ("gsi5",)},  # the operations in between, by due time
        secrets=(HMAC_ARN_VAR, BOOKING_SYSTEMS_ARN_VAR),
        timeout_s=60,
    ),
    # R-46 (issue 13; chalicelib/health_declarations/events.py): a submitted health declaration → the PDF of its
    # medically relevant answers in the documents bucket (encrypted with the data key). Only the INSERT of a
    # declaration invokes it, and its new image holds everything the PDF shows (no read). UpdateItem: the PDF
    # recorded on the declaration; GetItem: an operator's rebuild by id ({"rebuild": [ids]}); PutObject under
    # health-declarations/ only. A failed record is retried at once, 5 times (each attempt < 30 s), then goes to
    # the alarmed on-failure queue: ready within seconds normally, settled within ~3 minutes either way.
    Function(
        "health_declaration_pdf",
        StreamRecords(
            MAIN_TABLE,
            batch_size=10,
            filters=(
                {
                    "eventName": ["INSERT"],
                    "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "HEALTHDECL#"}]}, "sk": {"S": ["DECLARATION"]}}},
                },
            ),
        ),
        tables={MAIN_TABLE.logical_id: ("dynamodb:GetItem", "dynamodb:UpdateItem")},
        objects=(ObjectGrant(DOCUMENTS_BUCKET.logical_id, ("s3:PutObject",), prefix=HEALTH_DECLARATION_PDFS),),
        memory_mb=1024,  # fpdf2's import and the layout are CPU-bound: more memory, more CPU
        timeout_s=30,
    ),
    # The support desk's actions (docs/runbooks/), invoked from the console.
    _admin("admin_lock_account"),
    _admin("admin_unlock_account"),
    _admin("admin_record_unlock_decision"),
    _admin("admin_seal_record"),
    _admin("admin_change_settings"),  # R-15 (settings)
)


# --- views: the event sources the CDK stack and the local pump wire ----------------------------


def stream_consumers(functions: Iterable[Function] | None = None) -> tuple[StreamConsumer, ...]:
    return tuple(
        StreamConsumer(f.name, t.table, batch_size=t.batch_size, window_s=t.window_s, filters=t.filters)
        for f in _functions(functions)
        if isinstance(t := f.trigger, StreamRecords)
    )


def queue_consumers(functions: Iterable[Function] | None = None) -> tuple[QueueConsumer, ...]:
    return tuple(
        QueueConsumer(f.name, t.queue, batch_size=t.batch_size, window_s=t.window_s, max_concurrency=t.max_concurrency)
        for f in _functions(functions)
        if isinstance(t := f.trigger, QueueMessages)
    )


def object_created_consumers(functions: Iterable[Function] | None = None) -> tuple[ObjectCreatedConsumer, ...]:
    return tuple(
        ObjectCreatedConsumer(f.name, t.bucket, prefix=t.prefix)
        for f in _functions(functions)
        if isinstance(t := f.trigger, ObjectsCreated)
    )


def schedules(functions: Iterable[Function] | None = None) -> tuple[Schedule, ...]:
    """Every schedule, in Europe/Stockholm: one per `Every`/`DailyAt` function, two per `Evenings` one
    (the evening window and the morning catch-up, named `<function>-catch-up`)."""
    found: list[Schedule] = []
    for f in _functions(functions):
        t = f.trigger
        if isinstance(t, Every):
            found.append(Schedule(f.name, every_minutes=t.minutes))
        elif isinstance(t, DailyAt):
            found.append(Schedule(f.name, hour=t.hour, minute=t.minute))
        elif isinstance(t, Evenings):
            found.append(Schedule(f.name, every_minutes=t.every_minutes, from_hour=t.from_hour))
            found.append(Schedule(f.name, hour=t.catch_up_hour, minute=t.catch_up_minute, suffix=CATCH_UP))
    return tuple(found)


def _functions(functions: Iterable[Function] | None) -> Iterable[Function]:
    return FUNCTIONS.values() if functions is None else functions


STREAM_CONSUMERS = stream_consumers()
QUEUE_CONSUMERS = queue_consumers()
OBJECT_CREATED_CONSUMERS = object_created_consumers()
SCHEDULES = schedules()
CONSOLE_FUNCTIONS = tuple(f.name for f in FUNCTIONS.values() if isinstance(f.trigger, Console))
