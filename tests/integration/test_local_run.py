"""`make run` (local/run.py, local/supervisor.py) as a process: a killed pump comes back and notifies the
next arrival; two SIGTERMs 50 ms apart (GNU make forwarding one, a supervisor signalling the group)
stop every process it started.

Runs `python -m local.run` in its own process group on free ports with a temporary LOCAL_RUN_DIR.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from infra import definitions
from infra.definitions import local_environment
from infra.functions import STREAM_CONSUMERS
from local.clients import FICTION_MOBILES, HANDLERS, Api, moto_sent, personnummer, staff_token
from local.services import UNLIMITED_LOGIN_STARTS, Ports, free_port
from tests.support import ROOT

MOBILE = FICTION_MOBILES[-1]


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    ports: Ports
    run_dir: Path
    seen_pids: set[int] = field(default_factory=set)

    def state(self) -> dict[str, Any]:
        try:
            state = json.loads((self.run_dir / "run.json").read_text())
        except (OSError, ValueError):
            return {}
        self.seen_pids.update(state.get("children", {}).values())
        return dict(state)

    def children(self) -> dict[str, int]:
        return dict(self.state().get("children", {}))

    def output(self) -> str:
        return (self.run_dir / "run.out").read_text(errors="replace")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended; its parent reaps it


def wait_until(check: Any, what: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout_s:.0f}s")


def api_up(ports: Ports) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{ports.api}/openapi.json", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    run_dir = tmp_path_factory.mktemp("run")
    ports = Ports(
        api=free_port(),
        bankid=free_port(),
        booking=free_port(),
        freja=free_port(),
        dynamodb=free_port(),
        moto=free_port(),
    )
    env = {
        **os.environ,
        **UNLIMITED_LOGIN_STARTS,
        "API_PORT": str(ports.api),
        "BANKID_PORT": str(ports.bankid),
        "BOOKING_PORT": str(ports.booking),
        "FREJA_PORT": str(ports.freja),
        "DYNAMODB_PORT": str(ports.dynamodb),
        "MOTO_PORT": str(ports.moto),
        "LOCAL_RUN_DIR": str(run_dir),
    }
    with open(run_dir / "run.out", "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, as `make run` in a terminal
        )
    stack = Running(process, ports, run_dir)
    try:
        wait_until(lambda: len(stack.children()) == 7 and api_up(ports), "the stack came up", 150)
        yield stack
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)
        for pid in stack.seen_pids | {process.pid}:  # whatever a failed test left behind
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def pump_log(running: Running) -> list[dict[str, Any]]:
    lines = (running.run_dir / "logs" / "pump.log").read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"pump"')]


def test_a_killed_pump_is_restarted_resumes_and_notifies_an_arrival_written_while_it_was_down(running: Running):
    api = Api(f"http://127.0.0.1:{running.ports.api}")
    citizen = api.login(personnummer("Sara"))
    changed = api.call("PATCH", "/citizens/me/settings", {"mobile": MOBILE, "notifyBySms": True}, token=citizen)
    assert changed.status_code == 200, changed.text
    handler = HANDLERS[0]
    case = api.call(
        "POST",
        "/citizens/me/cases",
        {"clinicId": handler.clinic, "caseTypeId": "fraga-sjukskoterskan", "subject": "Hosta", "body": "Hosta."},
        token=citizen,
    )
    assert case.status_code == 201, case.text
    wait_until((running.run_dir / "pump" / "stream-inbox_events.json").exists, "a first checkpoint", 60)

    pump = running.children()["pump"]
    os.kill(pump, signal.SIGKILL)
    answered = api.call(  # while the pump is down (its restart waits 0.5 s, then it loads the app)
        "POST",
        f"/staff/cases/{case.json()['caseId']}/messages",
        {"kind": "answer", "body": "Drick varmt."},
        token=staff_token(handler.hsa_id, [handler.clinic], handler.role),
    )
    assert answered.status_code == 201, answered.text
    restarted = wait_until(
        lambda: (pid := running.children().get("pump")) != pump and pid and alive(pid) and pid, "a new pump", 30
    )
    assert alive(restarted) and not alive(pump)
    assert "pump exited with -9; restart 1" in running.output()
    moto = f"http://127.0.0.1:{running.ports.moto}"
    wait_until(lambda: any(m["to"] == MOBILE for m in moto_sent(moto)), "the SMS was sent by the new pump", 60)
    time.sleep(1)  # a second SMS would show up now
    assert [m["to"] for m in moto_sent(moto)].count(MOBILE) == 1
    resumed = [line for line in pump_log(running) if line["pump"] == "resumed"]
    assert {line["function"] for line in resumed} == {c.function for c in STREAM_CONSUMERS}  # every stream consumer


def test_a_killed_moto_comes_back_with_its_queues_and_bucket_and_the_pump_follows(running: Running):
    before = running.children()
    os.kill(before["moto"], signal.SIGKILL)
    wait_until(
        lambda: all(running.children().get(n) not in (None, before[n]) for n in ("moto", "pump")),
        "moto and the pump restarted",
        60,
    )
    names = local_environment("local")
    moto = {
        "endpoint_url": f"http://127.0.0.1:{running.ports.moto}",
        "region_name": "eu-north-1",
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    sqs = boto3.client("sqs", **moto)
    for queue in definitions.QUEUES:  # the same names, so the app's and the pump's queue URLs hold
        for name in (names[queue.env_var], names[queue.env_var] + "-dlq"):
            assert sqs.get_queue_url(QueueName=name)["QueueUrl"].endswith("/" + name)
    s3 = boto3.client("s3", **moto)
    for bucket in definitions.BUCKETS:
        s3.head_bucket(Bucket=names[bucket.env_var])
    assert "moto exited with -9; restart 1" in running.output()
    assert "pump follows moto" in running.output()
    assert api_up(running.ports)


def test_two_sigterms_50_ms_apart_stop_every_process(running: Running):
    children = running.children()
    assert set(children) == {"dynamodb", "moto", "bankid", "freja", "booking", "api", "pump"}
    os.killpg(running.process.pid, signal.SIGTERM)
    time.sleep(0.05)
    os.killpg(running.process.pid, signal.SIGTERM)
    assert running.process.wait(timeout=60) == 0, running.output()[-2000:]
    wait_until(lambda: not any(alive(pid) for pid in running.seen_pids), "every child gone", 10)
    assert not (running.run_dir / "run.json").exists()
    assert running.output().count("SIGTERM: stopping") == 1
