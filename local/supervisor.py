"""`make run`'s supervisor: starts the stack, restarts a process that died, stops everything once.

- A process that exits is started again after a backoff (doubling from `RestartPolicy.first_backoff_s`
  up to `max_backoff_s`). More than `max_restarts` restarts of one process within `window_s` means it
  cannot stay up: the supervisor says so, stops the stack and exits non-zero.
- After DynamoDB Local or moto restarted, the bootstrap creates what is missing again (tables, queues
  with the same names, the bucket, the SES identity, seed data) and the pump is restarted too: it holds
  stream and queue handles, and resumes from its checkpoints.
- Stopping is idempotent and cannot be interrupted: the first SIGTERM/SIGINT starts it and every later
  one is ignored until every child has stopped (GNU make passes a SIGTERM on to its child, so a
  supervisor signalling the process group delivers two).
- The PIDs are kept in `<run dir>/run.json` (supervisor and children) while the stack runs.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from local import services
from local.services import Stack, StartCancelled
from local.state import write_json

ORDER = ("dynamodb", "moto", "bankid", "freja", "booking", "api", "pump")
# Restarting these loses their handles elsewhere: the pump follows them.
DEPENDENTS = {"dynamodb": ("pump",), "moto": ("pump",)}


@dataclass(frozen=True)
class RestartPolicy:
    first_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    window_s: float = 60.0
    max_restarts: int = 5


@dataclass
class Supervisor:
    stack: Stack
    run_file: Path | None = None
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    starters: dict[str, Callable[[Stack], None]] = field(default_factory=lambda: dict(services.STARTERS))
    bootstrap: Callable[[Stack], None] = services.bootstrap_resources
    restarts: dict[str, deque[float]] = field(default_factory=dict)
    pending: dict[str, float] = field(default_factory=dict)  # name → when to start it again (monotonic)
    failed: str | None = None
    handles_signals: bool = False
    signalled: str | None = None  # the signal that started the shutdown

    # ------------------------------------------------------------------ signals

    def install_signal_handlers(self) -> None:
        self.handles_signals = True
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        # From now on nothing interrupts the shutdown: later signals are ignored, not queued. (No
        # printing here: the handler may run in the middle of a print to the same stream.)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.signalled = self.signalled or signal.Signals(signum).name
        self.stack.stop_requested.set()

    @property
    def stopping(self) -> bool:
        return self.stack.stop_requested.is_set()

    # ------------------------------------------------------------------ lifecycle

    def say(self, line: str) -> None:
        print(f"supervisor: {line}", file=self.out, flush=True)

    def record_pids(self) -> None:
        write_json(
            self.run_file,
            {"supervisor": os.getpid(), "children": self.stack.pids(), "ports": vars(self.stack.ports)},
        )

    def start(self) -> bool:
        """Starts every process in order; False if stopping was asked for meanwhile."""
        try:
            for name in ORDER:
                if self.stopping:
                    return False
                self.starters[name](self.stack)
                if name == "bankid":  # DynamoDB Local and moto are up: tables, queues, seed data
                    self.bootstrap(self.stack)
                self.record_pids()
        except StartCancelled:
            return False
        return not self.stopping

    def run(self) -> int:
        """Supervises until a signal (0) or a process that cannot stay up (1); always stops everything."""
        try:
            if self.start():
                self.on_started()
                while not self.stopping:
                    self.check()
                    time.sleep(0.2)
        except Exception as error:
            if not self.stopping:
                self.say(f"failed: {error}")
                self.failed = str(error)
        finally:
            self.stop()
        return 1 if self.failed else 0

    def on_started(self) -> None:
        ports = self.stack.ports
        print(
            "\nLocal stack is up:\n"
            f"  API                http://127.0.0.1:{ports.api}   (GET /openapi.json)\n"
            f"  BankID simulator   http://127.0.0.1:{ports.bankid}/rp/v6.0/\n"
            f"  Freja simulator    http://127.0.0.1:{ports.freja}/authentication/1.0/   (control: /sim/...)\n"
            f"  Booking simulator  http://127.0.0.1:{ports.booking}/pasis/ and /pmo/   (control: /sim/...)\n"
            f"  DynamoDB Local     http://127.0.0.1:{ports.dynamodb}   (data in {self.stack.data_dir or 'memory'})\n"
            f"  moto server        http://127.0.0.1:{ports.moto}   (SQS, SNS, SES, S3, EventBridge)\n"
            f"  event pump         running (checkpoints in {self.stack.state_dir})\n"
            f"Logs: {self.stack.log_dir}/*.log   Dev CLI: .venv/bin/python -m local --help   Stop: Ctrl-C\n",
            file=self.out,
            flush=True,
        )

    def stop(self) -> None:
        """Idempotent; runs with SIGTERM/SIGINT ignored so that nothing cuts it short."""
        if self.handles_signals:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.stack.stop_requested.set()
        if self.stack.processes:
            if self.signalled:
                self.say(f"{self.signalled}: stopping")
            self.stack.stop()
            self.say("stopped")
        if self.run_file is not None:
            self.run_file.unlink(missing_ok=True)

    # ------------------------------------------------------------------ restarts

    def check(self) -> None:
        """Notices processes that died and starts them again when their backoff is over."""
        now = time.monotonic()
        for name, process in list(self.stack.processes.items()):
            if name not in self.pending and process.poll() is not None:
                self.schedule(name, f"exited with {process.returncode}")
        for name, due in sorted(self.pending.items(), key=lambda item: ORDER.index(item[0])):
            if self.stopping or self.failed:
                return
            if now >= due:
                self.restart(name)

    def schedule(self, name: str, why: str, *, counts: bool = True) -> None:
        now = time.monotonic()
        if not counts:  # restarted because another process was: not a failure of its own
            self.pending[name] = now
            self.say(f"{name} {why}; restart now")
            return
        recent = self.restarts.setdefault(name, deque())
        while recent and now - recent[0] > self.policy.window_s:
            recent.popleft()
        if len(recent) >= self.policy.max_restarts:
            self.failed = f"{name} {why} {len(recent) + 1} times within {self.policy.window_s:.0f}s"
            self.say(f"giving up: {self.failed}; stopping the stack")
            self.stack.stop_requested.set()
            return
        recent.append(now)
        backoff = min(self.policy.max_backoff_s, self.policy.first_backoff_s * 2 ** (len(recent) - 1))
        self.pending[name] = now + backoff
        self.say(f"{name} {why}; restart {len(recent)} in {backoff:.1f}s")

    def restart(self, name: str) -> None:
        del self.pending[name]
        old = self.stack.processes.pop(name, None)
        if old is not None:
            services.stop_process(old, timeout_s=5)  # reap it (and anything left in its group)
        try:
            self.starters[name](self.stack)
            if name in DEPENDENTS:
                self.bootstrap(self.stack)
        except StartCancelled:
            return
        except Exception as error:
            self.schedule(name, f"did not start ({type(error).__name__}: {error})")
            return
        self.record_pids()
        self.say(f"{name} restarted (pid {self.stack.processes[name].pid})")
        for dependent in DEPENDENTS.get(name, ()):
            process = self.stack.processes.get(dependent)
            if process is not None and dependent not in self.pending:
                services.stop_process(process, timeout_s=5)
                self.schedule(dependent, f"follows {name}", counts=False)
