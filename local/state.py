"""Small JSON state files of the local stack (pump checkpoints, schedule bookkeeping, `make run`'s PIDs).

Written atomically (a temporary file in the same directory, then `os.replace`), so a process killed
with SIGKILL leaves either the old or the new content, never half a file. Not fsynced: the files must
survive a killed process, not a power cut.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def read_json(path: Path | None) -> dict[str, Any]:
    """The file's object, or {} when there is none (or it is not a JSON object)."""
    if path is None:
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_json(path: Path | None, value: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(value, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
