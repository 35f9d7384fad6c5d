"""`make faults`: kill -9 in the middle of bursts of staff answers, restart, and check that nothing was
duplicated or lost. Loopback only, bounded (`--budget-s`).

    .venv/bin/python -m local.faults [--answers 20] [--budget-s 600]

1. Starts `python -m local.run` (the supervisor) on free ports with DynamoDB Local on disk
   (`.local/faults/<run>/dynamodb`, not in memory) and the login-start limits lifted.
2. Seven test persons log in, turn on SMS and e-mail (numbers from PTS's range for fiction,
   example.se addresses) and start `2 × --answers` cases.
3. Burst 1: staff answer `--answers` cases from 4 clients; after the first few 201s the pump is killed
   with SIGKILL (the supervisor restarts it).
4. Burst 2: the same with every process of the stack killed with SIGKILL at once (supervisor, DynamoDB
   Local, moto, BankID simulator, API, pump); the stack is started again on the same ports and data.
   Clients retry an answer with the same Idempotency-Key until it is 201 (connection refused, resets
   and 5xx while the stack is down), as a client of the API should.
5. Recovery: the pump resumes from its checkpoints; what died with moto's in-memory queue is found by
   the sweeper, invoked through the dev CLI with a schedule event whose `time` is past the markers'
   due time (a bounded run does not wait for the 5-minute schedule).
6. Checks: every answer stored exactly once (the case threads over the API); exactly one notification
   per (arrival, channel), each with a provider message id, none left `created` or `sending` without
   one; and the SMS/e-mail moto recorded, collected every 0.3 s throughout and unioned, since a killed
   moto forgets what it had sent.

Exit status 1 if a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from infra.definitions import local_environment
from local.clients import (
    CITIZENS,
    FICTION_MOBILES,
    HANDLERS,
    Api,
    OutboxWatcher,
    notifications,
    personnummer,
    staff_token,
)
from local.services import (
    LOCAL_DIR,
    ROOT,
    UNLIMITED_LOGIN_STARTS,
    Ports,
    free_port,
    interrupt_once_on_signals,
    stack_environment,
)

CLIENTS = 4
KILL_AFTER = 5  # answers answered 201 before the kill
HANDED_OVER = {"sending", "sent", "delivered"}  # with a provider message id
BACKING = {"dynamodb", "moto"}  # the stand-ins for AWS's managed services
BACKING_GRACE_S = 0.3


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Run:
    """`python -m local.run` in its own process group, with its ports and run directory."""

    run_dir: Path
    ports: Ports
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **UNLIMITED_LOGIN_STARTS,
            "API_PORT": str(self.ports.api),
            "BANKID_PORT": str(self.ports.bankid),
            "BOOKING_PORT": str(self.ports.booking),
            "FREJA_PORT": str(self.ports.freja),
            "DYNAMODB_PORT": str(self.ports.dynamodb),
            "MOTO_PORT": str(self.ports.moto),
            "LOCAL_RUN_DIR": str(self.run_dir),
        }

    def start(self, timeout_s: float = 180) -> None:
        self.starts += 1
        out = open(self.run_dir / f"run-{self.starts}.out", "wb")  # noqa: SIM115 - the child writes it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.run"],
            cwd=ROOT,
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"local.run exited with {self.process.returncode}; see {out.name}")
            if len(self.children()) == 7 and self.api_up():
                return
            time.sleep(0.3)
        raise RuntimeError(f"the stack did not come up within {timeout_s:.0f}s; see {out.name}")

    def children(self) -> dict[str, int]:
        try:
            return dict(json.loads((self.run_dir / "run.json").read_text())["children"])
        except (OSError, ValueError, KeyError):
            return {}

    def api_up(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.ports.api}/openapi.json", timeout=2).ok
        except requests.RequestException:
            return False

    def kill_all(self) -> list[int]:
        """SIGKILL to every process of the stack: nothing shuts down cleanly. The supervisor and the app's
        processes go first, DynamoDB Local and moto `BACKING_GRACE_S` later: DynamoDB Local acknowledges a
        write up to ~10 ms before it is on disk (see docs/architecture.md), which DynamoDB never does."""
        assert self.process is not None
        children = self.children()
        first = [self.process.pid, *(pid for name, pid in children.items() if name not in BACKING)]
        last = [pid for name, pid in children.items() if name in BACKING]
        for group in (first, last):
            for pid in group:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            time.sleep(BACKING_GRACE_S)
        self.process.wait(timeout=30)
        pids = first + last
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        (self.run_dir / "run.json").unlink(missing_ok=True)  # the dead supervisor could not
        return pids

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=90)

    def sweep(self, at: datetime) -> dict[str, Any]:
        """`python -m local invoke sweep_notifications` with a schedule event at `at`."""
        from local.pump import schedule_event

        env = {**self.env(), **stack_environment(self.ports)}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(schedule_event("sweep_notifications", at), handle)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "local", "invoke", "sweep_notifications", "--event", handle.name],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
        finally:
            Path(handle.name).unlink(missing_ok=True)
        result = json.loads(done.stdout) if done.stdout.strip() else None
        return result if isinstance(result, dict) else {"result": result}


@dataclass
class Answer:
    case_id: str
    handler: int
    body: str
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: int | None = None
    answered_at: float | None = None
    attempts: int = 0
    retried_on: Counter[str] = field(default_factory=Counter)


def answer(api: Api, token: str, item: Answer, deadline: float, done: Callable[[], None]) -> Answer:
    """POST the answer, again with the same Idempotency-Key while the stack cannot answer."""
    while time.monotonic() < deadline:
        item.attempts += 1
        try:
            response = api.call(
                "POST",
                f"/staff/cases/{item.case_id}/messages",
                {"kind": "answer", "body": item.body},
                token=token,
                headers={"Idempotency-Key": item.key},
            )
        except requests.RequestException as error:
            item.retried_on[type(error).__name__] += 1
            time.sleep(0.5)
            continue
        if response.status_code >= 500:
            item.retried_on[str(response.status_code)] += 1
            time.sleep(0.5)
            continue
        item.status = response.status_code
        item.answered_at = time.time()
        done()
        return item
    return item


def burst(base: str, tokens: list[str], answers: list[Answer], fault: Callable[[], None], budget_s: float) -> float:
    """Answers from CLIENTS clients; `fault` runs once KILL_AFTER answers are in. Returns the fault's time."""
    count = 0
    lock = threading.Lock()
    enough = threading.Event()

    def done() -> None:
        nonlocal count
        with lock:
            count += 1
            if count >= KILL_AFTER:
                enough.set()

    deadline = time.monotonic() + budget_s
    apis = [Api(base, timeout_s=10) for _ in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [
            pool.submit(answer, apis[i % CLIENTS], tokens[a.handler], a, deadline, done) for i, a in enumerate(answers)
        ]
        enough.wait(timeout=budget_s)
        fault_at = time.time()
        fault()
        for future in futures:
            future.result()
    return fault_at


@dataclass
class Citizen:
    name: str
    token: str
    mobile: str
    email: str


def setup(base: str, cases_needed: int, run_id: str) -> tuple[list[Citizen], list[tuple[str, int]]]:
    """Citizens with SMS and e-mail on, and their cases (case id, handler index)."""
    api = Api(base)
    citizens = []
    for n, name in enumerate(CITIZENS):
        token = api.login(personnummer(name))
        mobile, email = FICTION_MOBILES[40 + n], f"faults.{name.lower()}.{run_id}@example.se"
        api.call(
            "PATCH",
            "/citizens/me/settings",
            {"mobile": mobile, "email": email, "notifyBySms": True, "notifyByEmail": True},
            token=token,
        ).raise_for_status()
        citizens.append(Citizen(name, token, mobile, email))
    cases = []
    for n in range(cases_needed):
        citizen, handler = citizens[n % len(citizens)], n % len(HANDLERS)
        created = api.call(
            "POST",
            "/citizens/me/cases",
            {
                "clinicId": HANDLERS[handler].clinic,
                "caseTypeId": "fraga-sjukskoterskan",
                "subject": "Fråga",
                "body": "Jag har en fråga.",
            },
            token=citizen.token,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        created.raise_for_status()
        cases.append((created.json()["caseId"], handler))
    return citizens, cases


def settle(run: Run, answers: list[Answer], budget_s: float, sweeps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Waits until every answer's notifications are handed over, sweeping with a time past the markers'
    due time every 15 s (the results appended to `sweeps`); returns our notifications."""
    table = local_environment("local")["MAIN_TABLE"]
    items = {a.case_id for a in answers}
    deadline = time.monotonic() + budget_s
    next_sweep = time.monotonic() + 5
    while True:
        ours = [n for n in notifications(run.ports, table) if n.get("itemId") in items]
        pending = [n for n in ours if not (n.get("providerMessageId") and n.get("status") in HANDED_OVER)]
        complete = len({(n["itemId"], n["channel"]) for n in ours}) >= 2 * len(items)
        if (complete and not pending) or time.monotonic() > deadline:
            return ours
        if time.monotonic() >= next_sweep:
            # A later sweep must be past the previous one's re-queue delay (10 minutes): move on 11 each.
            at = datetime.now(UTC) + timedelta(minutes=3 + 11 * len(sweeps))
            result = run.sweep(at)
            sweeps.append({"time": at.strftime("%H:%M:%SZ"), "result": result})
            say(f"sweep_notifications at {at:%H:%M:%S}Z: {json.dumps(result)}")
            next_sweep = time.monotonic() + 15
        time.sleep(1)


def check(
    run: Run,
    citizens: list[Citizen],
    *,
    answers: list[Answer],
    ours: list[dict[str, Any]],
    watcher: OutboxWatcher,
    kills: dict[str, float],
) -> dict[str, Any]:
    base = f"http://127.0.0.1:{run.ports.api}"
    api = Api(base)
    tokens = [staff_token(m.hsa_id, [m.clinic], m.role) for m in HANDLERS]
    stored: Counter[int] = Counter()
    not_once = []
    for a in answers:
        view = api.call("GET", f"/staff/cases/{a.case_id}", token=tokens[a.handler])
        view.raise_for_status()
        copies = sum(1 for m in view.json()["messages"] if m["body"] == a.body and m["kind"] == "answer")
        stored[copies] += 1
        if copies != 1:
            not_once.append(
                {
                    "caseId": a.case_id,
                    "copies": copies,
                    "status": a.status,
                    "attempts": a.attempts,
                    "retriedOn": dict(a.retried_on),
                    "answeredAfterKill_s": {
                        k: round(a.answered_at - t, 3) for k, t in kills.items() if a.answered_at is not None
                    },
                }
            )

    per_arrival = Counter((n["itemId"], n["arrivalId"], n["channel"]) for n in ours)
    arrivals_per_item: dict[str, set[str]] = defaultdict(set)
    for n in ours:
        arrivals_per_item[n["itemId"]].add(n["arrivalId"])
    statuses = Counter(f"{n.get('status')}{'' if n.get('providerMessageId') else ' (no provider id)'}" for n in ours)
    stuck = [
        n
        for n in ours
        if n.get("status") == "created" or (n.get("status") == "sending" and not n.get("providerMessageId"))
    ]

    seen = {m["id"]: m for m in watcher.messages()}
    ours_ids = {n["providerMessageId"]: n for n in ours if n.get("providerMessageId")}
    addresses = {c.mobile for c in citizens} | {c.email for c in citizens}
    to_us = [m for m in seen.values() if m["to"] in addresses]
    unmatched = [m for m in to_us if m["id"] not in ours_ids]  # sent, but no notification holds its id
    not_observed = [n for pid, n in ours_ids.items() if pid not in seen]
    whole_kill = kills["stack"]
    lost_window = [n for n in not_observed if n.get("sentAt") and epoch(n["sentAt"]) <= whole_kill]
    return {
        "answers": len(answers),
        "answers_201": sum(1 for a in answers if a.status == 201),
        "answers_other_status": dict(Counter(a.status for a in answers if a.status != 201)),
        "answer_attempts": sum(a.attempts for a in answers),
        "retried_on": dict(sum((a.retried_on for a in answers), Counter())),
        "stored_exactly_once": stored.get(1, 0),
        "stored_copies": {str(k): v for k, v in sorted(stored.items())},
        "answers_not_stored_once": not_once,
        "notifications": len(ours),
        "notification_status": dict(statuses),
        "items_with_one_arrival": sum(1 for v in arrivals_per_item.values() if len(v) == 1),
        "arrival_channel_pairs": len(per_arrival),
        "arrival_channel_duplicates": sum(1 for v in per_arrival.values() if v > 1),
        "stuck_created_or_sending": len(stuck),
        "outbox_polls": watcher.polls,
        "outbox_failed_polls": watcher.failed_polls,
        "outbox_messages_to_our_citizens": len(to_us),
        "outbox_sent_without_a_notification": len(unmatched),
        "provider_ids_not_observed": len(not_observed),
        "provider_ids_not_observed_sent_before_the_stack_kill": len(lost_window),
        "outbox_by_channel": dict(Counter(m["channel"] for m in to_us)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.faults", description="kill -9 during answers")
    parser.add_argument("--answers", type=int, default=20, help="answers per burst (two bursts)")
    parser.add_argument("--budget-s", type=float, default=600, help="the whole run ends within this")
    args = parser.parse_args(argv)
    interrupt_once_on_signals()
    started = time.monotonic()
    run_id = time.strftime("%Y%m%d-%H%M%S")
    run_dir = LOCAL_DIR / "faults" / run_id
    run_dir.mkdir(parents=True)
    ports = Ports(
        api=free_port(),
        bankid=free_port(),
        booking=free_port(),
        freja=free_port(),
        dynamodb=free_port(),
        moto=free_port(),
    )
    run = Run(run_dir, ports)
    say(f"starting the stack (python -m local.run, data and logs in {run_dir.relative_to(ROOT)})")
    watcher = OutboxWatcher(f"http://127.0.0.1:{ports.moto}", every_s=0.3)
    try:
        run.start()
        watcher.start()
        report = exercise(run, watcher, args, run_id, started)
    finally:
        watcher.stop()
        run.stop()
    print(json.dumps(report["figures"], indent=2, ensure_ascii=False))
    (run_dir / "faults-results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for name, ok in report["checks"].items():
        print(f"check {'ok    ' if ok else 'FAILED'}  {name}")
    for line in report["observability"]:
        print(f"note: {line}")
    raise SystemExit(0 if all(report["checks"].values()) else 1)


def exercise(run: Run, watcher: OutboxWatcher, args: argparse.Namespace, run_id: str, started: float) -> dict[str, Any]:
    base = f"http://127.0.0.1:{run.ports.api}"
    citizens, cases = setup(base, 2 * args.answers, run_id)
    say(f"{len(citizens)} citizens with SMS and e-mail on, {len(cases)} cases")
    tokens = [staff_token(m.hsa_id, [m.clinic], m.role) for m in HANDLERS]
    answers = [Answer(case_id, handler, f"Svar {run_id} {case_id}") for case_id, handler in cases]
    first, second = answers[: args.answers], answers[args.answers :]

    def budget() -> float:
        return max(30.0, args.budget_s - (time.monotonic() - started))

    def kill_pump() -> None:
        pid = run.children()["pump"]
        os.kill(pid, signal.SIGKILL)
        say(f"kill -9 pump (pid {pid})")

    pump_before = run.children()["pump"]
    kills = {"pump": burst(base, tokens, first, kill_pump, budget())}
    say(f"burst 1 done: {sum(a.status == 201 for a in first)}/{len(first)} answers 201")
    sweeps: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while run.children().get("pump") in (None, pump_before) and time.monotonic() < deadline:
        time.sleep(0.2)
    say(f"the supervisor restarted the pump (pid {run.children().get('pump')}); waiting for burst 1's notifications")
    phase_1 = settle(run, first, min(150.0, budget()), sweeps)
    handed_over = sum(1 for n in phase_1 if n.get("providerMessageId") and n.get("status") in HANDED_OVER)
    say(f"after the pump kill: {handed_over}/{2 * len(first)} notifications handed over")

    def kill_stack() -> None:
        pids = run.kill_all()
        say(f"kill -9 of the whole stack ({len(pids)} processes); starting it again")
        restart = time.monotonic()
        run.start()
        say(f"stack back after {time.monotonic() - restart:.1f}s (DynamoDB Local kept its data; moto is empty)")

    kills["stack"] = burst(base, tokens, second, kill_stack, budget())
    say(f"burst 2 done: {sum(a.status == 201 for a in second)}/{len(second)} answers 201")

    ours = settle(run, answers, min(150.0, budget()), sweeps)
    time.sleep(2)  # a duplicate send would show up in the outbox now
    watcher.poll()
    figures = check(run, citizens, answers=answers, ours=ours, watcher=watcher, kills=kills)
    figures["sweeps"] = sweeps
    figures["after_the_pump_kill_handed_over"] = f"{handed_over}/{2 * len(first)}"
    figures["seconds"] = round(time.monotonic() - started, 1)
    n = len(answers)
    checks = {
        "after the pump kill (before the stack kill) every notification of burst 1 handed over": handed_over
        == 2 * len(first),
        f"every answer 201 ({n})": figures["answers_201"] == n,
        "every answer stored exactly once": figures["stored_exactly_once"] == n,
        f"one notification per (arrival, channel): {2 * n}": figures["arrival_channel_pairs"] == 2 * n
        and figures["arrival_channel_duplicates"] == 0
        and figures["items_with_one_arrival"] == n,
        "every notification handed over with a provider id": all(
            k.split(" ")[0] in HANDED_OVER and "no provider id" not in k for k in figures["notification_status"]
        ),
        "nothing stuck created/sending": figures["stuck_created_or_sending"] == 0,
        "no message in moto's outbox without its notification (no duplicate send observed)": figures[
            "outbox_sent_without_a_notification"
        ]
        == 0,
        "every provider id not seen in the outbox was sent before the whole-stack kill": figures[
            "provider_ids_not_observed"
        ]
        == figures["provider_ids_not_observed_sent_before_the_stack_kill"],
    }
    observability = [
        "moto keeps sent SMS/e-mail in memory: the whole-stack kill erased its record. The outbox was polled "
        f"every 0.3 s ({figures['outbox_polls']} polls, {figures['outbox_failed_polls']} while moto was down) and "
        "unioned; a message moto accepted after the last poll before the kill is not observable "
        f"({figures['provider_ids_not_observed_sent_before_the_stack_kill']} provider ids, all sent before the kill).",
        "A duplicate send inside that last window would not be observable either; everywhere else a second "
        "send would appear as an outbox message whose id no notification holds.",
        "Delivery (the handset/mailbox) is not simulated: moto reports no delivery status, so `sending` with a "
        "provider id is the end state locally (`delivered` needs SNS/SES feedback).",
    ]
    return {"figures": figures, "checks": checks, "observability": observability}


if __name__ == "__main__":
    main()
