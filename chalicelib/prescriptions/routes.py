"""Medicines and prescribed supplies: the medication list, renewals, supply orders (R-52, R-53, R-35)."""

from __future__ import annotations

from chalice.app import Blueprint

bp = Blueprint(__name__)
