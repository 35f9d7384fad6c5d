"""The 30-day notice before the 13th birthday (issue 10): what the child and the guardians read."""

from __future__ import annotations

import uuid
from datetime import date

SENDER = "1177 e-tjänster"
_IDS = uuid.UUID("0f3c7d52-33a4-4f57-9b0e-6a7f5c1d2e13")


def item_id(child_citizen_id: str, recipient_citizen_id: str) -> str:
    """One notice per child and recipient, whatever runs again."""
    return str(uuid.uuid5(_IDS, f"thirteen-notice:{child_citizen_id}:{recipient_citizen_id}"))


def _day(birthday: date) -> str:
    return f"{birthday.day}/{birthday.month} {birthday.year}"


def to_child(birthday: date) -> tuple[str, str]:
    return (
        "Snart 13 år: så ändras e-tjänsterna för dig",
        f"Den {_day(birthday)} fyller du 13 år. Från den dagen kan dina vårdnadshavare inte längre använda "
        "e-tjänsterna åt dig, och aviseringsinställningarna för ditt konto tas bort. Du loggar då in med "
        "din egen e-legitimation och fyller i nya kontaktuppgifter. Det som har gjorts i e-tjänsterna för "
        "dig finns kvar i din inkorg.",
    )


def to_guardian(birthday: date, child_name: str) -> tuple[str, str]:
    return (
        f"{child_name} fyller snart 13 år",
        f"Den {_day(birthday)} fyller {child_name} 13 år. Från den dagen kan du inte längre använda "
        f"e-tjänsterna för {child_name}s räkning, och de kontaktuppgifter du har angett för barnet tas "
        f"bort. Det du har gjort i e-tjänsterna för {child_name} finns kvar för barnet att se.",
    )
