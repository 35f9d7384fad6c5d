"""The health declaration's PDF, made after submission (R-46)."""

from __future__ import annotations

from chalice.app import Blueprint

bp = Blueprint(__name__)
