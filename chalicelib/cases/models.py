"""Domain types of cases (plain types; the wire models are in `schemas.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StaffMessageKind = Literal["answer", "partial-answer", "counter-question"]


@dataclass(frozen=True)
class Created:
    id: str
    created: bool  # False: an idempotent retry found the first result
