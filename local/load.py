"""`make load`: 50 concurrent clients for 60 s against the local stack, on loopback, bounded.

    .venv/bin/python -m local.load [--clients 50] [--seconds 60] [--attach]

Starts its own stack on free ports (DynamoDB Local in memory, the login-start limits lifted), or with
`--attach` uses the running `make run` (API_PORT, DYNAMODB_PORT, MOTO_PORT). The mix:
- citizens (the test persons who can log in, logged in through the BankID simulator; several clients
  share a person, as several devices would) read the inbox, open items, write in their cases and start
  new ones; each has SMS notifications on, to a number from PTS's range for fiction;
- staff (case handlers of the three clinics, tokens from the local issuer as `python -m local
  staff-token` makes them) list their clinic's open cases and answer them; a case is answered by one
  handler client (cases are split between a clinic's clients), as a team splits its work.

Prints requests, errors by status, connection errors (resets), p50/p95 per operation, and the delay
from an answer's 201 to the first SMS about its case handed to SNS after it (the notification's
`sentAt`; each checked against moto's record of sent SMS), split into answer → notification created
and created → sent. Writes the figures to `.local/load-results.json`.
Exit status 1 when a goal is missed: no errors of any kind, no resets, answer→SMS p95 ≤ 5 s.

Each client pauses a random 0–2 s between its requests (mean 1 s, `--think-ms`): 50 very active people,
about 45 requests a second in all, which this 2-core machine serves at ~80 % of what it can. With
`--think-ms 100` the clients offer more than the stack can serve (DynamoDB Local takes ~1.2 of the two
cores at ~55 requests/s): every queue grows, and notifications wait behind the queued requests in
DynamoDB Local like everything else (docs/architecture.md, "Local stack resilience", has the figures).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import random
import statistics
import threading
import time
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from local.clients import (
    CITIZENS,
    FICTION_MOBILES,
    HANDLERS,
    Api,
    StaffMember,
    moto_sent,
    notifications,
    personnummer,
    staff_token,
)
from local.services import (
    LOCAL_DIR,
    UNLIMITED_LOGIN_STARTS,
    Ports,
    Stack,
    free_port,
    interrupt_once_on_signals,
    ports_from_env,
    start_all,
)

GOAL_SMS_P95_S = 5.0
THINK_MS = 1000
RESULTS = LOCAL_DIR / "load-results.json"


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def connection_error_kind(error: BaseException) -> str:
    """The root cause of a requests connection error (ConnectionResetError, ConnectionRefusedError, ...)."""
    seen: BaseException | None = error
    names: list[str] = []
    while seen is not None and len(names) < 10:
        names.append(type(seen).__name__)
        for arg in getattr(seen, "args", ()):
            if isinstance(arg, BaseException):
                names.append(type(arg).__name__)
                reason = getattr(arg, "reason", None)
                if isinstance(reason, BaseException):
                    names.append(type(reason).__name__)
        seen = seen.__cause__ or seen.__context__
    for name in names:
        if name in {"ConnectionResetError", "ConnectionRefusedError", "ConnectionAbortedError", "BrokenPipeError"}:
            return name
    for name in names:
        if "Timeout" in name:
            return name
    return names[0]


@dataclass
class Recorder:
    """What every client saw, by operation."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    connection_errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    answers: list[dict[str, Any]] = field(default_factory=list)  # caseId, answered (epoch s)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, api: Api, op: str, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = api.call(method, path, **kwargs)
        except requests.RequestException as error:
            with self.lock:
                self.connection_errors[(op, connection_error_kind(error))] += 1
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies[op].append(elapsed)
            self.statuses[(op, response.status_code)] += 1
        return response

    def summary(self) -> dict[str, Any]:
        errors = Counter({f"{op} {status}": n for (op, status), n in self.statuses.items() if not 200 <= status < 300})
        return {
            "requests": sum(self.statuses.values()) + sum(self.connection_errors.values()),
            "errors_by_status": dict(sorted(errors.items())),
            "connection_errors": {f"{op} {kind}": n for (op, kind), n in sorted(self.connection_errors.items())},
            "operations": {
                op: {
                    "count": len(values),
                    "p50_ms": round(1000 * (percentile(values, 50) or 0), 1),
                    "p95_ms": round(1000 * (percentile(values, 95) or 0), 1),
                }
                for op, values in sorted(self.latencies.items())
            },
        }


@dataclass
class Citizen:
    name: str
    token: str
    mobile: str
    case_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def some_case(self, rng: random.Random) -> str | None:
        with self.lock:
            return rng.choice(self.case_ids) if self.case_ids else None

    def add_case(self, case_id: str) -> None:
        with self.lock:
            self.case_ids.append(case_id)


CASE_TYPE = "fraga-sjukskoterskan"  # offered by every clinic in testdata/clinics.json


def new_case(recorder: Recorder, api: Api, citizen: Citizen, rng: random.Random) -> None:
    clinic = rng.choice([member.clinic for member in HANDLERS])
    response = recorder.call(
        api,
        "citizen new case",
        "POST",
        "/citizens/me/cases",
        body={"clinicId": clinic, "caseTypeId": CASE_TYPE, "subject": "Fråga", "body": "Jag har en fråga."},
        token=citizen.token,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    if response is not None and response.status_code == 201:
        citizen.add_case(response.json()["caseId"])


def citizen_client(recorder: Recorder, api: Api, citizen: Citizen, *, until: float, seed: int, think_s: float) -> None:
    rng = random.Random(seed)
    items: list[str] = []
    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.40 or (roll < 0.70 and not items):
            response = recorder.call(api, "citizen inbox", "GET", "/citizens/me/inbox", token=citizen.token)
            if response is not None and response.ok:
                items = [item["id"] for item in response.json().get("items", [])]
        elif roll < 0.70:
            recorder.call(
                api, "citizen open item", "GET", f"/citizens/me/inbox/{rng.choice(items)}", token=citizen.token
            )
        elif roll < 0.88 and (case_id := citizen.some_case(rng)):
            recorder.call(
                api,
                "citizen message",
                "POST",
                f"/citizens/me/cases/{case_id}/messages",
                body={"body": "Tack, en sak till."},
                token=citizen.token,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
        else:
            new_case(recorder, api, citizen, rng)
        time.sleep(rng.uniform(0, 2 * think_s))


def staff_client(
    recorder: Recorder,
    api: Api,
    member: StaffMember,
    *,
    token: str,
    share: tuple[int, int],
    until: float,
    seed: int,
    think_s: float,
) -> None:
    """Lists the clinic's open cases and answers one of its share (crc32(caseId) % parts == index)."""
    rng = random.Random(seed)
    index, parts = share
    while time.monotonic() < until:
        response = recorder.call(
            api, "staff list cases", "GET", f"/staff/clinics/{member.clinic}/cases?status=open", token=token
        )
        mine = []
        if response is not None and response.ok:
            mine = [
                c["caseId"]
                for c in response.json().get("items", [])
                if zlib.crc32(c["caseId"].encode()) % parts == index
            ]
        time.sleep(rng.uniform(0, 2 * think_s))
        if mine and time.monotonic() < until:
            case_id = rng.choice(mine)
            answered = recorder.call(
                api,
                "staff answer",
                "POST",
                f"/staff/cases/{case_id}/messages",
                body={"kind": "answer", "body": "Svar från mottagningen."},
                token=token,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            if answered is not None and answered.status_code == 201:
                with recorder.lock:
                    recorder.answers.append({"caseId": case_id, "answered": time.time()})
            time.sleep(rng.uniform(0, 2 * think_s))


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _covering(answered: float, sent: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first SMS for the item handed to SNS at or after the answer: what tells the citizen. (The app
    sends one SMS per unread arrival: an answer overtaken by a newer one on the same case before its SMS
    went out is told by the newer one's.)"""
    later = [n for n in sent if epoch(n["sentAt"]) >= answered]
    return min(later, key=lambda n: n["sentAt"]) if later else None


def sms_delays(
    answers: list[dict[str, Any]], ports: Ports, main_table: str, wait_s: float
) -> tuple[list[float], dict[str, Any]]:
    """For each answer, the delay from its 201 to the first SMS about its case sent after it (the
    notification's `sentAt`), once every answer has one or `wait_s` has passed."""
    deadline = time.monotonic() + wait_s
    while True:
        per_item: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for n in notifications(ports, main_table):
            if n.get("channel") == "sms" and n.get("sentAt"):
                per_item[n["itemId"]].append(n)
        covering = [(a, _covering(a["answered"], per_item.get(a["caseId"], []))) for a in answers]
        if all(c is not None for _, c in covering) or time.monotonic() > deadline:
            break
        time.sleep(1)
    delays, queued, sending = [], [], []
    for answer, notification in covering:
        if notification is not None:
            delays.append(epoch(notification["sentAt"]) - answer["answered"])
            queued.append(max(0.0, epoch(notification["createdAt"]) - answer["answered"]))
            sending.append(epoch(notification["sentAt"]) - epoch(notification["createdAt"]))
    sent = {n["providerMessageId"] for ns in per_item.values() for n in ns if n.get("providerMessageId")}
    ours = {n["providerMessageId"] for a, n in covering if n is not None and n.get("providerMessageId")}
    moto_ids = {m["id"] for m in moto_sent(f"http://127.0.0.1:{ports.moto}") if m["channel"] == "sms"}
    return delays, {
        "answers": len(answers),
        "answers_told_by_sms": len(delays),
        "answers_without_sms": len(answers) - len(delays),
        "sms_for_answered_cases": len(sent),
        "sms_found_in_moto_outbox": len(ours & moto_ids),
        "sms_missing_from_moto_outbox": len(ours - moto_ids),
        "answer_to_notification_created_p50_s": round(percentile(queued, 50) or 0, 2),
        "answer_to_notification_created_p95_s": round(percentile(queued, 95) or 0, 2),
        "notification_created_to_sent_p50_s": round(percentile(sending, 50) or 0, 2),
        "notification_created_to_sent_p95_s": round(percentile(sending, 95) or 0, 2),
    }


@contextlib.contextmanager
def stack_for_load(attach: bool) -> Iterator[Ports]:
    if attach:
        yield ports_from_env()
        return
    ports = Ports(
        api=free_port(),
        bankid=free_port(),
        booking=free_port(),
        freja=free_port(),
        dynamodb=free_port(),
        moto=free_port(),
    )
    stack = Stack(ports=ports, data_dir=None, log_dir=LOCAL_DIR / "load-logs", extra_env=UNLIMITED_LOGIN_STARTS)
    for old in stack.log_dir.glob("*.log"):
        old.unlink()
    print(f"starting a stack on free ports (logs in {stack.log_dir}) ...", flush=True)
    start_all(stack)
    try:
        yield ports
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.load", description="50 clients for 60 s, loopback")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--staff-share", type=float, default=0.2, help="part of the clients that are staff")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=THINK_MS,
        help="mean pause between a client's requests (100: past what this machine serves, see the docstring)",
    )
    parser.add_argument("--drain-s", type=float, default=60, help="how long to wait for the last SMS")
    parser.add_argument("--attach", action="store_true", help="use the running `make run` (its ports)")
    args = parser.parse_args(argv)
    interrupt_once_on_signals()
    with stack_for_load(args.attach) as ports:
        raise SystemExit(run(ports, args))


def run(ports: Ports, args: argparse.Namespace) -> int:
    from infra.definitions import local_environment

    base = f"http://127.0.0.1:{ports.api}"
    setup = Api(base)
    citizens = []
    for n, name in enumerate(CITIZENS):
        token = setup.login(personnummer(name))
        mobile = FICTION_MOBILES[n]
        changed = setup.call("PATCH", "/citizens/me/settings", {"mobile": mobile, "notifyBySms": True}, token=token)
        changed.raise_for_status()
        citizens.append(Citizen(name, token, mobile))
    recorder = Recorder()
    rng = random.Random(1177)
    for citizen in citizens:  # something for staff to answer from the first second
        for _ in range(2):
            new_case(recorder, setup, citizen, rng)
    recorder = Recorder()  # the setup is not part of the figures

    staff_clients = max(len(HANDLERS), round(args.clients * args.staff_share))
    tokens = {m.hsa_id: staff_token(m.hsa_id, [m.clinic], m.role) for m in HANDLERS}
    per_clinic = Counter(HANDLERS[i % len(HANDLERS)].clinic for i in range(staff_clients))
    seen_per_clinic: Counter[str] = Counter()
    until = time.monotonic() + args.seconds
    think_s = args.think_ms / 1000
    threads = []
    for i in range(args.clients):
        api = Api(base)
        if i < staff_clients:
            member = HANDLERS[i % len(HANDLERS)]
            share = (seen_per_clinic[member.clinic], per_clinic[member.clinic])
            seen_per_clinic[member.clinic] += 1
            client = functools.partial(
                staff_client, recorder, api, member, token=tokens[member.hsa_id], share=share, until=until, seed=i
            )
        else:
            client = functools.partial(citizen_client, recorder, api, citizens[i % len(citizens)], until=until, seed=i)
        threads.append(threading.Thread(target=client, kwargs={"think_s": think_s}, daemon=True))
    print(
        f"{args.clients} clients ({staff_clients} staff, {args.clients - staff_clients} citizens) for "
        f"{args.seconds:.0f} s against {base} ...",
        flush=True,
    )
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.seconds + 120)
    elapsed = time.monotonic() - started

    summary = recorder.summary()
    delays, sms = sms_delays(recorder.answers, ports, local_environment("local")["MAIN_TABLE"], args.drain_s)
    summary.update(
        {
            "clients": args.clients,
            "seconds": round(elapsed, 1),
            "requests_per_s": round(summary["requests"] / elapsed, 1),
            "answers_per_s": round(len(recorder.answers) / elapsed, 1),
            "answer_to_sms": {
                **sms,
                "p50_s": round(percentile(delays, 50) or 0, 2),
                "p95_s": round(percentile(delays, 95) or 0, 2),
                "max_s": round(max(delays), 2) if delays else None,
                "mean_s": round(statistics.fmean(delays), 2) if delays else None,
            },
        }
    )
    goals = {
        "no errors": not summary["errors_by_status"],
        "no connection errors or resets": not summary["connection_errors"],
        "an SMS after every answer": sms["answers_without_sms"] == 0 and sms["sms_missing_from_moto_outbox"] == 0,
        f"answer→SMS p95 ≤ {GOAL_SMS_P95_S:.0f} s": bool(delays) and (percentile(delays, 95) or 0) <= GOAL_SMS_P95_S,
    }
    summary["goals"] = goals
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report(summary)
    return 0 if all(goals.values()) else 1


def report(summary: dict[str, Any]) -> None:
    print(f"\nrequests: {summary['requests']} in {summary['seconds']} s ({summary['requests_per_s']}/s)")
    print(f"errors by status: {summary['errors_by_status'] or 'none'}")
    print(f"connection errors/resets: {summary['connection_errors'] or 'none'}")
    print(f"\n{'operation':<22}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}")
    for op, figures in summary["operations"].items():
        print(f"{op:<22}{figures['count']:>8}{figures['p50_ms']:>10}{figures['p95_ms']:>10}")
    sms = summary["answer_to_sms"]
    print(
        f"\nanswer→SMS: {sms['answers']} answers ({summary['answers_per_s']}/s), {sms['answers_told_by_sms']} "
        f"followed by an SMS, {sms['answers_without_sms']} without; {sms['sms_for_answered_cases']} SMS sent, "
        f"the {sms['sms_found_in_moto_outbox'] + sms['sms_missing_from_moto_outbox']} that followed answers: "
        f"{sms['sms_found_in_moto_outbox']} found in moto's outbox\n"
        f"  p50 {sms['p50_s']} s, p95 {sms['p95_s']} s, max {sms['max_s']} s "
        f"(answer→notification created p50/p95 {sms['answer_to_notification_created_p50_s']}/"
        f"{sms['answer_to_notification_created_p95_s']} s; created→sent "
        f"{sms['notification_created_to_sent_p50_s']}/{sms['notification_created_to_sent_p95_s']} s)"
    )
    for goal, met in summary["goals"].items():
        print(f"goal {'met   ' if met else 'MISSED'}  {goal}")
    print(f"\nfigures written to {Path(RESULTS).relative_to(LOCAL_DIR.parent)}")


if __name__ == "__main__":
    main()
