"""`send_notifications`' work for one SQS batch (R-11).

Messages carry ids only, never a detail:
- `{"citizenId", "itemId", "arrivalId"}`: an arrival (from inbox_events, or re-queued by the sweeper);
- `{"notificationId"}`: one notification to take up again (re-queued by the sweeper).

For a batch: one consistent BatchGetItem reads every arrival's account, settings and inbox item; then
a TransactWriteItems claims the arrivals: per arrival, its notifications (`sending`, leased to this
sender, due for the sweeper) put at their deterministic keys only if new, and the inbox item's due
marker cleared only if this arrival is still the pending one. That transaction is the idempotency
record: a redelivered or duplicated message finds the marker gone, or its part of the transaction
cancelled (that arrival is dropped, the rest committed), and claims nothing. Then the provider calls
run concurrently on the sender threads within the provider rate limit (`rate.py`), and the provider
ids are stored with a BatchWriteItem (the whole final item: no lease, no due marker; gsi1 for delivery
feedback). One arrival with one SMS costs 3 requests. From four arrivals on, a batch is claimed and
stored in two waves (two transactions, two BatchWriteItems): the first wave's provider calls run while
the second wave is claimed, and its outcomes are stored while the second wave's calls run.

Rare paths read more: guardians' accounts (a second BatchGetItem), and a redelivered arrival (or a
re-queued notification) takes up only notifications that are `sending` without a provider id and whose
lease ran out (conditional UpdateItem): the provider refused for now, or the sender died.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.accounts import repository as accounts
from chalicelib.arrivals import due
from chalicelib.arrivals import repository as inbox
from chalicelib.core import dynamo
from chalicelib.core.clock import Clock, iso
from chalicelib.core.config import settings as config
from chalicelib.core.observability import logger
from chalicelib.core.process import process_wide
from chalicelib.notifications import rate, repository, service
from chalicelib.settings import repository as settings_repository
from chalicelib.settings.rules import Settings

if TYPE_CHECKING:
    from chalicelib.accounts.models import Account

MAX_THREADS = 10  # a batch is at most 10 messages; boto3 clients are thread-safe
MAX_TRANSACTION = 100  # actions in one TransactWriteItems
WAVE_MIN = 4  # from this many arrivals on, claim in two waves (the first wave's sends overlap the second claim)
ARRIVAL_FIELDS = frozenset({"citizenId", "itemId", "arrivalId"})
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Arrival:
    citizen_id: str
    item_id: str
    arrival_id: str


def parse(body: str) -> Arrival | str:
    """An arrival, or the id of one notification; ValueError for anything else."""
    message = json.loads(body)
    if not isinstance(message, dict) or not all(isinstance(v, str) and v for v in message.values()):
        raise ValueError("a notification message holds ids and nothing else")
    if set(message) == ARRIVAL_FIELDS:
        return Arrival(message["citizenId"], message["itemId"], message["arrivalId"])
    if set(message) == {"notificationId"}:
        return str(message["notificationId"])
    raise ValueError("a notification message holds ids and nothing else")


@dataclass
class Claim:
    """A notification this invocation holds; `contact` None means there is nothing to send to."""

    message_id: str
    item: dict[str, Any]
    contact: str | None
    reason: str | None = None


@dataclass(eq=False)
class Group:
    """One arrival's part of the claim transaction."""

    message_id: str
    arrival: Arrival
    items: list[dict[str, Any]]
    actions: list[dict[str, Any]]


def _lost(chunk: list[Group], reasons: list[str]) -> list[Group] | None:
    """The groups whose conditions failed in a cancelled transaction, or None when it was cancelled for
    another reason (or did not say), so that only one transaction per arrival can tell."""
    if len(reasons) != sum(len(g.actions) for g in chunk):
        return None
    lost, start = [], 0
    for group in chunk:
        mine = reasons[start : start + len(group.actions)]
        start += len(group.actions)
        if any(r not in {"None", "ConditionalCheckFailed"} for r in mine):
            return None
        if "ConditionalCheckFailed" in mine:
            lost.append(group)
    return lost or None


Wave = list[tuple[Claim, "Future[tuple[str, str]]"]]


@dataclass
class Report:
    failures: dict[str, Exception] = field(default_factory=dict)  # message id → why it must come again
    outcomes: Counter[str] = field(default_factory=Counter)


class Reads:
    """What the batch read (consistent BatchGetItem), by key; each key is asked once."""

    def __init__(self) -> None:
        self.table = config().main_table
        self.asked: set[dynamo.KeyRef] = set()
        self.found: dict[dynamo.KeyRef, dict[str, Any]] = {}

    def fetch(self, keys: Iterable[dict[str, Any]]) -> None:
        wanted = [(self.table, k) for k in keys if dynamo.ref(self.table, k) not in self.asked]
        if wanted:
            self.asked.update(dynamo.ref(t, k) for t, k in wanted)
            self.found.update(dynamo.batch_get(wanted))

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.found.get(dynamo.ref(self.table, key))

    def account(self, citizen_id: str) -> Account | None:
        raw = self._get(accounts.account_key(citizen_id))
        return accounts.account_from_item(raw) if raw else None

    def settings(self, citizen_id: str) -> Settings:
        return Settings.from_record(self._get(settings_repository.settings_key(citizen_id)))

    def inbox_item(self, arrival: Arrival) -> dict[str, Any] | None:
        return self._get(inbox.item_key(arrival.citizen_id, arrival.item_id))

    def notification(self, notification_id: str) -> dict[str, Any] | None:
        return self._get(repository.key(notification_id))


def citizen_keys(citizen_id: str) -> list[dict[str, Any]]:
    return [accounts.account_key(citizen_id), settings_repository.settings_key(citizen_id)]


@process_wide
def _executor() -> ThreadPoolExecutor:
    """The process's sender threads (kept across invocations of a warm function)."""
    return ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="sender")


def _parallel(work: Callable[[T], R], items: list[T]) -> list[R | Exception]:
    """`work` over `items` on the sender threads; an exception is returned in its item's place."""

    def guarded(item: T) -> R | Exception:
        try:
            return work(item)
        except Exception as error:
            return error

    if len(items) <= 1:
        return [guarded(item) for item in items]
    return list(_executor().map(guarded, items))


def send_batch(bodies: dict[str, str], *, clock: Clock, budget_s: Callable[[], float] | None = None) -> Report:
    """Handles one batch: SQS message id → body. Returns which messages must be delivered again."""
    return Batch(clock, budget_s).run(bodies)


class Batch:
    def __init__(self, clock: Clock, budget_s: Callable[[], float] | None) -> None:
        self.clock = clock
        self.budget_s = budget_s
        self.now = clock()
        self.reads = Reads()
        self.port = service.settings_port()
        self.report = Report()

    def run(self, bodies: dict[str, str]) -> Report:
        work: dict[str, Arrival | str] = {}
        for message_id, body in bodies.items():
            try:
                work[message_id] = parse(body)
            except (ValueError, TypeError) as error:
                self.report.failures[message_id] = error
        pending, to_resume = self.read(work)
        # Pipelined: the provider calls of the first wave run while the second wave is claimed, and the
        # first wave's outcomes are stored while the second wave's calls run.
        # Whatever happens, provider calls once started are waited for and their outcomes stored.
        waves: list[Wave] = []
        try:
            for groups in self.claim_waves(pending):
                waves.append(self.start(self.claims(groups)))
            resumed: list[Claim] = []
            for (message_id, _), result in zip(to_resume, _parallel(self.resume, to_resume), strict=True):
                if isinstance(result, Exception):
                    logger.error("taking up a notification failed", extra={"error": type(result).__name__})
                    self.report.failures.setdefault(message_id, result)
                else:
                    resumed.extend(result)
            if resumed:
                waves.append(self.start(resumed))
        finally:
            for wave in waves:
                self.store(self.finish(wave))
        return self.report

    def read(self, work: dict[str, Arrival | str]) -> tuple[list[tuple[str, Arrival]], list[tuple[str, str]]]:
        """One BatchGetItem for the batch (a second only on rare paths). Returns the arrivals still
        pending, and the notifications to take up again, each with its message id."""
        reads = self.reads
        arrivals = {m: w for m, w in work.items() if isinstance(w, Arrival)}
        reads.fetch(
            [
                k
                for a in arrivals.values()
                for k in (*citizen_keys(a.citizen_id), inbox.item_key(a.citizen_id, a.item_id))
            ]
            + [repository.key(w) for w in work.values() if isinstance(w, str)]
        )
        pending: list[tuple[str, Arrival]] = []
        to_resume: list[tuple[str, str]] = [(m, w) for m, w in work.items() if isinstance(w, str)]
        for message_id, arrival in arrivals.items():
            item = reads.inbox_item(arrival)
            if any(arrival == other for _, other in pending):
                self.report.outcomes["duplicate"] += 1  # the same arrival twice in one batch: once is enough
            elif item is None or item.get("arrivalId") != arrival.arrival_id:
                self.report.outcomes["superseded"] += 1  # gone, or a newer arrival is pending: notified with it
            elif item.get("gsi4pk"):
                pending.append((message_id, arrival))
            else:  # claimed already (a redelivery): only what the provider never took is taken up again
                to_resume.extend((message_id, nid) for nid in item.get("notificationIds") or [])
        # Rare paths: guardians' accounts, a redelivered arrival's notifications, the account and
        # settings behind a re-queued notification.
        more: list[dict[str, Any]] = [repository.key(nid) for _, nid in to_resume]
        for _, arrival in pending:
            for recipient, _ in self.port.targets_in(reads.settings(arrival.citizen_id)):
                guardian = service.guardian_id(recipient)
                if guardian:
                    more.append(accounts.account_key(guardian))
        more.extend(
            k for _, nid in to_resume if (raw := reads.notification(nid)) for k in citizen_keys(raw["citizenId"])
        )
        reads.fetch(more)
        # A redelivered arrival's notifications are its citizen's, read already: this usually asks nothing.
        reads.fetch(
            k for _, nid in to_resume if (raw := reads.notification(nid)) for k in citizen_keys(raw["citizenId"])
        )
        return pending, to_resume

    def targets(self, arrival: Arrival) -> list[tuple[str, str]]:
        account = self.reads.account(arrival.citizen_id)
        refused = service.refusal(account)
        if refused or account is None:
            logger.info("no notification", extra={"reason": refused, "itemId": arrival.item_id})
            return []
        wanted = []
        for recipient, channel in self.port.targets_in(self.reads.settings(arrival.citizen_id)):
            guardian = service.guardian_id(recipient)
            if guardian and not service.guardian_may_act(account, self.reads.account(guardian), self.clock):
                logger.info("no notification", extra={"reason": "guardian-may-not-act", "itemId": arrival.item_id})
                continue
            wanted.append((recipient, channel))
        return wanted

    def claim_waves(self, pending: list[tuple[str, Arrival]]) -> Iterator[list[Group]]:
        """Claims the batch's pending arrivals, in two waves of ONE transaction each (up to 100 actions):
        per arrival, its notifications put only if new and its due marker cleared only if it is still
        the pending arrival. A cancelled transaction says which actions failed: an arrival whose
        condition failed is someone else's (a redelivery, a concurrent consumer, a newer arrival) and is
        dropped, the others are tried again; any other cancellation (a conflicting write) falls back to
        one transaction per arrival. Yields each wave's claimed arrivals once committed."""
        groups = []
        for message_id, arrival in pending:
            try:
                groups.append(self._group(message_id, arrival))
            except Exception as error:  # e.g. the population register did not answer (guardians)
                logger.error("planning an arrival failed", extra={"error": type(error).__name__})
                self.report.failures.setdefault(message_id, error)
        half = (len(groups) + 1) // 2 if len(groups) >= WAVE_MIN else len(groups)
        for wave in (groups[:half], groups[half:]):
            claimed = self._claim(wave)
            if claimed:
                yield claimed

    def _claim(self, groups: list[Group]) -> list[Group]:
        claimed: list[Group] = []
        while groups:
            chunk: list[Group] = []
            while groups and sum(len(g.actions) for g in chunk) + len(groups[0].actions) <= MAX_TRANSACTION:
                chunk.append(groups.pop(0))
            if not chunk:  # an arrival with more actions than a transaction holds (not with today's targets)
                chunk.append(groups.pop(0))
            # Several arrivals' claims in one transaction (not a UnitOfWork): on a cancellation the
            # per-action reasons tell which arrival lost, and only that group is dropped.
            try:
                dynamo.transact_write([action for group in chunk for action in group.actions])
            except dynamo.TransactionConflict as conflict:
                lost = _lost(chunk, conflict.reasons)
                if lost is None:
                    claimed.extend(self._one_by_one(chunk))
                    continue
                for group in lost:
                    logger.info("arrival claimed elsewhere", extra={"itemId": group.arrival.item_id})
                groups = [g for g in chunk if g not in lost] + groups
                continue
            except Exception:
                logger.exception("claiming arrivals failed", extra={"arrivals": len(chunk)})
                claimed.extend(self._one_by_one(chunk))
                continue
            claimed.extend(chunk)
        return claimed

    def claims(self, groups: list[Group]) -> list[Claim]:
        """The notifications of claimed arrivals, each with its contact from the settings just read."""
        claims: list[Claim] = []
        for group in groups:
            settings = self.reads.settings(group.arrival.citizen_id)
            claims.extend(
                Claim(group.message_id, i, self.port.contact_in(settings, i["recipient"], i["channel"]))
                for i in group.items
            )
        return claims

    def _group(self, message_id: str, arrival: Arrival) -> Group:
        items = [
            service.new_notification(arrival.citizen_id, arrival.item_id, arrival.arrival_id, t, now=self.now)
            for t in self.targets(arrival)
        ]
        ids = [i["notificationId"] for i in items]
        actions = [repository.new_action(i) for i in items]
        actions.append(inbox.arrival_claimed_action(arrival.citizen_id, arrival.item_id, arrival.arrival_id, ids))
        return Group(message_id, arrival, items, actions)

    def _one_by_one(self, groups: list[Group]) -> list[Group]:
        """One transaction per arrival (the fallback); failures are reported per message."""

        def claim(group: Group) -> bool:
            try:
                dynamo.transact_write(group.actions)
            except dynamo.TransactionConflict as conflict:
                if "ConditionalCheckFailed" in conflict.reasons:
                    logger.info("arrival claimed elsewhere", extra={"itemId": group.arrival.item_id})
                    return False
                raise
            return True

        claimed = []
        for group, result in zip(groups, _parallel(claim, groups), strict=True):
            if isinstance(result, Exception):
                logger.error("claiming an arrival failed", extra={"error": type(result).__name__})
                self.report.failures.setdefault(group.message_id, result)
            elif result:
                claimed.append(group)
        return claimed

    def resume(self, pair: tuple[str, str]) -> list[Claim]:
        """Takes a notification up again if the provider never took it and nobody holds it."""
        message_id, nid = pair
        raw = self.reads.notification(nid)
        if raw is None or raw.get("providerMessageId") or raw.get("status") not in {"created", "sending"}:
            return []
        lease, marker = iso(self.now + service.LEASE), due.marker(nid, self.now + due.BOUND)
        if not repository.reclaim(nid, now=iso(self.now), lease_until=lease, marker=marker):
            return []  # another sender holds it, or it is done
        item = {k: v for k, v in raw.items() if k not in {"pk", "sk", "type"}}
        item.update(status="sending", leaseUntil=lease, **marker)
        citizen_id = raw["citizenId"]
        refused = service.refusal(self.reads.account(citizen_id))
        settings = self.reads.settings(citizen_id)
        contact = None if refused else self.port.contact_in(settings, raw["recipient"], raw["channel"])
        logger.info("notification taken up again", extra={"notificationId": nid})
        return [Claim(message_id, item, contact, refused or (None if contact else "no-contact"))]

    def start(self, claims: list[Claim]) -> Wave:
        """Starts the provider calls on the sender threads, within the rate limit."""
        bucket = rate.limiter()

        def call(claim: Claim) -> tuple[str, str]:
            if claim.contact is None:
                return "cancelled", claim.reason or "no-contact"
            if bucket.acquire(self.budget_s() if self.budget_s else None) is None:
                return "transient", "out-of-time"  # waiting would outlast the function: the queue retries
            try:
                return "sent", service.deliver(claim.item["channel"], claim.contact)
            except Exception as error:
                known = service.provider_error(error)
                if known is None:
                    raise
                return known

        pool = _executor()
        return [(claim, pool.submit(call, claim)) for claim in claims]

    def finish(self, wave: Wave) -> list[tuple[Claim, dict[str, Any], str]]:
        """Waits for a wave's provider calls; returns the final items to store."""
        finals: list[tuple[Claim, dict[str, Any], str]] = []
        for claim, future in wave:
            nid = claim.item["notificationId"]
            error = future.exception()
            if error is not None:
                # Did the provider take it? Unknown: the lease runs out and the message (or the sweeper)
                # takes it up again — the at-least-once window.
                logger.error("provider call failed", extra={"notificationId": nid, "error": type(error).__name__})
                self.report.failures.setdefault(
                    claim.message_id, error if isinstance(error, Exception) else Exception()
                )
                continue
            kind, value = future.result()
            at = self.clock()
            if kind == "sent":
                finals.append(
                    (claim, service.final(claim.item, "sending", at, **service.sent_values(value, at)), "sent")
                )
            elif kind == "permanent":
                logger.warning("provider refused", extra={"notificationId": nid, "code": value})
                final = service.final(claim.item, "technical-failure", at, reason=value)
                finals.append((claim, final, "technical-failure"))
            elif kind == "cancelled":
                finals.append((claim, service.final(claim.item, "cancelled", at, reason=value), "cancelled"))
            else:
                logger.warning("provider asked to retry", extra={"notificationId": nid, "code": value})
                try:
                    repository.release(nid)
                except Exception:  # the lease then runs out by itself
                    logger.exception("releasing a notification failed", extra={"notificationId": nid})
                self.report.outcomes["transient"] += 1
                self.report.failures.setdefault(claim.message_id, service.TransientProviderError(value))
        return finals

    def store(self, finals: list[tuple[Claim, dict[str, Any], str]]) -> None:
        """The final items, one BatchWriteItem per 25; then technical failures on the settings (R-12)."""
        for start in range(0, len(finals), 25):
            chunk = finals[start : start + 25]
            try:
                repository.put_final([item for _, item, _ in chunk])
            except Exception as error:
                # The provider took these: their messages come again and, finding no provider id, send
                # again — the same window as a crash right after the provider call.
                logger.exception("storing notification outcomes failed", extra={"count": len(chunk)})
                for claim, _, _ in chunk:
                    self.report.failures.setdefault(claim.message_id, error)
                continue
            for _, item, outcome in chunk:
                nid = item["notificationId"]
                self.report.outcomes[outcome] += 1
                logger.info("notification handled", extra={"notificationId": nid, "outcome": outcome})
                if outcome == "technical-failure":
                    try:
                        service.record(item, "technical-failure", self.clock())
                    except Exception:  # the notification itself says technical-failure
                        logger.exception("recording a delivery failure failed", extra={"notificationId": nid})
