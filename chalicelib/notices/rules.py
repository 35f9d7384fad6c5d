"""The notice rules, pure (no I/O): when a notice is released (R-41), whether the booking system prints
paper (R-41a, R-42, R-43), when an unread notice is reported back, and how booking events are ordered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from chalicelib.core.clock import stockholm

RELEASE_AT = time(18, 0)  # Stockholm wall-clock time
# Inera's plan for digital notices: suggest paper when the message stays unread. Reported 7 days after
# release, or 3 days before the visit, whichever comes first, so the clinic can still send paper or call.
UNREAD_AFTER = timedelta(days=7)
UNREAD_BEFORE_VISIT = timedelta(days=3)

PaperReason = Literal["deceased", "no-account", "account-locked", "digital-only-off", "enclosures"]


def release_at(booked_at: datetime) -> datetime:
    """18:00 Stockholm time on the Stockholm date the booking was made, or at once when it was made at or
    after 18:00 (R-41). 18:00 is never inside a daylight-saving gap or fold, so the wall time exists once."""
    local = booked_at.astimezone(stockholm())
    evening = datetime.combine(local.date(), RELEASE_AT, tzinfo=stockholm())
    return max(evening, local).astimezone(UTC)


@dataclass(frozen=True)
class PaperDecision:
    paper: bool  # the booking system prints and posts a paper notice
    reason: PaperReason | None
    digital: bool  # a copy goes to the citizen's inbox at release


def paper_decision(
    *, deceased: bool, has_account: bool, locked: bool, digital_only: bool, enclosures: bool
) -> PaperDecision:
    """R-41a: taken once per booking, from the citizen's settings when the booking system sends it. A
    citizen who cannot receive the digital notice (deceased, no activated account) gets paper only; a
    locked account still receives it in the inbox (R-06), but paper is what reaches them. Enclosures
    (referrals, preparation material) are printed by hand in the booking system (R-43)."""
    if deceased:
        return PaperDecision(True, "deceased", digital=False)
    if not has_account:
        return PaperDecision(True, "no-account", digital=False)
    if locked:
        return PaperDecision(True, "account-locked", digital=True)
    if not digital_only:
        return PaperDecision(True, "digital-only-off", digital=True)
    if enclosures:
        return PaperDecision(True, "enclosures", digital=True)
    return PaperDecision(False, None, digital=True)


def unread_report_at(released_at: datetime, starts_at: datetime) -> datetime:
    """When a still unread notice is reported to the booking system: 7 days after release or 3 days
    before the visit, whichever comes first, and never before the release itself."""
    return max(released_at, min(released_at + UNREAD_AFTER, starts_at - UNREAD_BEFORE_VISIT))


def version(booked_at: datetime, sequence: int) -> str:
    """The order of one booking's events: the booking system's `bookedAt`, then its `sequence`. Fixed
    width, so versions compare as strings (in DynamoDB conditions as well)."""
    return f"{booked_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{sequence:015d}"
