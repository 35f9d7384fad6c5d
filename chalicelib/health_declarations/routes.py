"""The health declaration (R-46): the national form, submitting, validity; the clinic's PDF."""

from __future__ import annotations

from chalice.app import Blueprint

bp = Blueprint(__name__)
