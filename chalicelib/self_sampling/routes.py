"""Self-sampling (R-54): test kits and the lab's results."""

from __future__ import annotations

from chalice.app import Blueprint

bp = Blueprint(__name__)
