"""The patient board's work on complaints sent to it without a clinic (R-27)."""

from __future__ import annotations

from chalice.app import Blueprint

bp = Blueprint(__name__)
