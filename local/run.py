"""`make run`: the whole backend on loopback. Ctrl-C stops everything it started."""

from __future__ import annotations

import signal
import sys
import time

from local.services import LOCAL_DIR, Stack, ports_from_env, start_all


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack the same way as Ctrl-C


def main() -> None:
    ports = ports_from_env()
    stack = Stack(ports=ports, data_dir=LOCAL_DIR / "dynamodb", log_dir=LOCAL_DIR / "logs")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        start_all(stack)
        print(
            "\nLocal stack is up:\n"
            f"  API                http://127.0.0.1:{ports.api}   (GET /openapi.json)\n"
            f"  BankID simulator   http://127.0.0.1:{ports.bankid}/rp/v6.0/\n"
            f"  DynamoDB Local     http://127.0.0.1:{ports.dynamodb}   (data in .local/dynamodb)\n"
            f"  moto server        http://127.0.0.1:{ports.moto}   (SQS, SNS, SES, S3, EventBridge)\n"
            "  event pump         running (logs in .local/logs/pump.log)\n"
            "Logs: .local/logs/*.log   Dev CLI: .venv/bin/python -m local --help   Stop: Ctrl-C\n",
            flush=True,
        )
        while True:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping", file=sys.stderr)
                    raise KeyboardInterrupt
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
