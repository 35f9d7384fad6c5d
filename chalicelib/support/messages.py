"""What the support desk tells the citizen in their inbox (R-08), and the port it writes through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.core.unit_of_work import UnitOfWork

SENDER = "1177 e-tjänster"


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    sender: str = SENDER


UNLOCKED = Message(
    subject="Din inloggning är upplåst",
    body="Din inloggning till 1177 e-tjänster är upplåst. Allt i din inkorg finns kvar.",
)


def decision_no(region: str) -> Message:
    return Message(
        subject="Beslut om din låsta inloggning",
        body=(
            "Du har begärt att inloggningen till 1177 e-tjänster ska låsas upp. Ansvarig "
            "verksamhetschef har beslutat att inloggningen fortsätter att vara låst. "
            f"Kontakta {region} om du har frågor."
        ),
    )


class Outbox(Protocol):
    def add_message(self, uow: UnitOfWork, citizen_id: str, message: Message, *, at: datetime) -> None:
        """A self-contained inbox message (no case) that commits with the change it tells of."""


class InboxOutbox:
    """Into the citizen's inbox, through the inbox's write side (`arrivals`): a new arrival, notified."""

    def add_message(self, uow: UnitOfWork, citizen_id: str, message: Message, *, at: datetime) -> None:
        from chalicelib.arrivals import service as arrivals

        arrivals.new_message(uow, citizen_id, subject=message.subject, body=message.body, sender=message.sender, at=at)
