"""`make bench`: prints one JSON object (and writes bench/results.json) with the figures API.md names.

Against DynamoDB Local and the BankID simulator on loopback, with the app in-process:
- cold_start_ratio: a fresh interpreter importing the app and serving one authenticated request
  (GET /me), over the floor of a fresh interpreter importing boto3 and doing one GetItem (medians).
- dynamodb_requests: DynamoDB API calls per operation, counted with a botocore event hook.
- p50_ms / p95_ms: per operation through the Chalice handler (API Gateway proxy events).
- overhead_ratio: operation time (less time waiting on BankID or Freja) over the time spent inside its
  DynamoDB calls.
- form_case, health_declaration, services, medications (p50_ms, p95_ms, dynamodb_requests) and
  health_declaration_pdf_p50_ms / _p95_ms: the other e-services of issue 13 (bench/eservices.py).
- freja_login (p50_ms, p95_ms, dynamodb_requests), freja_login_start, freja_login_requests: login with
  Freja eID Plus against an in-process Freja simulator, beside BankID's login (bench/freja.py).
- release_items_read_per_notice, release_per_s, notice_drain_s_at_100_per_s: the 18:00 burst of
  appointment notices (bench/notices.py).
- birthday_reset_items_read_per_reset: the 13th birthday's reset (bench/birthdays.py).
- booking_p50_ms / booking_p95_ms, booking_system_calls_per_booking, booking_dynamodb_requests_per_booking,
  booking_list_p50_ms: web booking against an in-process booking-system simulator, less the time inside
  the booking-system calls (bench/web_booking.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "60"))
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "15"))
FREJA_RUNS = int(os.environ.get("BENCH_FREJA_RUNS", str(RUNS)))

FLOOR_SCRIPT = """
import time; t0 = time.perf_counter()
import os, boto3
client = boto3.client("dynamodb")
client.get_item(TableName=os.environ["MAIN_TABLE"], Key={"pk": {"S": "BENCH"}, "sk": {"S": "BENCH"}})
print(time.perf_counter() - t0)
"""

APP_SCRIPT = """
import time; t0 = time.perf_counter()
import json, os, sys
sys.path.insert(0, os.getcwd())
from app import app
from bench.events import api_event
response = app(api_event("GET", "/me", token=os.environ["BENCH_TOKEN"]), None)
assert response["statusCode"] == 200, response
print(time.perf_counter() - t0)
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class DynamoMeter:
    """Counts DynamoDB calls and the wall time spent inside them (botocore before/after-call hooks).
    Read in the sequential measurements; the hooks stay on the client for the threaded ones after (the
    notice burst), hence a start time per thread: a shared one was cleared by another thread mid-use."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.seconds = 0.0
        self._started = threading.local()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
        self._started.at = time.perf_counter()

    def _after(self, **_: Any) -> None:
        started = getattr(self._started, "at", None)
        if started is not None:
            self.seconds += time.perf_counter() - started
            self._started.at = None

    def reset(self) -> None:
        self.calls, self.seconds = [], 0.0


class TimedBankID:
    """Wraps the BankID client to take its HTTP time out of the app's overhead."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return target(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def cold_start(env: dict[str, str], token: str) -> dict[str, Any]:
    # Both sides import byte-compiled modules: pip compiled boto3 at install; compile the app the same
    # way (this machine sets PYTHONDONTWRITEBYTECODE, which would make the app pay for compiling).
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", "app.py", "chalicelib"], cwd=ROOT, check=True)

    def run(script: str) -> float:
        result = subprocess.run(
            [sys.executable, "-c", script],
            env={**env, "BENCH_TOKEN": token},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return float(result.stdout.strip().splitlines()[-1])

    run(FLOOR_SCRIPT), run(APP_SCRIPT)  # warm-up: byte-compile and page in, as a deployed package would be
    floor: list[float] = []
    app: list[float] = []
    for _ in range(COLD_RUNS):  # interleaved, so drift in the machine's load hits both sides alike
        floor.append(run(FLOOR_SCRIPT))
        app.append(run(APP_SCRIPT))
    return {
        "cold_start_ratio": round(statistics.median(a / f for a, f in zip(app, floor, strict=True)), 3),
        "cold_start_ms": {
            "app_import_and_first_me": round(statistics.median(app) * 1000, 1),
            "floor_boto3_import_and_get_item": round(statistics.median(floor) * 1000, 1),
        },
    }


def main() -> None:
    from local.services import UNLIMITED_LOGIN_STARTS, Ports, Stack, free_port, start_backing_services
    from tests.support import fresh_settings, pnr

    ports = Ports(
        api=free_port(),
        bankid=free_port(),
        booking=free_port(),
        freja=free_port(),
        dynamodb=free_port(),
        moto=free_port(),
    )
    # The bench logs the same few people in RUNS times: the login-start rate limits would refuse them.
    stack = Stack(ports=ports, data_dir=None, log_dir=ROOT / ".local" / "bench-logs", extra_env=UNLIMITED_LOGIN_STARTS)
    try:
        start_backing_services(stack)
        env = {**os.environ, **stack.environment()}
        os.environ.update(env)
        fresh_settings()
        # The app's own logs and metrics would drown the JSON; they still run (production-like cost).
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            results = measure(env, pnr)
            booking = measure_web_booking(pnr)
            results["notes"].update(booking.pop("notes"))
            results.update(booking)
            # Last, so that its 10 000 notices and their notifications do not weigh on the figures above.
            burst = measure_notice_burst(pnr)
            results["notes"].update(burst.pop("notes"))
            results.update(burst)
            from bench import birthdays

            results.update(birthdays.measure(pnr))
            results["notes"].update(birthdays.NOTES)
    finally:
        stack.stop()
    out = json.dumps(results, indent=2, sort_keys=True)
    (ROOT / "bench" / "results.json").write_text(out + "\n", encoding="utf-8")
    print(out)


def measure(env: dict[str, str], pnr: Any) -> dict[str, Any]:
    from app import app
    from bench.events import api_event
    from chalicelib.auth import bankid as bankid_module
    from chalicelib.core import dynamo

    meter = DynamoMeter()
    meter.attach(dynamo.client())
    timed_bankid = TimedBankID(bankid_module.bankid_client())
    bankid_module.bankid_client = lambda: timed_bankid

    def call(method: str, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
        response = app(api_event(method, path, body=body, token=token), None)
        return {"status": response["statusCode"], "body": json.loads(response["body"] or "null")}

    samples: dict[str, list[float]] = {"login": [], "login_start": [], "me": []}
    raw: dict[str, list[float]] = {k: [] for k in samples}
    requests: dict[str, int] = {}
    citizens = [pnr(name) for name in ("Sara", "Johan", "Lars", "Erik")]
    sara_token = ""
    for i in range(RUNS):
        personnummer = citizens[i % len(citizens)]
        meter.reset()
        timed_bankid.seconds = 0.0
        started = time.perf_counter()
        order = call("POST", "/auth/bankid/start", {"personnummer": personnummer})
        samples["login_start"].append(time.perf_counter() - started - timed_bankid.seconds)
        raw["login_start"].append(meter.seconds)
        requests["login_start"] = len(meter.calls)
        pending = call("POST", "/auth/bankid/collect", {"orderRef": order["body"]["orderRef"]})
        assert pending["body"]["status"] == "pending", pending
        meter.reset()
        timed_bankid.seconds = 0.0
        started = time.perf_counter()
        done = call("POST", "/auth/bankid/collect", {"orderRef": order["body"]["orderRef"]})
        elapsed = time.perf_counter() - started - timed_bankid.seconds
        assert done["status"] == 200 and done["body"]["status"] == "complete", done
        # The collect response embeds GET /me; count the login itself apart from that read.
        if i >= len(citizens):  # first logins (activation) are fewer requests; report steady state
            samples["login"].append(elapsed)
            raw["login"].append(meter.seconds)
        token = done["body"]["session"]["token"]
        meter.reset()
        started = time.perf_counter()
        me = call("GET", "/me", token=token)
        assert me["status"] == 200
        if personnummer == citizens[0]:  # Sara: not a guardian, so GET /me is the session check alone
            samples["me"].append(time.perf_counter() - started)
            raw["me"].append(meter.seconds)
            requests["me"] = len(meter.calls)
            sara_token = token
        else:
            requests["me_guardian_of_three"] = max(requests.get("me_guardian_of_three", 0), len(meter.calls))

    requests.update(count_login_requests(call, meter, timed_bankid, citizens[0], pnr("Anna")))
    # Freja eID Plus beside BankID: the same citizens, steady state (bench/freja.py).
    freja_figures = measure_freja(call, meter, citizens, samples=samples, raw=raw, requests=requests)
    measure_inbox_and_messages(app, api_event, meter, sara_token, samples=samples, raw=raw, requests=requests)
    notify_per_s = measure_notifications(meter, pnr("Sara"), requests)
    return {
        # issue 13's e-services first: they add their samples before `summarize` reads them
        **measure_eservices(app, meter, sara_token, samples=samples, raw=raw, requests=requests),
        **summarize(env, sara_token, samples, raw, requests),
        "notify_per_s": notify_per_s,
        **freja_figures,
    }


def measure_freja(
    call: Any,
    meter: DynamoMeter,
    citizens: list[str],
    *,
    samples: dict[str, list[float]],
    raw: dict[str, list[float]],
    requests: dict[str, Any],
) -> dict[str, Any]:
    """Login with Freja eID Plus beside BankID's (bench/freja.py): adds freja_login and freja_login_start to
    the samples and counts; returns freja_login_requests and the `freja` detail."""
    from bench import freja

    return freja.measure(call, meter, citizens, runs=FREJA_RUNS, samples=samples, raw=raw, requests=requests)


def measure_eservices(
    app: Any,
    meter: DynamoMeter,
    token: str,
    *,
    samples: dict[str, list[float]],
    raw: dict[str, list[float]],
    requests: dict[str, Any],
) -> dict[str, Any]:
    """Issue 13's e-services (bench/eservices.py): adds form_case, health_declaration, services and medications
    to the samples and counts; returns the PDF build figures (their notes: `summarize`)."""
    from bench import eservices
    from bench.events import api_event

    return eservices.measure(app, api_event, meter, token, runs=RUNS, samples=samples, raw=raw, requests=requests)


def measure_web_booking(pnr: Any) -> dict[str, Any]:
    """Web booking (bench/web_booking.py), with its notes; before the notice burst, whose 10 000 notices
    would weigh on it."""
    from app import app
    from bench import web_booking
    from bench.events import api_event

    figures = web_booking.measure(app, api_event, pnr)
    figures["notes"] = web_booking.NOTES
    return figures


def measure_notice_burst(pnr: Any) -> dict[str, Any]:
    """The 18:00 burst of appointment notices (bench/notices.py), with its notes."""
    from app import app
    from bench import notices
    from bench.events import api_event

    figures = notices.measure(app, api_event, pnr)
    figures["notes"] = notices.NOTES
    return figures


NOTIFY_BATCHES = int(os.environ.get("BENCH_NOTIFY_BATCHES", "10"))


def measure_notifications(meter: DynamoMeter, personnummer: str, requests: dict[str, Any]) -> float:
    """`notify_per_s`: notifications one `send_notifications` invocation sends per second against moto
    (batches of 10 SQS messages, each an arrival with one SMS through moto's SNS; the provider rate limit
    set high), and `dynamodb_requests.notify_one`: DynamoDB calls for one arrival end to end (inbox_events
    for its stream record, then send_notifications for its message; idempotency included)."""
    import boto3

    from chalicelib.accounts import service as accounts
    from chalicelib.arrivals import service as inbox
    from chalicelib.core import config, dynamo, unit_of_work
    from chalicelib.core.clock import system_clock
    from chalicelib.notifications import rate
    from chalicelib.notifications.events import inbox_events, send_notifications
    from chalicelib.settings import repository as settings_repository
    from chalicelib.settings.rules import Settings
    from local.pump import FakeContext

    os.environ[rate.ENV] = "100000"  # moto has no quota: measure the sender, not the limit
    # The new rate; not `process.reset()`: the metered DynamoDB client must stay.
    config.settings.cache_clear(), rate.limiter.cache_clear()  # type: ignore[attr-defined]
    account = accounts.find_by_personnummer(personnummer)
    assert account is not None
    citizen_id = account.citizen_id
    current = settings_repository.get(citizen_id)
    version = int(current.get("version", 0)) if current else 0
    settings_repository.DYNAMO.save(
        uow := unit_of_work.UnitOfWork(),
        citizen_id,
        Settings(mobile="+46701740605", notify_by_sms=True),
        expected_version=version,
    )
    uow.commit()
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=os.environ["NOTIFICATIONS_QUEUE"])["QueueUrl"]

    def arrival_record(number: int) -> dict[str, Any]:
        """A message from care lands in the inbox (its transaction, as the API writes it); returns the
        stream record Lambda would hand inbox_events."""
        action = inbox.new_message_action(
            citizen_id, subject=f"Bench {number}", body="Bench", sender="Bench", at=system_clock()
        )
        dynamo.transact_write([action])
        return {
            "eventName": "INSERT",
            "dynamodb": {
                "Keys": {"pk": action["Put"]["Item"]["pk"], "sk": action["Put"]["Item"]["sk"]},
                "NewImage": action["Put"]["Item"],
                "SequenceNumber": str(number),
            },
        }

    def take(count: int) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while len(records) < count:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, count - len(records)))
            for m in messages.get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                records.append(
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "attributes": {},
                        "messageAttributes": {},
                        "md5OfBody": m["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:eu-north-1:000000000000:bench",
                        "awsRegion": "eu-north-1",
                    }
                )
        return records

    # One arrival end to end, counted.
    one = arrival_record(0)
    meter.reset()
    assert inbox_events({"Records": [one]}, FakeContext("inbox_events")) == {"batchItemFailures": []}
    result = send_notifications({"Records": take(1)}, FakeContext("send_notifications"))
    assert result == {"batchItemFailures": []}, result
    requests["notify_one"] = len(meter.calls)
    requests["notify_one_calls"] = list(meter.calls)

    # Throughput of the sender: batches of 10 queued arrivals, one SMS each.
    sent = 0
    seconds = 0.0
    for batch in range(NOTIFY_BATCHES):
        stream = [arrival_record(1 + batch * 10 + i) for i in range(10)]
        assert inbox_events({"Records": stream}, FakeContext("inbox_events")) == {"batchItemFailures": []}
        records = take(10)
        started = time.perf_counter()
        result = send_notifications({"Records": records}, FakeContext("send_notifications"))
        seconds += time.perf_counter() - started
        assert result == {"batchItemFailures": []}, result
        sent += len(records)
    return round(sent / seconds, 1)


def measure_inbox_and_messages(
    app: Any,
    api_event: Any,
    meter: DynamoMeter,
    token: str,
    *,
    samples: dict[str, list[float]],
    raw: dict[str, list[float]],
    requests: dict[str, Any],
) -> None:
    """`send_message`: a citizen's message in an open case (one transaction); `inbox_page`: a page of 20."""

    def call(method: str, resource: str, params: dict[str, str], body: Any = None) -> dict[str, Any]:
        path = resource.format(**params)
        response = app(api_event(method, path, body=body, token=token, resource=resource, params=params), None)
        assert response["statusCode"] < 300, response
        return json.loads(response["body"] or "null")

    case = call(
        "POST",
        "/citizens/{cid}/cases",
        {"cid": "me"},
        {
            "clinicId": "SE2321000016-1001",
            "caseTypeId": "fraga-sjukskoterskan",
            "subject": "Bench",
            "body": "Benchmark case",
        },
    )
    for name in ("send_message", "inbox_page"):
        samples[name], raw[name] = [], []
    for i in range(RUNS):
        meter.reset()
        started = time.perf_counter()
        call(
            "POST",
            "/citizens/{cid}/cases/{caseId}/messages",
            {"cid": "me", "caseId": case["caseId"]},
            {"body": f"Meddelande {i}"},
        )
        samples["send_message"].append(time.perf_counter() - started)
        raw["send_message"].append(meter.seconds)
        requests["send_message"] = len(meter.calls)
        requests["send_message_calls"] = list(meter.calls)
        if i < 25:  # some more inbox items, so a page is a full page
            call(
                "POST",
                "/citizens/{cid}/cases",
                {"cid": "me"},
                {
                    "clinicId": "SE2321000016-1001",
                    "caseTypeId": "fraga-sjukskoterskan",
                    "subject": f"Bench {i}",
                    "body": "Benchmark case",
                },
            )
        meter.reset()
        started = time.perf_counter()
        page = call("GET", "/citizens/{cid}/inbox", {"cid": "me"})
        samples["inbox_page"].append(time.perf_counter() - started)
        raw["inbox_page"].append(meter.seconds)
        requests["inbox_page"] = len(meter.calls)
        requests["inbox_page_calls"] = list(meter.calls)
        assert page["items"]


def count_login_requests(call: Any, meter: DynamoMeter, bankid: Any, returning: str, newcomer: str) -> dict[str, Any]:
    """The login proper (what the completing collect commits), without the embedded profile read."""
    from chalicelib.accounts import service as accounts
    from chalicelib.auth import service as auth
    from chalicelib.core.clock import system_clock
    from chalicelib.population.port import population_register

    order = call("POST", "/auth/bankid/start", {"personnummer": returning})
    call("POST", "/auth/bankid/collect", {"orderRef": order["body"]["orderRef"]})
    meter.reset()
    auth.collect(order["body"]["orderRef"], bankid=bankid, register=population_register(), clock=system_clock)
    counted: dict[str, Any] = {"login": len(meter.calls), "login_calls": list(meter.calls)}
    meter.reset()
    accounts.plan_login(newcomer, register=population_register(), clock=system_clock)
    counted["first_login_checks"] = len(meter.calls)
    return counted


def summarize(
    env: dict[str, str],
    token: str,
    samples: dict[str, list[float]],
    raw: dict[str, list[float]],
    requests: dict[str, Any],
) -> dict[str, Any]:
    result: dict[str, Any] = cold_start(env, token)
    result["dynamodb_calls"] = {
        "login": requests.pop("login_calls"),
        "freja_login": requests.pop("freja_login_calls", []),
        "send_message": requests.pop("send_message_calls"),
        "inbox_page": requests.pop("inbox_page_calls"),
        "notify_one": requests.pop("notify_one_calls", []),
    }
    result["dynamodb_requests"] = requests
    result["p50_ms"] = {k: round(statistics.median(v) * 1000, 2) for k, v in samples.items()}
    result["p95_ms"] = {k: round(percentile(v, 95) * 1000, 2) for k, v in samples.items()}
    result["overhead_ratio"] = {
        k: round(statistics.median(samples[k]) / statistics.median(raw[k]), 2)
        for k in samples
        if statistics.median(raw[k])
    }
    result["notes"] = {
        "login": "the completing collect (account checks + one transaction); p50/p95 include the embedded profile "
        "read of the response, exclude time waiting on the BankID simulator",
        "send_message": "a citizen's message in an open case through the route: session check, case read, one "
        "TransactWriteItems (message, case, inbox item, history)",
        "inbox_page": "one page (20 items) through the route: session check and one Query",
        "notify_one": "inbox_events for one arrival with one SMS target (no DynamoDB request: ids to the queue) "
        "and send_notifications for it (BatchGetItem of account, settings and inbox item; one transaction: the "
        "notification, the inbox item's due marker cleared; BatchWriteItem of the provider id)",
        "notify_per_s": "notifications per second inside send_notifications, batches of 10 arrivals with one SMS "
        "each against moto, provider calls concurrent, the provider rate limit set high",
        "runs": RUNS,
    }
    from bench.eservices import NOTES as ESERVICE_NOTES
    from bench.freja import NOTES as FREJA_NOTES

    result["notes"].update(FREJA_NOTES)
    result["notes"].update(ESERVICE_NOTES)
    return result


if __name__ == "__main__":
    main()
