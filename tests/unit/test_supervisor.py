"""The supervisor's restart rules (local/supervisor.py), with stand-in processes instead of the stack."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

from local.services import Ports, Stack, spawn
from local.supervisor import ORDER, RestartPolicy, Supervisor


def _sleeper(name: str, seconds: float):
    """A starter whose process lives `seconds`."""

    def start(stack: Stack) -> None:
        command = [sys.executable, "-c", f"import time; time.sleep({seconds})"]
        stack.processes[name] = spawn(name, command, stack.log_dir)

    return start


def _supervisor(tmp_path: Path, lifetimes: dict[str, float], policy: RestartPolicy) -> tuple[Supervisor, io.StringIO]:
    stack = Stack(ports=Ports(), data_dir=None, log_dir=tmp_path)
    out = io.StringIO()
    starters = {name: _sleeper(name, lifetimes.get(name, 60)) for name in ORDER}
    return Supervisor(stack, tmp_path / "run.json", policy, out, starters, bootstrap=lambda s: None), out


def test_a_process_that_dies_is_started_again_and_its_dependent_follows(tmp_path):
    supervisor, out = _supervisor(tmp_path, {}, RestartPolicy(first_backoff_s=0.05))
    assert supervisor.start()
    try:
        pids = supervisor.stack.pids()
        supervisor.stack.processes["moto"].kill()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and supervisor.stack.pids()["pump"] == pids["pump"]:
            supervisor.check()
            time.sleep(0.05)
        now = supervisor.stack.pids()
        assert now["moto"] != pids["moto"] and now["pump"] != pids["pump"]  # the pump follows moto
        assert now["api"] == pids["api"] and now["dynamodb"] == pids["dynamodb"]
        assert all(p.poll() is None for p in supervisor.stack.processes.values())
        assert "moto exited with -9; restart 1" in out.getvalue()
    finally:
        supervisor.stop()
    assert not supervisor.stack.processes and not (tmp_path / "run.json").exists()


def test_a_process_that_cannot_stay_up_stops_the_stack_with_an_error(tmp_path):
    supervisor, out = _supervisor(tmp_path, {"bankid": 0}, RestartPolicy(first_backoff_s=0.01, max_restarts=3))
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(supervisor.run()))
    thread.start()
    thread.join(timeout=30)
    assert result == [1]
    assert "giving up: bankid exited with 0 4 times within 60s" in out.getvalue()
    assert not supervisor.stack.processes


def test_stop_is_idempotent(tmp_path):
    supervisor, _ = _supervisor(tmp_path, {}, RestartPolicy())
    assert supervisor.start()
    processes = list(supervisor.stack.processes.values())
    supervisor.stop()
    supervisor.stop()
    assert all(p.poll() is not None for p in processes)
    assert all(isinstance(p, subprocess.Popen) for p in processes)
