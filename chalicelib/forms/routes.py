"""Local e-services' forms (R-50) and forms care sends (R-51)."""

from __future__ import annotations

from chalice.app import Blueprint

bp = Blueprint(__name__)
