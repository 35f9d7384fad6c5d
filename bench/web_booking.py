"""`make bench`, issue 11: web booking, in-process against DynamoDB Local and an in-process booking-system
simulator (local/booking_simulator.py) answering over loopback HTTP after a fixed BENCH_BOOKING_LATENCY_MS
(20) per contract call (its `POST /sim/latency`), so that the time left after subtracting it is ours.

- booking_p50_ms / booking_p95_ms: `web_booking.service.book` for BENCH_BOOKINGS (200) distinct PASiS
  slots (SE2321000016-2002, "boka-tid-direkt") over the CITIZENS of bench/notices.py, each with an
  Idempotency-Key as the app sends it, less the time spent inside the booking-system contract calls
  (the adapter's `_call`: the HTTP round trip and the JSON, timed by a subclass of the adapters passed
  as `systems=`). Both ends run on one fixed clock, a weekday morning, so PASiS's "from tomorrow" holds.
- booking_system_calls_per_booking: contract calls per booking (GetAvailableTimeslots for the slot,
  MakeBooking); booking_dynamodb_requests_per_booking: DynamoDB calls per booking (botocore hook).
- booking_list_p50_ms / booking_list_p95_ms: `service.bookings` (the citizen's booked times at every
  web-booking clinic; each citizen then holds about BENCH_BOOKINGS / 7 of them), BENCH_BOOKING_LISTS (60)
  times over the citizens, less the contract calls' time; with its contract calls and DynamoDB calls.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

BOOKINGS = int(os.environ.get("BENCH_BOOKINGS", "200"))
LISTS = int(os.environ.get("BENCH_BOOKING_LISTS", "60"))
LATENCY_MS = int(os.environ.get("BENCH_BOOKING_LATENCY_MS", "20"))
CLINIC = "SE2321000016-2002"  # PASiS in testdata/web-booking.json
CASE_TYPE = "boka-tid-direkt"
# The bench's "now" for both ends: Tuesday 12 January 2027, 08:00 in Stockholm (UTC+1).
NOW = datetime(2027, 1, 12, 7, 0, tzinfo=UTC)
SEARCH_DAYS = 42  # from tomorrow: 30 weekdays of 14 times bookable online, enough for BENCH_BOOKINGS

NOTES = {
    "booking_p50_ms": "service.book in-process (Idempotency-Key given, as the app sends it) for distinct PASiS "
    "slots over several citizens, against DynamoDB Local and the booking-system simulator over loopback HTTP "
    "with a fixed latency (web_booking.simulator_latency_ms) per contract call, less the time inside the "
    "adapter's contract calls (round trip and JSON; timed by a subclass of the adapter): the backend's own "
    "time. booking_p95_ms alike; web_booking.book_ms_with_booking_system: the same, not subtracted "
    "(bench/web_booking.py)",
    "booking_system_calls_per_booking": "contract calls per booking: GetAvailableTimeslots for the chosen slot, "
    "then MakeBooking; booking_dynamodb_requests_per_booking: DynamoDB calls per booking (botocore hook), by "
    "operation in web_booking.dynamodb_calls_per_booking",
    "booking_list_p50_ms": "service.bookings (the citizen's booked times at every web-booking clinic: one "
    "GetSubjectOfCareSchedule per booking system) less the contract calls' time, each citizen holding about "
    "web_booking.bookings_per_citizen times; with booking_list_system_calls and booking_list_dynamodb_requests",
}


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank, as bench/__main__.py."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


class ContractMeter:
    """Contract calls (by operation) and the wall time spent inside them."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds = 0.0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.calls, self.seconds = Counter(), 0.0

    def add(self, operation: str, seconds: float) -> None:
        with self._lock:
            self.calls[operation] += 1
            self.seconds += seconds


class DynamoMeter:
    """DynamoDB calls (by operation) and the wall time inside them while `counting` (botocore
    before/after-call hooks, as bench/__main__.py's; they stay registered, idle, for what runs later)."""

    def __init__(self) -> None:
        self.counting = False
        self.calls: Counter[str] = Counter()
        self.seconds = 0.0
        self._started = threading.local()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        if self.counting:
            self.calls[model.name] += 1
            self._started.at = time.perf_counter()

    def _after(self, **_: Any) -> None:
        started = getattr(self._started, "at", None)
        if self.counting and started is not None:
            self.seconds += time.perf_counter() - started
        self._started.at = None

    def snapshot(self) -> tuple[Counter[str], float]:
        return Counter(self.calls), self.seconds


def timed_systems(url: str, meter: ContractMeter) -> Callable[[str], Any]:
    """`systems=` for the service: the real adapters, each contract call timed into `meter`."""
    import httpx

    from chalicelib.web_booking import adapters
    from chalicelib.web_booking.breaker import Breaker

    class Timed:
        def _call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
            started = time.perf_counter()
            try:
                return super()._call(operation, body)  # type: ignore[misc]
            finally:
                meter.add(operation, time.perf_counter() - started)

    class TimedPasis(Timed, adapters.PasisAdapter):
        pass

    class TimedPmo(Timed, adapters.PmoAdapter):
        pass

    # As the app's own client (adapters._http): the same timeouts, connections kept alive.
    http = httpx.Client(
        timeout=httpx.Timeout(adapters.READ_TIMEOUT_S, connect=adapters.CONNECT_TIMEOUT_S),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
    )
    found: dict[str, adapters.ContractClient] = {
        "PASiS": TimedPasis(f"{url}/pasis/", "local-pasis-key", http, Breaker()),
        "PMO": TimedPmo(f"{url}/pmo/", "local-pmo-key", http, Breaker()),
    }
    return found.__getitem__


def measure(app: Any, api_event: Any, pnr: Callable[[str], str]) -> dict[str, Any]:
    import httpx

    from bench import notices
    from chalicelib.core import dynamo
    from local.booking_simulator import Simulator, serve
    from local.paths import HOST

    people = notices.citizens(app, api_event, pnr)  # accounts (idempotent: the notice burst uses them too)
    server, _ = serve(0, Simulator(clock=lambda: NOW))
    url = f"http://{HOST}:{server.server_address[1]}"
    try:
        httpx.post(f"{url}/sim/latency", json={"ms": LATENCY_MS}).raise_for_status()
        meter = ContractMeter()
        systems = timed_systems(url, meter)
        counter = DynamoMeter()
        counter.attach(dynamo.client())
        subjects = [_subject(citizen_id) for _, citizen_id in people]
        booked = _book_all(subjects, _free_slots(systems), systems, meter, counter)
        listed = _list_all(subjects, systems, meter, counter)
        stats = httpx.get(f"{url}/sim/stats").json()
    finally:
        server.shutdown()
    return _figures(booked, listed, len(subjects), stats)


def _subject(citizen_id: str) -> Any:
    from chalicelib.accounts import service as accounts
    from chalicelib.guardians.service import Subject

    account = accounts.get(citizen_id)
    assert account is not None
    return Subject(citizen_id, account, proxy=False, actor_citizen_id=citizen_id)


def _free_slots(systems: Callable[[str], Any]) -> list[str]:
    """BOOKINGS distinct times PASiS lets a citizen book online from tomorrow (setup, not measured)."""
    from chalicelib.web_booking import rules

    first = (NOW + timedelta(days=1)).date()
    found = systems("PASiS").available(CLINIC, first, first + timedelta(days=SEARCH_DAYS))
    earliest = rules.earliest_start("PASiS", NOW)
    ids = [s.slot_id for s in sorted(found, key=lambda s: s.starts_at) if s.bookable_online and s.starts_at >= earliest]
    if len(ids) < BOOKINGS:
        raise RuntimeError(f"only {len(ids)} bookable times in {SEARCH_DAYS} days for {BOOKINGS} bookings")
    return ids[:BOOKINGS]


def _book_all(
    subjects: list[Any], slot_ids: list[str], systems: Any, meter: ContractMeter, counter: DynamoMeter
) -> dict[str, Any]:
    from chalicelib.web_booking import service

    def clock() -> datetime:
        return NOW

    total: list[float] = []
    own: list[float] = []
    system_calls: list[int] = []
    dynamodb_calls: list[Counter[str]] = []
    dynamodb_s: list[float] = []
    first_calls: dict[str, int] = {}
    counter.counting = True
    try:
        for number, slot_id in enumerate(slot_ids):
            subject = subjects[number % len(subjects)]
            meter.reset()
            calls, dynamo_s = counter.snapshot()
            started = time.perf_counter()
            done = service.book(
                subject,
                clinic_id=CLINIC,
                case_type_id=CASE_TYPE,
                slot_id=slot_id,
                idempotency_key=f"bench-{uuid.uuid4().hex}",
                clock=clock,
                systems=systems,
            )
            elapsed = time.perf_counter() - started
            assert done.created and done.result.get("bookingId"), done
            total.append(elapsed)
            own.append(elapsed - meter.seconds)
            system_calls.append(sum(meter.calls.values()))
            dynamodb_calls.append(counter.calls - calls)
            dynamodb_s.append(counter.seconds - dynamo_s)
            if number == 0:
                first_calls = dict(meter.calls)
    finally:
        counter.counting = False
    return {
        "total": total,
        "own": own,
        "system_calls": system_calls,
        "dynamodb": dynamodb_calls,
        "dynamodb_s": dynamodb_s,
        "ops": first_calls,
    }


def _list_all(subjects: list[Any], systems: Any, meter: ContractMeter, counter: DynamoMeter) -> dict[str, Any]:
    from chalicelib.web_booking import service

    def clock() -> datetime:
        return NOW

    own: list[float] = []
    system_calls: list[int] = []
    dynamodb_calls: list[Counter[str]] = []
    items: list[int] = []
    dynamodb_s: list[float] = []
    counter.counting = True
    try:
        for number in range(LISTS):
            meter.reset()
            calls, dynamo_s = counter.snapshot()
            started = time.perf_counter()
            listed = service.bookings(subjects[number % len(subjects)], clock=clock, systems=systems)
            own.append(time.perf_counter() - started - meter.seconds)
            assert not listed["unavailableSystems"], listed
            items.append(len(listed["items"]))
            system_calls.append(sum(meter.calls.values()))
            dynamodb_calls.append(counter.calls - calls)
            dynamodb_s.append(counter.seconds - dynamo_s)
    finally:
        counter.counting = False
    return {
        "own": own,
        "system_calls": system_calls,
        "dynamodb": dynamodb_calls,
        "dynamodb_s": dynamodb_s,
        "items": items,
    }


def _per_call(values: list[int]) -> float:
    """Calls per operation: an integer when every run made as many (as expected), else the mean."""
    mean = statistics.mean(values)
    return int(mean) if min(values) == max(values) else round(mean, 2)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _figures(booked: dict[str, Any], listed: dict[str, Any], citizens: int, stats: dict[str, Any]) -> dict[str, Any]:
    book_dynamodb = [sum(c.values()) for c in booked["dynamodb"]]
    list_dynamodb = [sum(c.values()) for c in listed["dynamodb"]]
    return {
        "booking_p50_ms": _ms(statistics.median(booked["own"])),
        "booking_p95_ms": _ms(percentile(booked["own"], 95)),
        "booking_system_calls_per_booking": _per_call(booked["system_calls"]),
        "booking_dynamodb_requests_per_booking": _per_call(book_dynamodb),
        "booking_list_p50_ms": _ms(statistics.median(listed["own"])),
        "booking_list_p95_ms": _ms(percentile(listed["own"], 95)),
        "booking_list_system_calls": _per_call(listed["system_calls"]),
        "booking_list_dynamodb_requests": _per_call(list_dynamodb),
        "web_booking": {
            "bookings": len(booked["own"]),
            "citizens": citizens,
            "bookings_per_citizen": round(len(booked["own"]) / citizens, 1),
            "lists": len(listed["own"]),
            "items_per_list_p50": statistics.median(listed["items"]),
            "simulator_latency_ms": LATENCY_MS,
            "book_ms_with_booking_system": {
                "p50": _ms(statistics.median(booked["total"])),
                "p95": _ms(percentile(booked["total"], 95)),
            },
            # the backend's own time split: inside its DynamoDB calls, and the rest (Python)
            "book_dynamodb_ms_p50": _ms(statistics.median(booked["dynamodb_s"])),
            "list_dynamodb_ms_p50": _ms(statistics.median(listed["dynamodb_s"])),
            "system_calls_of_a_booking": booked["ops"],
            # the order of the first booking's calls is not kept; by operation, over every booking
            "dynamodb_calls_per_booking": {
                op: round(n / len(booked["dynamodb"]), 2) for op, n in sum(booked["dynamodb"], Counter()).items()
            },
            "dynamodb_calls_per_list": {
                op: round(n / len(listed["dynamodb"]), 2) for op, n in sum(listed["dynamodb"], Counter()).items()
            },
            "simulator_calls": stats.get("calls"),
        },
    }
