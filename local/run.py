"""`make run`: the whole backend on loopback, supervised (local/supervisor.py): a process that dies is
started again; Ctrl-C or SIGTERM stops everything it started, once, whatever else arrives meanwhile.

Ports: API_PORT, BANKID_PORT, BOOKING_PORT, FREJA_PORT, DYNAMODB_PORT, MOTO_PORT. LOCAL_RUN_DIR (default
`.local`) holds DynamoDB Local's data (`dynamodb/`), the logs (`logs/`), the pump's checkpoints (`pump/`)
and the PIDs while it runs (`run.json`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from local.services import LOCAL_DIR, Stack, ports_from_env
from local.supervisor import Supervisor


def main() -> None:
    run_dir = Path(os.environ.get("LOCAL_RUN_DIR") or LOCAL_DIR).resolve()
    stack = Stack(
        ports=ports_from_env(),
        data_dir=run_dir / "dynamodb",
        log_dir=run_dir / "logs",
        state_dir=run_dir / "pump",
    )
    supervisor = Supervisor(stack, run_file=run_dir / "run.json")
    supervisor.install_signal_handlers()
    sys.exit(supervisor.run())


if __name__ == "__main__":
    main()
