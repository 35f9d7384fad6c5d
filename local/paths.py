"""Where the local stack keeps things, and its fixed names (a leaf module: everything in local/ may
import it, it imports nothing of local/)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = ROOT / ".local"
NPM_PREFIX = LOCAL_DIR / "npm"
HOST = "127.0.0.1"
REGION = "eu-north-1"
