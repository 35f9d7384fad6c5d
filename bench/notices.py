"""`make bench`, issue 9: the 18:00 burst of appointment notices, in-process against DynamoDB Local and moto.

- release_items_read_per_notice: items DynamoDB returned to the release (gsi5 Query items, GetItem,
  BatchGetItem, ...) per notice released, counted by a botocore after-call hook on the app's DynamoDB
  client from what the responses hold, not taken from the release's own `Run.read`.
- release_per_s / release_s: BENCH_RELEASE_NOTICES (10 000) due notices over several citizens with
  accounts, released by the 16 shard workers at once (a thread per shard calling `release.release_due`,
  as `release_due_notices` does; a worker that stops early runs again, as its continuation would).
  Released = in the FOLLOWUP partitions of gsi5 afterwards, whoever counted it.
- notice_drain_s_at_100_per_s: those notices' notifications through the real path: the main table's
  stream -> `inbox_events` -> the notifications queue -> `send_notifications` (SMS through moto's SNS),
  with the provider limit at 100/s in total: BENCH_SENDERS (10) concurrent senders, each as a Lambda
  instance of its own (its own token bucket at NOTIFICATION_SEND_RATE_PER_S = 100 / senders, its own
  provider threads). Timed from a full backlog (every notice released, nothing notified yet) to the
  last provider call. notice_drain_sent_twice and notice_drain_dlq_messages: what went wrong (0).
  BENCH_DRAIN_NOTICES below the release count drains a sample and extrapolates, under other keys.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

NOTICES = int(os.environ.get("BENCH_RELEASE_NOTICES", "10000"))
DRAIN = int(os.environ.get("BENCH_DRAIN_NOTICES", str(NOTICES)))  # below NOTICES: a sample, extrapolated
PROVIDER_LIMIT_PER_S = 100.0
SENDERS = int(os.environ.get("BENCH_SENDERS", "10"))
DRAIN_TIMEOUT_S = float(os.environ.get("BENCH_DRAIN_TIMEOUT_S", "600"))
QUIET_TIMEOUT_S = 60.0  # after the last notice: how long the queue may take to empty
# Transactions in flight per shard worker. A worker in Lambda runs release.PARALLEL (8) with its own
# connections; here all 16 share one process and one DynamoDB Local on 2 cores, which answers 128 at once
# past the client's 2 s read timeout (then the runs' counts go wrong and pages are read again). 2 each
# releases as fast (DynamoDB Local is the bound) without timeouts. BENCH_RELEASE_PARALLEL=8 to see.
RELEASE_PARALLEL = int(os.environ.get("BENCH_RELEASE_PARALLEL", "2"))
WRITERS = 16  # threads writing the due notices (setup, not measured)
MAX_CONTINUATIONS = 20  # per shard: a worker that keeps stopping early means DynamoDB Local is failing
# The adults of testdata/population.json who can log in; each gets an account, SMS and digital only.
CITIZENS = ("Sara", "Johan", "Lars", "Erik", "Anna", "Karin", "Maria")
CLINIC = "SE2321000016-1001"


class ReadCounter:
    """Items DynamoDB returned, per operation, while `counting` (botocore after-call hook; thread-safe).
    A miss (GetItem without an item) is counted as a call, not as an item."""

    def __init__(self) -> None:
        self.counting = False
        self.calls: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("after-call.dynamodb", self._after)

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.counting:
            return
        name = model.name
        if name in {"Query", "Scan"}:
            found = len(parsed.get("Items") or [])
        elif name == "GetItem":
            found = 1 if parsed.get("Item") else 0
        elif name == "BatchGetItem":
            found = sum(len(items) for items in (parsed.get("Responses") or {}).values())
        elif name == "TransactGetItems":
            found = sum(1 for r in parsed.get("Responses") or [] if r.get("Item"))
        else:
            found = 0
        with self._lock:
            self.calls[name] += 1
            self.items[name] += found


def measure(app: Any, api_event: Any, pnr: Callable[[str], str]) -> dict[str, Any]:
    from chalicelib.core import dynamo
    from local.threadsafe import prepare_app_for_threads

    prepare_app_for_threads()  # several "Lambda invocations" in threads of one process, as the pump does
    counter = ReadCounter()
    counter.attach(dynamo.client())
    people = citizens(app, api_event, pnr)
    setup_started = time.perf_counter()
    expected = write_due_notices(people, NOTICES)
    setup_s = time.perf_counter() - setup_started
    stream = _stream_poller()  # positioned now (LATEST): it sees exactly what the release writes
    release = release_all(counter)
    assert release["released"] == len(expected), release
    drain = drain_notifications(stream, expected)
    figures: dict[str, Any] = {
        "release_items_read_per_notice": round(release["items_read"] / release["released"], 3),
        "release_per_s": round(release["released"] / release["seconds"], 1),
        "release_s": round(release["seconds"], 2),
        "notice_burst": {
            "notices": len(expected),
            "citizens": len(people),
            "setup_s": round(setup_s, 1),
            "release": {k: v for k, v in release.items() if k != "seconds"},
            "drain": drain["detail"],
        },
        **drain["figures"],
    }
    return figures


NOTES = {
    "release_items_read_per_notice": "items DynamoDB returned to the release (gsi5 Query items plus any GetItem "
    "or BatchGetItem), counted from the responses by a botocore hook, over notices released, in the "
    "release_per_s run; by operation in notice_burst.release",
    "release_per_s": "due notices (notice_burst.notices, over notice_burst.citizens citizens) released per second "
    "by the 16 shard workers at once (a thread per shard calling release.release_due, 2 transactions in "
    "flight each: bench/notices.py RELEASE_PARALLEL), in-process against DynamoDB Local; release_s: the wall "
    "time for all of them",
    "notice_drain_s_at_100_per_s": "from a full backlog (every notice released) to the last provider call: main "
    "table stream -> inbox_events -> notifications queue (moto SQS) -> send_notifications (moto SNS, one SMS "
    "per notice), 10 senders, each with its own token bucket at 10/s and its own provider threads (as "
    "Lambda instances): the provider limit at 100/s in total. On this machine the local emulators set the "
    "pace (moto's SQS, one stream shard), not the limit: notice_burst.drain.achieved_per_s",
    "notice_drain_sent_twice": "notices notified more than once, plus provider calls beyond the notifications "
    "stored (a notification sent twice); notice_drain_dlq_messages: messages in the notifications DLQ after "
    "the drain",
}


# ---------------------------------------------------------------- setup


def citizens(app: Any, api_event: Any, pnr: Callable[[str], str]) -> list[tuple[str, str]]:
    """(personnummer, citizen id) of CITIZENS, each logged in once (an account), with SMS on and digital
    only."""
    import json

    from chalicelib.accounts import service as accounts
    from chalicelib.core.unit_of_work import UnitOfWork
    from chalicelib.settings import repository as settings_repository
    from chalicelib.settings.rules import Settings

    def call(path: str, body: dict[str, str]) -> dict[str, Any]:
        response = app(api_event("POST", path, body=body), None)
        return dict(json.loads(response["body"] or "null"))

    found: list[tuple[str, str]] = []
    for number, name in enumerate(CITIZENS):
        personnummer = pnr(name)
        if accounts.find_by_personnummer(personnummer) is None:
            order = call("/auth/bankid/start", {"personnummer": personnummer})["orderRef"]
            call("/auth/bankid/collect", {"orderRef": order})  # pending
            done = call("/auth/bankid/collect", {"orderRef": order})
            assert done.get("status") == "complete", (name, done)
        account = accounts.find_by_personnummer(personnummer)
        assert account is not None, name
        current = settings_repository.get(account.citizen_id)
        uow = UnitOfWork()
        settings_repository.DYNAMO.save(
            uow,
            account.citizen_id,
            Settings(mobile=f"+4670174{number:04d}", notify_by_sms=True, digital_only=True),
            expected_version=int(current.get("version", 0)) if current else 0,
        )
        uow.commit()
        found.append((personnummer, account.citizen_id))
    return found


def write_due_notices(people: list[tuple[str, str]], count: int) -> set[str]:
    """`count` pending digital notices, due now, spread over `people`; returns the inbox item ids their
    release will write. One booking per citizen goes through the intake (`service.receive`, on a fixed
    clock the day before at 10:00/11:00 Stockholm: due at that day's 18:00); the rest are copies of it
    under new booking ids. Each copy's item is the one `repository.DYNAMO.put` makes, written with
    BatchWriteItem (WRITERS at a time): the setup is not measured, and a transaction per notice would
    make it as slow as the release itself on DynamoDB Local."""
    from chalicelib.core import dynamo
    from chalicelib.core.clock import fixed_clock, system_clock
    from chalicelib.core.config import settings
    from chalicelib.core.http import validate
    from chalicelib.core.unit_of_work import UnitOfWork
    from chalicelib.notices import repository, schemas, service
    from chalicelib.notices.models import Notice, item_id, notice_id

    now = system_clock()
    booked = (now - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    starts = (now + timedelta(days=14)).replace(hour=8, minute=0, second=0, microsecond=0)
    run = uuid.uuid4().hex[:8]
    templates: list[Notice] = []
    for number, (personnummer, citizen_id) in enumerate(people):
        booking_id = f"BENCH-{run}-T{number}"
        body = {
            "system": "PASiS",
            "bookingId": booking_id,
            "personnummer": personnummer,
            "clinicId": CLINIC,
            "startsAt": _z(starts),
            "bookedAt": _z(booked),
            "status": "booked",
            "notice": {
                "subject": "Kallelse till mottagningsbesök",
                "body": "Välkommen till ditt besök. Ta med legitimation.",
                "place": "Vårdcentralen Centrum, plan 2",
            },
        }
        decision = service.receive(
            validate(schemas.BookingEvent, body).to_booking(), clock=fixed_clock(booked + timedelta(minutes=1))
        )
        assert decision["state"] == "pending" and decision["paperNotice"] is False, decision
        template = repository.DYNAMO.get("PASiS", booking_id)
        assert template is not None and template.digital and template.citizen_id == citizen_id
        templates.append(template)

    def copy(number: int) -> Notice:
        template = templates[number % len(templates)]
        booking_id = f"BENCH-{run}-{number}"
        return template.with_(booking_id=booking_id, notice_id=notice_id("PASiS", booking_id))

    def put_request(notice: Notice) -> dict[str, Any]:
        """The item exactly as the intake writes it (keys, attributes, the RELEASE index entry)."""
        uow = UnitOfWork()
        repository.DYNAMO.put(uow, notice, replaces=None)
        (action,) = uow.actions
        return {"PutRequest": {"Item": action["Put"]["Item"]}}

    copies = [copy(number) for number in range(max(0, count - len(templates)))]
    requests = [put_request(notice) for notice in copies]
    chunks = [requests[i : i + 25] for i in range(0, len(requests), 25)]
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(lambda chunk: dynamo.batch_write(settings().main_table, chunk), chunks))
    return {item_id(notice, "notice") for notice in [*templates, *copies]}


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- release


def release_all(counter: ReadCounter) -> dict[str, Any]:
    """Every shard's due notices, the 16 workers at once; reads counted while they run."""
    from chalicelib.core import dynamo
    from chalicelib.core.clock import system_clock
    from chalicelib.notices import release, repository

    due_by = system_clock()

    def worker(shard: int) -> dict[str, int]:
        totals = {"released": 0, "skipped": 0, "read": 0, "continuations": 0, "failed_runs": 0}
        while True:
            try:
                run = release.release_due(shard, due_by, clock=system_clock)
            except Exception as error:
                if not dynamo.is_unavailable(error):
                    raise
                # The invocation fails and SQS delivers its message again (after the visibility timeout
                # in AWS; here at once): what it released stays released, the rest is still due.
                totals["failed_runs"] += 1
                if totals["failed_runs"] > MAX_CONTINUATIONS:
                    raise
                continue
            totals["released"] += run.released
            totals["skipped"] += run.skipped
            totals["read"] += run.read
            if run.finished:
                return totals
            totals["continuations"] += 1  # DynamoDB was busy: the worker's continuation message
            if totals["continuations"] > MAX_CONTINUATIONS:
                raise RuntimeError(f"shard {shard} keeps stopping early")

    parallel, release.PARALLEL = release.PARALLEL, RELEASE_PARALLEL
    counter.counting = True
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(release.SHARDS) as pool:
            runs = list(pool.map(worker, range(release.SHARDS)))
    finally:
        seconds = time.perf_counter() - started
        counter.counting = False
        release.PARALLEL = parallel
    left = sum(len(repository.DYNAMO.due("RELEASE", s, due_by, 100, None).notices) for s in range(release.SHARDS))
    assert left == 0, f"{left} notices still due after the release"
    return {
        "seconds": seconds,
        "released": _count_index("FOLLOWUP"),
        # What the runs counted: a transaction that timed out at the client but committed (DynamoDB Local
        # under this load) counts as busy there, and is found released by the continuation.
        "released_by_runs": sum(r["released"] for r in runs),
        "skipped": sum(r["skipped"] for r in runs),
        "continuations": sum(r["continuations"] for r in runs),
        "failed_runs": sum(r["failed_runs"] for r in runs),
        "items_read": sum(counter.items.values()),
        "items_read_by_operation": dict(counter.items),
        "dynamodb_calls": dict(counter.calls),
        "index_items_reported_by_run": sum(r["read"] for r in runs),  # Run.read, for comparison only
    }


def _checking_client() -> Any:
    """The bench's own checks (counts, scans of what was sent) are not the measured path: a client with
    patient timeouts, so a busy DynamoDB Local slows them rather than failing the bench."""
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodb", config=Config(read_timeout=60, connect_timeout=10, retries={"max_attempts": 5}))


def _count_index(kind: str) -> int:
    """Entries of every shard's `kind` partition of gsi5: after the release, FOLLOWUP holds each notice
    released (its unread follow-up is due), whoever counted it."""
    from chalicelib.core.config import settings
    from chalicelib.notices import repository

    total = 0
    client = _checking_client()
    for shard in range(repository.SHARDS):
        pages = client.get_paginator("query").paginate(
            TableName=settings().main_table,
            IndexName=repository.INDEX,
            KeyConditionExpression="gsi5pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{kind}#{shard}"}},
            Select="COUNT",
        )
        total += sum(page["Count"] for page in pages)
    return total


# ---------------------------------------------------------------- notification drain


def _stream_poller() -> Any:
    """inbox_events on the main table's stream from now on (LATEST), as the pump feeds it; `queued_at`
    holds when each arrival it was handed was queued."""
    from chalicelib.notifications import service
    from infra.functions import STREAM_CONSUMERS
    from local.pump import StreamPoller, app_functions

    functions = app_functions()
    inbox_events = functions["inbox_events"]
    queued_at: list[float] = []

    def counted(event: dict[str, Any], context: Any) -> Any:
        result = inbox_events(event, context)
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        arrivals = [r for r in event["Records"] if service.arrival(r) and r["dynamodb"]["SequenceNumber"] not in failed]
        queued_at.extend([time.perf_counter()] * len(arrivals))
        return result

    consumer = next(c for c in STREAM_CONSUMERS if c.function == "inbox_events")
    poller = StreamPoller(
        os.environ[consumer.table.env_var], consumer, {**functions, "inbox_events": counted}, starting_position="LATEST"
    )
    poller.queued_at = queued_at  # type: ignore[attr-defined]
    return poller


class _PerSender:
    """What each Lambda instance of send_notifications has to itself: its token bucket (the provider
    rate per process) and its provider threads. In this process every sender is a thread, so for the
    drain the process-wide ones (`rate.limiter`, `sender._executor`) are replaced by one per thread."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._pools: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()

    def limiter(self) -> Any:
        from chalicelib.notifications import rate

        if not hasattr(self._local, "bucket"):
            self._local.bucket = rate.TokenBucket(rate.configured_rate())
        return self._local.bucket

    def executor(self) -> ThreadPoolExecutor:
        from chalicelib.notifications import sender

        if not hasattr(self._local, "pool"):
            self._local.pool = ThreadPoolExecutor(sender.MAX_THREADS, thread_name_prefix="sender")
            with self._lock:
                self._pools.append(self._local.pool)
        pool: ThreadPoolExecutor = self._local.pool
        return pool

    def shutdown(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True)


class Drain:
    """The notification path for the released notices, instrumented: when each provider call returned,
    the batch item failures send_notifications reported, the pollers' errors."""

    def __init__(self, stream: Any) -> None:
        import boto3

        from chalicelib.notifications import service
        from infra.functions import QUEUE_CONSUMERS
        from local.pump import QueuePoller, app_functions

        self.stream = stream
        self.sent_at: list[float] = []
        self.failures = 0
        self.errors: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deliver = service.deliver
        functions = app_functions()
        self._send = functions["send_notifications"]
        consumer = next(c for c in QUEUE_CONSUMERS if c.function == "send_notifications")
        self.queue_name = os.environ[consumer.queue.env_var]
        self.queue = QueuePoller(self.queue_name, consumer, {**functions, "send_notifications": self._counted_send})
        self.sqs = boto3.client("sqs")

    def _counted_deliver(self, channel: str, contact: str) -> str:
        message_id = self._deliver(channel, contact)
        with self._lock:
            self.sent_at.append(time.perf_counter())
        return message_id

    def _counted_send(self, event: dict[str, Any], context: Any) -> Any:
        result = self._send(event, context)
        with self._lock:
            self.failures += len(result.get("batchItemFailures", []))
        return result

    def _keep_polling(self, poller: Any, full: int) -> None:
        while not self._stop.is_set():
            try:
                handled = poller.poll()
            except Exception as error:  # as the pump: note it, wait, go on (Lambda would retry)
                with self._lock:
                    self.errors[type(error).__name__] += 1
                handled = 0
                time.sleep(1)
            if handled < full:
                time.sleep(0.25)

    def run(self, target: int, *, until_empty: bool) -> float:
        """Runs the stream poller and the senders until `target` notifications went to the provider (and,
        `until_empty`, the queue is empty: whatever is left would be a duplicate); returns when it began.
        Everything at once, as in AWS: inbox_events reads the stream's backlog (every notice released)
        and queues the arrivals while the senders drain the queue. (Not the queue filled first: moto's
        SQS costs O(queue depth) per message sent, which SQS does not.)"""
        from chalicelib.core import config
        from chalicelib.notifications import rate, sender, service

        os.environ[rate.ENV] = str(PROVIDER_LIMIT_PER_S / SENDERS)
        config.settings.cache_clear()  # type: ignore[attr-defined]
        per_sender = _PerSender()
        saved = (service.deliver, rate.limiter, sender._executor)
        service.deliver = self._counted_deliver
        rate.limiter = per_sender.limiter
        sender._executor = per_sender.executor
        threads = [threading.Thread(target=self._keep_polling, args=(self.stream, self.stream.consumer.batch_size))]
        threads += [
            threading.Thread(target=self._keep_polling, args=(self.queue, self.queue.consumer.batch_size))
            for _ in range(SENDERS)
        ]
        started = time.perf_counter()
        try:
            for thread in threads:
                thread.start()
            deadline = started + DRAIN_TIMEOUT_S
            while len(self.sent_at) < target and time.perf_counter() < deadline:
                time.sleep(0.2)
            quiet_by = time.perf_counter() + QUIET_TIMEOUT_S
            while until_empty and self.depth(self.queue_name) and time.perf_counter() < quiet_by:
                time.sleep(1)
        finally:
            self._stop.set()
            for thread in threads:
                thread.join()
            service.deliver, rate.limiter, sender._executor = saved
            per_sender.shutdown()
        return started

    def depth(self, name: str) -> int:
        url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def drain_notifications(stream: Any, expected: set[str]) -> dict[str, Any]:
    """The released notices' notifications through the real path at 100/s in total (module docstring);
    a sample of DRAIN of them when DRAIN is smaller, extrapolated to all."""
    target = min(DRAIN, len(expected))
    drain = Drain(stream)
    started = drain.run(target, until_empty=target == len(expected))
    sent = sorted(drain.sent_at)
    if len(sent) < target:
        raise RuntimeError(f"only {len(sent)} of {target} notifications sent within {DRAIN_TIMEOUT_S:.0f} s")
    drain_s = sent[target - 1] - started
    by_item = _notifications_by_item()
    notified = Counter({item: by_item[item] for item in expected if item in by_item})
    queued = stream.queued_at
    # A notice notified twice has two notifications; a notification sent twice, more provider calls.
    sent_twice = sum(1 for n in notified.values() if n > 1) + max(0, len(sent) - sum(notified.values()))
    dlq = drain.depth(drain.queue_name + "-dlq")
    detail: dict[str, Any] = {
        "provider_limit_per_s": PROVIDER_LIMIT_PER_S,
        "senders": SENDERS,
        "rate_per_sender_per_s": PROVIDER_LIMIT_PER_S / SENDERS,
        "provider_calls": len(sent),
        "notifications_sent": sum(notified.values()),
        "notices_notified": len(notified),
        "batch_item_failures": drain.failures,
        "poll_errors": dict(drain.errors),
        "left_in_queue": drain.depth(drain.queue_name),
        # inbox_events: when it had queued the last arrival (None in a sample: it had not)
        "arrivals_queued_s": round(queued[-1] - started, 1) if len(queued) >= len(expected) else None,
        "first_send_s": round(sent[0] - started, 2),
        "achieved_per_s": round(target / drain_s, 1),
    }
    figures: dict[str, Any] = {"notice_drain_sent_twice": sent_twice, "notice_drain_dlq_messages": dlq}
    if target == len(expected):
        figures |= {"notice_drain_s_at_100_per_s": round(drain_s, 1), "notice_drain_sent": len(notified)}
    else:  # a sample: the rest of the backlog is left in the queue
        figures |= {
            "notice_drain_sample_s_at_100_per_s": round(drain_s, 1),  # measured, for the first `target`
            "notice_drain_sample_sent": target,
            "notice_drain_s_at_100_per_s_extrapolated": round(drain_s * len(expected) / target, 1),  # not measured
        }
    return {"figures": figures, "detail": detail}


def _notifications_by_item() -> Counter[str]:
    """Notifications with a provider message id (handed to the provider), per inbox item."""
    from chalicelib.core.config import settings

    found: Counter[str] = Counter()
    pages = (
        _checking_client()
        .get_paginator("scan")
        .paginate(
            TableName=settings().main_table,
            FilterExpression="#t = :t AND attribute_exists(providerMessageId)",
            ExpressionAttributeNames={"#t": "type"},
            ExpressionAttributeValues={":t": {"S": "notification"}},
            ProjectionExpression="itemId",
        )
    )
    for page in pages:
        for item in page.get("Items", []):
            found[item["itemId"]["S"]] += 1
    return found
