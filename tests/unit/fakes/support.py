"""The support desk's inbox port, in memory: the messages committed, per citizen."""

from __future__ import annotations

from datetime import datetime

from chalicelib.core.unit_of_work import UnitOfWork
from chalicelib.support.messages import Message
from chalicelib.support.service import SupportStores
from tests.unit.fakes.accounts import in_memory
from tests.unit.fakes.unit_of_work import staged


class InMemoryOutbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    def add_message(self, uow: UnitOfWork, citizen_id: str, message: Message, *, at: datetime) -> None:
        staged(uow).stage(lambda: self.sent.append((citizen_id, message)))


def support_stores() -> SupportStores:
    return in_memory(SupportStores, inbox=InMemoryOutbox())
