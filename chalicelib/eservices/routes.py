"""Which e-services a person may open now (R-35, R-55, R-09)."""

from __future__ import annotations

from chalice.app import Blueprint

bp = Blueprint(__name__)
